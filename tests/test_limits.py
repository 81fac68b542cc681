"""The page's own events keep the app's limits, called as an attacker would: through the queue, by index.

The page's drawing events (pen_canvas.py's change, and input on the number's canvas) are private, yet anyone can call
them with /gradio_api/queue/join, their index and any event data; and anyone can post to the digit canvas's live route,
/api/pen/sketchpad.
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


def page_inputs(app_url: str, fn_index: int) -> list:
    """An event's inputs as the page sends them at first: each component's value, none for a State."""
    page = config(app_url)
    components = {component["id"]: component for component in page["components"]}
    (dependency,) = [d for d in page["dependencies"] if d["id"] == fn_index]
    inputs = [components[component] for component in dependency["inputs"]]
    return [None if component["type"] == "state" else component["props"].get("value") for component in inputs]


def join(
    app_url: str,
    fn_index: int,
    event_data,
    session: str | None = None,
    data: list | None = None,
    headers: dict | None = None,
) -> dict:
    """Call an event through the queue by its index with this event data (and inputs, else those the page sends, and
    HTTP headers); returns Gradio's final message."""
    session = session or uuid.uuid4().hex
    data = page_inputs(app_url, fn_index) if data is None else data
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": event_data}
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


def drawing(content: bytes, number: int = 1, page: str = "a-page") -> dict:
    return {"page": page, "drawing": number, "png": "data:image/png;base64," + base64.b64encode(content).decode()}


def live(app_url: str, data, pad: str = "sketchpad") -> dict:
    """The digit canvas's live route, as the page calls it while the pen moves and at pen-up."""
    response = httpx.post(f"{app_url}api/pen/{pad}", json=data, timeout=TIMEOUT_S)
    assert response.status_code == 200, response.text
    return response.json()


NOT_A_DRAWING = "not a drawing from the page's canvas"
BAD_DRAWINGS = {
    "bomb": (lambda: drawing(bad_inputs.png_declaring(30_000, 30_000)), bad_inputs.SKETCH_TOO_LARGE),
    "5-megapixel canvas": (
        lambda: drawing(bad_inputs.encoded(bad_inputs.Image.new("RGBA", (2500, 2000)), "PNG")),
        bad_inputs.SKETCH_TOO_LARGE,
    ),
    "ICO as a PNG": (lambda: drawing(bad_inputs.encoded(bad_inputs.on_transparent(), "ICO")), bad_inputs.NOT_IMAGE),
    "PPM as a PNG": (lambda: drawing(bad_inputs.encoded(bad_inputs.on_paper(), "PPM")), bad_inputs.NOT_IMAGE),
    "3 MB of base64": (
        lambda: {"page": "p", "drawing": 1, "png": "data:image/png;base64," + "A" * 3_000_000},
        NOT_A_DRAWING,
    ),
    "not base64": (lambda: {"page": "p", "drawing": 1, "png": "data:image/png;base64,%%%%"}, NOT_A_DRAWING),
    "a JPEG": (lambda: {"page": "p", "drawing": 1, "png": "data:image/jpeg;base64,AAAA"}, NOT_A_DRAWING),
    "no drawing number": (lambda: {"page": "p", "png": ""}, NOT_A_DRAWING),
    "no page": (lambda: {"drawing": 1, "png": ""}, NOT_A_DRAWING),
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


@pytest.mark.parametrize("case", BAD_DRAWINGS)
def test_the_live_route_keeps_the_limits(app_url, case):
    make, expected = BAD_DRAWINGS[case]
    response = httpx.post(f"{app_url}api/pen/sketchpad", json=make(), timeout=TIMEOUT_S)
    if case == "3 MB of base64":  # over the route's body limit: refused before it is read
        assert response.status_code == 413 and "over the limit" in response.json()["error"]
    else:
        assert response.status_code == 200 and expected in response.json()["error"], response.text
    assert httpx.post(f"{app_url}api/pen/no_such_canvas", json={}, timeout=TIMEOUT_S).status_code == 404


@pytest.mark.parametrize(("pad", "event"), [("sketchpad", "change"), *((PADS[1], e) for e in ("change", "input"))])
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
    page, index = uuid.uuid4().hex, page_drawing_event(app_url)
    digit = bad_inputs.encoded(bad_inputs.on_transparent(), "PNG")
    assert 'data-drawing="5"' in join(app_url, index, drawing(digit, 5, page))["output"]["data"][0]
    cleared = join(app_url, index, {"page": page, "drawing": 6, "png": ""})["output"]["data"]
    assert 'data-answer=""' in cleared[0]
    stale = join(app_url, index, drawing(digit, 5, page))
    assert stale["success"] and all(map(unchanged, stale["output"]["data"])), stale
    fresh = join(app_url, index, drawing(digit, 5, uuid.uuid4().hex))  # another page
    assert 'data-drawing="5"' in fresh["output"]["data"][0]


def test_the_live_answers_and_the_queued_ones_share_one_order(app_url):
    """While the pen moves the page asks the live route, at pen-up both it and the queue, with one count: no answer
    for an older drawing is ever given, whichever way either came."""
    page, index = uuid.uuid4().hex, page_drawing_event(app_url)
    digit = bad_inputs.encoded(bad_inputs.on_transparent(), "PNG")
    answer = live(app_url, drawing(digit, 3, page))
    assert answer["drawing"] == 3 and f'data-answer="{bad_inputs.LABEL}"' in answer["outputs"]["cnn"]
    assert 'data-drawing="3"' in answer["outputs"]["linear"] and "28x28" in answer["outputs"]["preview"]
    assert 'data-drawing="4"' in join(app_url, index, drawing(digit, 4, page))["output"]["data"][0]  # pen-up
    assert live(app_url, drawing(digit, 4, page))["outputs"]  # the pen-up drawing's own live answer
    assert live(app_url, drawing(digit, 3, page)) == {"drawing": 3, "stale": True}  # a late live drawing
    assert live(app_url, {"page": page, "drawing": 5, "png": ""}) == {"drawing": 5, "empty": True}  # Clear
    stale = join(app_url, index, drawing(digit, 4, page))
    assert stale["success"] and all(map(unchanged, stale["output"]["data"])), stale


@pytest.mark.parametrize(("pad", "event"), [("sketchpad", "change"), *((PADS[1], e) for e in ("change", "input"))])
def test_a_canvas_hears_when_its_drawing_is_answered_and_when_it_fails(app_url, pad, event):
    """The signal a canvas waits for before it sends its next drawing (pen_canvas.in_order) follows each of its
    events after an answer and after an error, so that it never waits for nothing; Gradio sends each as it comes."""
    index = page_drawing_event(app_url, pad, event)
    (dependency,) = [d for d in config(app_url)["dependencies"] if d["id"] == index]
    assert dependency["trigger_mode"] == "multiple"
    chained = [d for d in config(app_url)["dependencies"] if d.get("trigger_after") == index]
    signals = [d for d in chained if "pen-settled" in (d.get("js") or "") and json.dumps(pad) in d["js"]]
    assert sorted(bool(d.get("trigger_only_on_failure")) for d in signals) == [False, True], chained


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
