"""The page's drawing canvas: a plain HTML canvas with a brush, an eraser, Undo and Clear, that sends each drawing as
a small PNG in its event's data.

Gradio's Sketchpad answers 0.6-0.9 s after the pen lifts: it renders through WebGL, encodes its background, layer
and composite as three PNGs, uploads each, and only then sends its event. This canvas sends one PNG of the strokes
(a few kB) in the event itself at pen-up, Undo and Clear (the `change` event). While the pen moves it sends the
drawing every LIVE_MS, so that the answers follow the pen: to the section's `live` function through its own route
(json_api.py's /api/pen/{elem_id}, outside Gradio's queue and middleware), when the section gives one, else as the
`input` event. A drawing is sent only once the previous one is answered, so a busy server gets fewer drawings, never
a backlog: a live one's answer is shown only if no newer drawing was sent meanwhile, by the output components that
follow the canvas (`follows`); the events' drawings leave one at a time, the newest waiting (in_order). The pen-up
drawing goes to `live` too, with the same number: its cards usually arrive before the event's, which then settles
the verdict.

Each drawing carries its page's id and its number; an answer for a drawing older than the newest one seen from that
page is dropped (Drawings) and, with the events one at a time, lands in the order drawn, so Clear, Undo or a new
stroke is never overtaken by an earlier answer.

    live = events.live_answers(outputs_of, "sketchpad")  # outputs_of(number, sketch) -> {key: HTML}
    pad = pen_canvas.canvas(400, 400, "sketchpad", "Clear", live=live)
    card = gr.HTML(..., **pen_canvas.follows("sketchpad", "card"))  # shows outputs_of's "card" while the pen moves
    pen_canvas.in_order(pad.change(function, None, outputs, trigger_mode="multiple"), pad)   # and so for input
    with pen_canvas.drawing(evt, pad) as (number, sketch):   # {"layers": [png bytes]}, as uploads.sketch_files reads
        ...
"""

import base64
import binascii
import collections
import contextlib
import json
import threading
from collections.abc import Iterator

import gradio as gr

from digit_studio import words
from digit_studio.core import preprocess

BRUSH_PX = 18  # as thick as MNIST's strokes on a 400 px canvas
ERASER_PX = 36
LIVE_MS = 120  # while the pen moves, at most one drawing per this many ms
SETTLE_MS = 5000  # a drawing for the server's events waits at most this long for the answer to the one before
# A drawn canvas's PNG is a few kB; 800x400 px of noise is under 1.3 MB. Anything longer is not from the page.
MAX_PNG_CHARS = 2_000_000
PNG_PREFIX = "data:image/png;base64,"
MAX_PAGE_ID_CHARS = 64  # the page's id is a UUID
NOT_A_DRAWING = "That is not a drawing from the page's canvas; draw on it, or send a picture to /classify_sketch."

TEMPLATE = """
<div class="pen-canvas">
  <div class="pen-tools" role="toolbar" aria-label="${say[window.studio_language || "en"].drawing_tools}">
    <button type="button" data-tool="brush" aria-pressed="true">${say[window.studio_language || "en"].brush}</button>
    <button type="button" data-tool="eraser" aria-pressed="false">${say[window.studio_language || "en"].eraser}</button>
    <button type="button" data-action="undo">${say[window.studio_language || "en"].undo}</button>
    <button type="button" data-action="clear">${say[window.studio_language || "en"].clear}</button>
  </div>
  <canvas width="${width}" height="${height}" role="img" aria-label="${say[window.studio_language || "en"].label}">
  </canvas>
</div>
"""

CSS = """
.pen-canvas { display: flex; flex-direction: column; gap: 6px; }
.pen-tools { display: flex; gap: 6px; flex-wrap: wrap; }
.pen-tools button {
  padding: 4px 12px; border: 1px solid #bbb; border-radius: 6px; background: #f6f6f6; cursor: pointer;
}
.pen-tools button[aria-pressed="true"] { background: #222; color: #fff; border-color: #222; }
.pen-canvas canvas {
  width: min(100%, ${width}px, calc(var(--canvas-height, 46vh) * ${width} / ${height}));
  aspect-ratio: ${width} / ${height};
  background: #fff; border: 1px solid #999; border-radius: 6px; touch-action: none; cursor: crosshair;
}
"""

# Strokes are kept as points, so that Undo redraws all but the last; the canvas is sent as it is drawn (black ink on
# a transparent canvas: its alpha is the ink, as in a Sketchpad layer).
JS = """
const canvas = element.querySelector("canvas");
const context = canvas.getContext("2d");
const strokes = [];
const page = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + String(Date.now());
// The canvas's live route (json_api.py), beside the page: outside Gradio's queue and its middleware
const root = (window.gradio_config && window.gradio_config.root) || "";
const base = root ? (root.endsWith("/") ? root : root + "/") : document.baseURI;
const live = props.live_url ? (sent) => fetch(new URL(props.live_url, base), {
  method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(sent),
}).then((response) => response.json()) : null;
let current = null, tool = "brush", drawings = 0, lastSent = 0, timer = null, liveBusy = false, liveWanted = false;
let posting = false, waiting = null, postTimer = null;

const paint = (stroke) => {
  context.globalCompositeOperation = stroke.erase ? "destination-out" : "source-over";
  context.lineWidth = stroke.erase ? props.eraser_px : props.brush_px;
  context.lineCap = context.lineJoin = "round";
  context.strokeStyle = "#000";
  context.beginPath();
  const [x0, y0] = stroke.points[0];
  context.moveTo(x0, y0);
  context.lineTo(x0 + 0.01, y0);  // a dot, for a tap
  for (const [x, y] of stroke.points.slice(1)) context.lineTo(x, y);
  context.stroke();
};
const redraw = () => {
  context.clearRect(0, 0, canvas.width, canvas.height);
  strokes.forEach(paint);
};
const drawing = () => {
  clearTimeout(timer);
  timer = null;
  liveWanted = false;
  lastSent = performance.now();
  drawings += 1;
  element.dataset.sent = drawings;
  const inked = strokes.some((stroke) => !stroke.erase);
  return {page, drawing: drawings, png: inked ? canvas.toDataURL("image/png") : "", lang: window.studio_language};
};
// A live answer is shown only while it answers the newest drawing sent.
const ask = (sent) => live(sent).then((answer) => {
  if (answer && answer.outputs && answer.drawing === drawings) {
    document.dispatchEvent(new CustomEvent("pen-live", {detail: {pad: props.pad_id, outputs: answer.outputs}}));
  }
}).catch(() => {});
// The canvas's server events (change; input on a canvas without a live function) leave one at a time: the next once
// the page has shown the answer to the one before (pen-settled, from the events in_order chains to them), so that the
// answers land in the order the drawings were made; a drawing made meanwhile replaces the one waiting, so that a busy
// server gets the newest, never a backlog. Were no answer to come, the canvas goes on after SETTLE_MS.
const settled = () => {
  clearTimeout(postTimer);
  posting = false;
  const next = waiting;
  waiting = null;
  if (next) post(next.event, next.sent);
};
const post = (event, sent) => {
  if (posting) { waiting = {event, sent}; return; }
  posting = true;
  postTimer = setTimeout(settled, props.settle_ms);
  trigger(event, sent);
};
document.addEventListener("pen-settled", (event) => { if (event.detail === props.pad_id && posting) settled(); });
// The drawing goes to the server's event (at pen-up: the verdict, "Why they differ", a correction's subject) and, on a
// canvas with a live function, at once to it as well, whose answer usually shows first.
const send = (event) => {
  const sent = drawing();
  if (live && sent.png) ask({...sent, settled: true});
  post(event, sent);
};
// While the pen moves: the next live drawing leaves once the previous one is answered.
const sendLive = () => {
  if (!live) return send("input");
  if (liveBusy) { liveWanted = true; clearTimeout(timer); timer = null; return; }
  liveBusy = true;
  ask(drawing()).finally(() => {
    liveBusy = false;
    if (liveWanted && current) schedule();
  });
};
const schedule = () => {
  const wait = Math.max(0, props.live_ms - (performance.now() - lastSent));
  if (timer === null) timer = setTimeout(sendLive, wait);
};
const at = (event) => {
  const box = canvas.getBoundingClientRect();
  const x = (event.clientX - box.left) * canvas.width / box.width;
  return [x, (event.clientY - box.top) * canvas.height / box.height];
};

canvas.addEventListener("pointerdown", (event) => {
  if (event.button > 0) return;
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  current = {erase: tool === "eraser", points: [at(event)]};
  element.dataset.pen = "down";
  strokes.push(current);
  paint(current);
});
canvas.addEventListener("pointermove", (event) => {
  if (!current) return;
  const points = current.points;
  const [x0, y0] = points[points.length - 1];
  const [x, y] = at(event);
  points.push([x, y]);
  context.globalCompositeOperation = current.erase ? "destination-out" : "source-over";
  context.lineWidth = current.erase ? props.eraser_px : props.brush_px;
  context.beginPath();
  context.moveTo(x0, y0);
  context.lineTo(x, y);
  context.stroke();
  schedule();
});
const penUp = () => {
  if (!current) return;
  current = null;
  delete element.dataset.pen;
  send("change");
};
canvas.addEventListener("pointerup", penUp);
canvas.addEventListener("pointercancel", penUp);

element.querySelectorAll("[data-tool]").forEach((button) => button.addEventListener("click", () => {
  tool = button.dataset.tool;
  const tools = element.querySelectorAll("[data-tool]");
  tools.forEach((other) => other.setAttribute("aria-pressed", String(other === button)));
}));
element.querySelector("[data-action=undo]").addEventListener("click", () => {
  if (!strokes.length) return;
  strokes.pop();
  redraw();
  send("change");
});
element.querySelector("[data-action=clear]").addEventListener("click", () => {
  strokes.length = 0;
  redraw();
  send("change");
});
"""


def canvas(width: int, height: int, elem_id: str, clear_label: str, label: str, live=None) -> gr.HTML:
    """A width x height px canvas (shown at most that size, narrower on a small screen) and its tools, in the page's
    language (clear_label and label: keys of its words, for Clear and the canvas's name). `live`, a
    server function named live (events.live_answers), answers the drawings sent while the pen moves, outside the
    queue, for the components that follow the canvas (`follows`)."""
    return gr.HTML(
        pad_id=elem_id,
        live_url=live_route(elem_id, live),
        html_template=TEMPLATE,
        css_template=CSS,
        js_on_load=JS,
        elem_id=elem_id,
        apply_default_css=False,
        width=width,
        height=height,
        say={
            language: {**tools, "clear": words.text(clear_label, language), "label": words.text(label, language)}
            for language, tools in words.every_language("drawing_tools", "brush", "eraser", "undo").items()
        },
        brush_px=BRUSH_PX,
        eraser_px=ERASER_PX,
        live_ms=LIVE_MS,
        settle_ms=SETTLE_MS,
    )


SETTLED_JS = "() => document.dispatchEvent(new CustomEvent('pen-settled', {detail: %s}))"


def in_order(event: dict, pad: gr.HTML) -> None:
    """Canvas `pad` sends its next drawing to the server once the page has shown the answer to the one before: its JS
    waits for the signal chained here to each of its events (change, and input where it has no live function), after
    an answer and after an error. Without it the answers to two drawings sent at once could land in either order: a
    stroke's after the Clear pressed right after it. Wire its events with trigger_mode="multiple": the canvas paces
    them itself, and Gradio's always_last would send a deferred one with the first one's drawing."""
    signal = {"fn": None, "js": SETTLED_JS % json.dumps(pad.elem_id), "queue": False}
    event.then(**signal)
    event.failure(**signal)


LIVE = {}  # each canvas's live function by its elem_id, which json_api.py's route /api/pen/{elem_id} calls
LIVE_ROUTE = "api/pen/"


def live_route(elem_id: str, live) -> str:
    """Where canvas elem_id sends its drawings while the pen moves (relative to the page), or "" with no `live`."""
    if live is None:
        return ""
    LIVE[elem_id] = live
    return LIVE_ROUTE + elem_id


# Each output that follows a canvas shows its part of a live answer, unless the canvas has sent a newer drawing since
FOLLOW_JS = """
document.addEventListener("pen-live", (event) => {
  const html = event.detail.pad === props.pad_id ? event.detail.outputs[props.live_key] : undefined;
  if (html !== undefined) props.value = html;
});
"""


def follows(pad_id: str, key: str) -> dict:
    """A gr.HTML's arguments that make it show the `key` part of canvas `pad_id`'s live answers."""
    return {"js_on_load": FOLLOW_JS, "pad_id": pad_id, "live_key": key}


class Drawings:
    """The newest drawing number seen from each page and canvas: an answer to an older drawing is stale. Remembers
    the last `capacity` pages."""

    def __init__(self, capacity: int = 10_000):
        self.newest = collections.OrderedDict()
        self.capacity = capacity
        self.lock = threading.Lock()

    def see(self, key: tuple, number: int) -> bool:
        """Record drawing `number`; False when a newer one was already seen."""
        with self.lock:
            newest = self.newest.get(key, 0)
            if number < newest:
                return False
            self.newest[key] = number
            self.newest.move_to_end(key)
            while len(self.newest) > self.capacity:
                self.newest.popitem(last=False)
            return True

    def is_newest(self, key: tuple, number: int) -> bool:
        with self.lock:
            return self.newest.get(key, 0) <= number


DRAWINGS = Drawings()


def parse(data) -> tuple[str, int, bytes | None]:
    """An event's data, {"page": the page's id, "drawing": number, "png": data URL or ""}, as the page, the number
    and the PNG's bytes (None for an empty canvas). Anything else is a BadImageError."""
    if not isinstance(data, dict) or not isinstance(data.get("png"), str):
        raise preprocess.BadImageError(NOT_A_DRAWING)
    page, number, png = data.get("page"), data.get("drawing"), data["png"]
    if not isinstance(page, str) or not 0 < len(page) <= MAX_PAGE_ID_CHARS:
        raise preprocess.BadImageError(NOT_A_DRAWING)
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise preprocess.BadImageError(NOT_A_DRAWING)
    if not png:
        return page, number, None
    if len(png) > MAX_PNG_CHARS or not png.startswith(PNG_PREFIX):
        raise preprocess.BadImageError(NOT_A_DRAWING)
    try:
        return page, number, base64.b64decode(png[len(PNG_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise preprocess.BadImageError(NOT_A_DRAWING) from None


class Stale(Exception):
    """The drawing was overtaken by a newer one from the same page and canvas: its answer is not shown."""


def drawing(evt: gr.EventData, pad: gr.HTML) -> contextlib.AbstractContextManager[tuple[int, dict]]:
    """The drawing a queued event of canvas `pad` sent, as drawing_in reads it."""
    return drawing_in(getattr(evt, "_data", None), pad.elem_id)


@contextlib.contextmanager
def drawing_in(data, pad_id: str) -> Iterator[tuple[int, dict]]:
    """A drawing's number and a sketch for uploads.sketch_files, from its event data; raises Stale when a newer
    drawing from the same page and canvas came first, and after the body when one came meanwhile. An empty canvas is
    a NoDigitError."""
    page, number, png = parse(data)
    key = (page, pad_id)
    if not DRAWINGS.see(key, number):
        raise Stale
    if png is None:
        raise preprocess.NoDigitError(preprocess.NO_DIGIT_MESSAGE)
    yield number, {"layers": [png]}
    if not DRAWINGS.is_newest(key, number):
        raise Stale
