"""The page's own events keep the app's limits, called as an attacker would: through the queue, by index.

The page's drawing events (pen_canvas.py's change and input) are private, yet anyone can call them with
/gradio_api/queue/join, their index and any event data.
"""

import base64
import json
import uuid

import httpx
import pytest

import bad_inputs

TIMEOUT_S = 60


def config(app_url: str) -> dict:
    return httpx.get(f"{app_url}config", timeout=TIMEOUT_S).json()


PADS = ["sketchpad", "number_sketchpad"]  # the one-digit canvas and the number's


def pad_id(app_url: str, pad: str = "sketchpad") -> int:
    (component,) = [c for c in config(app_url)["components"] if c.get("props", {}).get("elem_id") == pad]
    return component["id"]


def page_drawing_event(app_url: str, pad: str = "sketchpad", event: str = "change") -> int:
    """The index of one of the page's own, private, drawing events."""
    target = pad_id(app_url, pad)
    (index,) = [d["id"] for d in config(app_url)["dependencies"] if [target, event] in d["targets"]]
    return index


def join(
    app_url: str,
    fn_index: int,
    event_data,
    session: str | None = None,
    data: list | None = None,
    headers: dict | None = None,
) -> dict:
    """Call an event through the queue by its index with this event data (and inputs, and HTTP headers); returns
    Gradio's final message."""
    session = session or uuid.uuid4().hex
    body = {"data": data or [], "fn_index": fn_index, "session_hash": session, "event_data": event_data}
    body["trigger_id"] = None
    httpx.post(f"{app_url}gradio_api/queue/join", json=body, headers=headers, timeout=TIMEOUT_S).raise_for_status()
    with httpx.stream(
        "GET", f"{app_url}gradio_api/queue/data", params={"session_hash": session}, headers=headers, timeout=TIMEOUT_S
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                message = json.loads(line.removeprefix("data: "))
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the queue closed without completing the event")


def drawing(content: bytes, number: int = 1) -> dict:
    return {"drawing": number, "png": "data:image/png;base64," + base64.b64encode(content).decode()}


NOT_A_DRAWING = "not a drawing from the page's canvas"
BAD_DRAWINGS = {
    "bomb": (lambda: drawing(bad_inputs.png_declaring(30_000, 30_000)), bad_inputs.SKETCH_TOO_LARGE),
    "5-megapixel canvas": (
        lambda: drawing(bad_inputs.encoded(bad_inputs.Image.new("RGBA", (2500, 2000)), "PNG")),
        bad_inputs.SKETCH_TOO_LARGE,
    ),
    "ICO as a PNG": (lambda: drawing(bad_inputs.encoded(bad_inputs.on_transparent(), "ICO")), bad_inputs.NOT_IMAGE),
    "PPM as a PNG": (lambda: drawing(bad_inputs.encoded(bad_inputs.on_paper(), "PPM")), bad_inputs.NOT_IMAGE),
    "3 MB of base64": (lambda: {"drawing": 1, "png": "data:image/png;base64," + "A" * 3_000_000}, NOT_A_DRAWING),
    "not base64": (lambda: {"drawing": 1, "png": "data:image/png;base64,%%%%"}, NOT_A_DRAWING),
    "a JPEG": (lambda: {"drawing": 1, "png": "data:image/jpeg;base64,AAAA"}, NOT_A_DRAWING),
    "no drawing number": (lambda: {"png": ""}, NOT_A_DRAWING),
    "a list": (lambda: [1, 2, 3], NOT_A_DRAWING),
    "nothing": (lambda: None, NOT_A_DRAWING),
}


@pytest.mark.parametrize("pad", PADS)
@pytest.mark.parametrize("case", BAD_DRAWINGS)
def test_the_page_drawing_event_keeps_the_limits(app_url, case, pad):
    make, expected = BAD_DRAWINGS[case]
    message = join(app_url, page_drawing_event(app_url, pad), make())
    assert not message["success"]
    assert expected in (message["output"].get("error") or ""), message


@pytest.mark.parametrize("pad", PADS)
@pytest.mark.parametrize("event", ["change", "input"])
def test_the_page_drawing_event_reads_a_good_canvas(app_url, pad, event):
    message = join(
        app_url,
        page_drawing_event(app_url, pad, event),
        drawing(bad_inputs.encoded(bad_inputs.on_transparent(), "PNG"), 4),
    )
    assert message["success"], message
    first = message["output"]["data"][0]  # the CNN's answer card, or a number's reading
    if pad == "sketchpad":
        assert f'data-answer="{bad_inputs.LABEL}"' in first and 'data-drawing="4"' in first
    else:
        assert first["cnn"] == bad_inputs.LABEL


def unchanged(output) -> bool:
    """An output left as it is: Gradio's bare update (gr.skip()), or nothing for a State."""
    bare = {"__type__": "update"}
    return output is None or (output.get("__type__") == "update" and output.get("props", bare) == bare)


def test_an_older_drawing_than_one_already_answered_changes_nothing(app_url):
    """A drawing overtaken by a newer one from the same page (its Clear, say) leaves the page as it is."""
    session, index = uuid.uuid4().hex, page_drawing_event(app_url)
    digit = bad_inputs.encoded(bad_inputs.on_transparent(), "PNG")
    assert 'data-drawing="5"' in join(app_url, index, drawing(digit, 5), session)["output"]["data"][0]
    cleared = join(app_url, index, {"drawing": 6, "png": ""}, session)["output"]["data"]
    assert 'data-answer=""' in cleared[0]
    stale = join(app_url, index, drawing(digit, 5), session)
    assert stale["success"] and all(map(unchanged, stale["output"]["data"])), stale
    assert 'data-drawing="5"' in join(app_url, index, drawing(digit, 5))["output"]["data"][0]  # another page: fresh


def test_a_correction_naming_a_file_it_was_not_sent_is_refused(app_url, feedback_dir):
    """/correct through the queue with a server path as its image: refused, and nothing kept."""
    (index,) = [d["id"] for d in config(app_url)["dependencies"] if d.get("api_name") == "correct"]
    kept = (feedback_dir / "metadata.jsonl").read_text() if (feedback_dir / "metadata.jsonl").exists() else ""
    image = {"path": "/etc/hostname", "orig_name": "hostname", "meta": {"_type": "gradio.FileData"}}
    try:
        message = join(app_url, index, None, data=[image, "7"])
    except httpx.HTTPStatusError:  # refused at the door
        pass
    else:
        assert not message["success"], message
    current = (feedback_dir / "metadata.jsonl").read_text() if (feedback_dir / "metadata.jsonl").exists() else ""
    assert current == kept
