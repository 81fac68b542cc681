"""The page's drawing canvas: a plain HTML canvas with a brush, an eraser, Undo and Clear, that sends each drawing as
a small PNG in its event's data.

Gradio's Sketchpad answers 0.6-0.9 s after the pen lifts: it renders through WebGL, encodes its background, layer
and composite as three PNGs, uploads each, and only then sends its event. This canvas sends one PNG of the strokes
(a few kB) in the event itself, at pen-up, and every LIVE_MS while the pen moves (the `input` event), so that the
answers follow the pen. Each drawing carries its number; an answer for a drawing older than the newest one seen
from that page is dropped (Drawings), so Clear, Undo or a new stroke is never overtaken by an earlier answer.

    pad = pen_canvas.canvas(400, 400, "sketchpad", "Clear")
    pad.change(function, None, outputs)   # function(evt: gr.EventData, request: gr.Request)
    with pen_canvas.drawing(evt, request) as sketch:   # {"layers": [png bytes]}, as uploads.sketch_files reads it
        ...
"""

import base64
import binascii
import collections
import contextlib
import threading
from collections.abc import Iterator

import gradio as gr

from digit_studio.core import preprocess

BRUSH_PX = 18  # as thick as MNIST's strokes on a 400 px canvas
ERASER_PX = 36
LIVE_MS = 120  # while the pen moves, at most one drawing per this many ms
# A drawn canvas's PNG is a few kB; 800x400 px of noise is under 1.3 MB. Anything longer is not from the page.
MAX_PNG_CHARS = 2_000_000
PNG_PREFIX = "data:image/png;base64,"
NOT_A_DRAWING = "That is not a drawing from the page's canvas; draw on it, or send a picture to /classify_sketch."

TEMPLATE = """
<div class="pen-canvas">
  <div class="pen-tools" role="toolbar" aria-label="Drawing tools">
    <button type="button" data-tool="brush" aria-pressed="true">Brush</button>
    <button type="button" data-tool="eraser" aria-pressed="false">Eraser</button>
    <button type="button" data-action="undo">Undo</button>
    <button type="button" data-action="clear">${clear_label}</button>
  </div>
  <canvas width="${width}" height="${height}" aria-label="${label}"></canvas>
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
let current = null, tool = "brush", drawings = 0, lastSent = 0, timer = null;

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
const send = (event) => {
  clearTimeout(timer);
  timer = null;
  lastSent = performance.now();
  drawings += 1;
  element.dataset.sent = drawings;
  const inked = strokes.some((stroke) => !stroke.erase);
  trigger(event, {drawing: drawings, png: inked ? canvas.toDataURL("image/png") : ""});
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
  const wait = Math.max(0, props.live_ms - (performance.now() - lastSent));
  if (timer === null) timer = setTimeout(() => send("input"), wait);
});
const penUp = () => {
  if (!current) return;
  current = null;
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


def canvas(width: int, height: int, elem_id: str, clear_label: str, label: str = "Drawing canvas") -> gr.HTML:
    """A width x height px canvas (shown at most that size, narrower on a small screen) and its tools."""
    return gr.HTML(
        html_template=TEMPLATE,
        css_template=CSS,
        js_on_load=JS,
        elem_id=elem_id,
        apply_default_css=False,
        width=width,
        height=height,
        clear_label=clear_label,
        label=label,
        brush_px=BRUSH_PX,
        eraser_px=ERASER_PX,
        live_ms=LIVE_MS,
    )


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


def parse(data) -> tuple[int, bytes | None]:
    """An event's data, {"drawing": number, "png": data URL or ""}, as the number and the PNG's bytes (None for an
    empty canvas). Anything else is a BadImageError."""
    if not isinstance(data, dict) or not isinstance(data.get("png"), str):
        raise preprocess.BadImageError(NOT_A_DRAWING)
    number, png = data.get("drawing"), data["png"]
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise preprocess.BadImageError(NOT_A_DRAWING)
    if not png:
        return number, None
    if len(png) > MAX_PNG_CHARS or not png.startswith(PNG_PREFIX):
        raise preprocess.BadImageError(NOT_A_DRAWING)
    try:
        return number, base64.b64decode(png[len(PNG_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise preprocess.BadImageError(NOT_A_DRAWING) from None


class Stale(Exception):
    """The drawing was overtaken by a newer one from the same page and canvas: its answer is not shown."""


@contextlib.contextmanager
def drawing(evt: gr.EventData, request: gr.Request | None, pad: gr.HTML) -> Iterator[tuple[int, dict]]:
    """The drawing an event sent, as its number and a sketch for uploads.sketch_files; raises Stale when a newer
    drawing from the same page came first, and after the body when one came meanwhile. An empty canvas is a
    NoDigitError."""
    number, png = parse(getattr(evt, "_data", None))
    key = (getattr(request, "session_hash", None), pad.elem_id)
    if not DRAWINGS.see(key, number):
        raise Stale
    if png is None:
        raise preprocess.NoDigitError(preprocess.NO_DIGIT_MESSAGE)
    yield number, {"layers": [png]}
    if not DRAWINGS.is_newest(key, number):
        raise Stale
