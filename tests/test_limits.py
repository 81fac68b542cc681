"""The page's own events keep the app's limits, called as an attacker would: through the queue, by index.

The page's sketch event is private, yet anyone can call it with /gradio_api/queue/join and its index, with
uploaded files as its layers, or with a canvas sent ahead through the editor's accept_blobs as the page does.
"""

import json
import uuid

import httpx
import pytest

import bad_inputs

TIMEOUT_S = 60


def config(app_url: str) -> dict:
    return httpx.get(f"{app_url}config", timeout=TIMEOUT_S).json()


PADS = ["sketchpad", "number_sketchpad"]  # the one-digit canvas and the number's


def sketchpad_id(app_url: str, pad: str = "sketchpad") -> int:
    (component,) = [c for c in config(app_url)["components"] if c.get("props", {}).get("elem_id") == pad]
    return component["id"]


def page_sketch_event(app_url: str, pad: str = "sketchpad") -> int:
    """The index of the page's own, private, sketch event: the sketchpad's change."""
    sketch = sketchpad_id(app_url, pad)
    (index,) = [d["id"] for d in config(app_url)["dependencies"] if [sketch, "change"] in d["targets"]]
    return index


def join(app_url: str, fn_index: int, value) -> dict:
    """Call an event through the queue by its index; returns Gradio's final message."""
    session = uuid.uuid4().hex
    body = {"data": [value], "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None}
    httpx.post(f"{app_url}gradio_api/queue/join", json=body, timeout=TIMEOUT_S).raise_for_status()
    with httpx.stream(
        "GET", f"{app_url}gradio_api/queue/data", params={"session_hash": session}, timeout=TIMEOUT_S
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                message = json.loads(line.removeprefix("data: "))
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the queue closed without completing the event")


def upload(app_url: str, content: bytes, name: str = "layer.png") -> dict:
    response = httpx.post(f"{app_url}gradio_api/upload", files={"files": (name, content)}, timeout=TIMEOUT_S)
    response.raise_for_status()
    return {"path": response.json()[0], "orig_name": name, "meta": {"_type": "gradio.FileData"}}


def send_ahead(app_url: str, content: bytes, pad: str = "sketchpad") -> str:
    """Send a canvas layer as the page does before its event (ImageEditor.accept_blobs); returns the canvas id."""
    canvas = uuid.uuid4().hex[:11]
    form = {
        "component_id": str(sketchpad_id(app_url, pad)),
        "session_hash": uuid.uuid4().hex,
        "fn_name": "accept_blobs",
        "id": canvas,
        "type": "layer",
        "index": "0",
    }
    response = httpx.post(
        f"{app_url}gradio_api/component_server", data=form, files={"file": ("layer_0.png", content)}, timeout=60
    )
    response.raise_for_status()
    return canvas


BAD_LAYERS = {
    "bomb": (lambda: bad_inputs.png_declaring(30_000, 30_000), bad_inputs.SKETCH_TOO_LARGE),
    "5-megapixel layer": (
        lambda: bad_inputs.encoded(bad_inputs.Image.new("RGBA", (2500, 2000)), "PNG"),
        bad_inputs.SKETCH_TOO_LARGE,
    ),
    "ICO layer": (lambda: bad_inputs.encoded(bad_inputs.on_transparent(), "ICO"), bad_inputs.NOT_IMAGE),
    "PPM layer": (lambda: bad_inputs.encoded(bad_inputs.on_paper(), "PPM"), bad_inputs.NOT_IMAGE),
}


@pytest.mark.parametrize("pad", PADS)
@pytest.mark.parametrize("case", BAD_LAYERS)
@pytest.mark.parametrize("route", ["uploaded file", "sent ahead"])
def test_the_page_sketch_event_keeps_the_limits(app_url, case, route, pad):
    make, expected = BAD_LAYERS[case]
    if route == "uploaded file":
        value = {"background": None, "layers": [upload(app_url, make())], "composite": None}
    else:
        value = {"background": None, "layers": [], "composite": None, "id": send_ahead(app_url, make(), pad)}
    message = join(app_url, page_sketch_event(app_url, pad), value)
    assert not message["success"]
    assert expected in (message["output"].get("error") or ""), message


@pytest.mark.parametrize("pad", PADS)
@pytest.mark.parametrize("route", ["uploaded file", "sent ahead"])
def test_the_page_sketch_event_still_reads_a_good_canvas(app_url, route, pad):
    layer = bad_inputs.encoded(bad_inputs.on_transparent(), "PNG")
    if route == "uploaded file":
        value = {"background": None, "layers": [upload(app_url, layer)], "composite": None}
    else:
        value = {"background": None, "layers": [], "composite": None, "id": send_ahead(app_url, layer, pad)}
    message = join(app_url, page_sketch_event(app_url, pad), value)
    assert message["success"], message
    first = message["output"]["data"][0]  # the CNN's answer card, or a number's reading
    if pad == "sketchpad":
        assert f'data-answer="{bad_inputs.LABEL}"' in first
    else:
        assert first["cnn"] == bad_inputs.LABEL
