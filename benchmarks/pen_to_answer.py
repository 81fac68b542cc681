"""How long a visitor waits: from pen-up to both answers on screen, in headless Chromium, by mouse and by touch,
on the one-digit canvas and on the number canvas; and what one mouse move on the digit canvas costs the page,
beside a plain HTML canvas.

    python -m benchmarks.pen_to_answer                    # about 3 minutes on 2 cores
    python -m benchmarks.pen_to_answer --strokes 3        # a quick look
    python -m benchmarks.pen_to_answer --app-dir OTHER    # another checkout's app.py, for a before/after figure

Writes pen_to_answer.json and pen_to_answer.md to benchmarks/results/ (or --output-dir) and prints the markdown.
Each stroke starts on a cleared canvas. The page records the time of the pen-up and of every change to the answers
(performance.now() in the page itself, so Playwright's own delays do not count). A canvas that numbers its drawings
(data-sent) is waited on until both cards answer that drawing (data-drawing), which is how answers shown while the
pen moves are told from the answer to the finished stroke; a canvas that does not is waited on until the answers
change. A mouse move's cost is the page's main-thread time (Chrome's TaskDuration) over 300 moves with the pen
down, divided by 300. Timings are comparable only within one run, on an otherwise idle machine; none is a test.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks import host
from digit_studio.local_server import REPO, start_app, stop_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
# Strokes as fractions of a digit's square: a 7 and a 1 in turn, so that each answer differs from the last.
SEVEN = [(0.2, 0.15), (0.8, 0.15), (0.45, 0.9)]
ONE = [(0.5, 0.1), (0.5, 0.9)]
NUMBER = [[(0.5, 0.1), (0.5, 0.9)], [(0.2, 0.15), (0.8, 0.15), (0.45, 0.9)]]  # 17, written in two strokes
STEPS = 12  # pointer moves per segment, about what a quick real stroke sends
MOVES = 300

# Installed in the page: the last pen-up's time, and the last change of each watched output with its state.
RECORDER = """
() => {
  window.answered = (id) => {
    const c = window.changes[id];
    return id.startsWith("number") ? /CNN/.test(c.text) : c.answer !== "";
  };
  window.penUps = [];
  document.addEventListener("pointerup", () => window.penUps.push(performance.now()), true);
  window.changes = {};
  const state = (target) => {
    const card = target.querySelector("[data-answer]") || target.querySelector("[data-drawing]");
    return {
      answer: card ? card.dataset.answer ?? "" : "",
      drawing: card && card.dataset.drawing ? Number(card.dataset.drawing) : null,
      text: target.innerText,
    };
  };
  for (const id of ["cnn_answer", "linear_answer", "number_summary", "number_views"]) {
    const target = document.getElementById(id);
    const note = () => (window.changes[id] = {time: performance.now(), ...state(target)});
    new MutationObserver(note).observe(target, {subtree: true, childList: true, attributes: true, characterData: true});
    note();
  }
}
"""

# Plain-canvas baseline for a mouse move: a 2D canvas that draws a line per move, nothing else.
PLAIN_CANVAS = """
<canvas id="plain" width="400" height="400" style="border:1px solid #888;touch-action:none"></canvas>
<script>
  const canvas = document.getElementById("plain"), context = canvas.getContext("2d");
  let last = null;
  context.lineWidth = 18; context.lineCap = "round";
  canvas.addEventListener("pointerdown", (e) => (last = [e.offsetX, e.offsetY]));
  canvas.addEventListener("pointermove", (e) => {
    if (!last) return;
    context.beginPath(); context.moveTo(...last); context.lineTo(e.offsetX, e.offsetY); context.stroke();
    last = [e.offsetX, e.offsetY];
  });
  canvas.addEventListener("pointerup", () => (last = null));
</script>
"""


def spread(samples_ms: list[float]) -> dict:
    return {
        "p50": float(np.percentile(samples_ms, 50)),
        "p95": float(np.percentile(samples_ms, 95)),
        "max": float(max(samples_ms)),
        "count": len(samples_ms),
    }


def square(box: dict, slot: tuple[int, int]) -> tuple[float, float, float]:
    """The left, top and side of the slot-th of n squares across a canvas, 70% of each part."""
    index, slots = slot
    width = box["width"] / slots
    side = min(width, box["height"]) * 0.7
    return box["x"] + index * width + (width - side) / 2, box["y"] + (box["height"] - side) / 2, side


def path(points: list[tuple[float, float]], left: float, top: float, side: float) -> list[tuple[float, float]]:
    """A stroke's points in page pixels, STEPS moves per segment."""
    out = [(left + points[0][0] * side, top + points[0][1] * side)]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        for step in range(1, STEPS + 1):
            t = step / STEPS
            out.append((left + (x0 + (x1 - x0) * t) * side, top + (y0 + (y1 - y0) * t) * side))
    return out


class Pen:
    """Strokes by mouse, or by touch through Chrome's input domain (Playwright has no touch drag)."""

    def __init__(self, page, touch: bool):
        self.page, self.touch = page, touch
        self.cdp = page.context.new_cdp_session(page) if touch else None

    def stroke(self, points: list[tuple[float, float]]) -> None:
        if not self.touch:
            self.page.mouse.move(*points[0])
            self.page.mouse.down()
            for x, y in points[1:]:
                self.page.mouse.move(x, y)
            self.page.mouse.up()
            return
        for kind, (x, y) in [("touchStart", points[0])] + [("touchMove", point) for point in points[1:]]:
            self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        self.cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def clear(page, label: str, watched: list[str]) -> None:
    page.get_by_role("button", name=label, exact=True).first.click()
    try:
        page.wait_for_function("(ids) => ids.every((id) => !window.answered(id))", arg=watched, timeout=20_000)
    except Exception as error:
        page.screenshot(path="/tmp/pen_to_answer_clear.png")
        state = page.evaluate("(ids) => ids.map((id) => window.changes[id])", watched)
        raise RuntimeError(f"{label} did not clear {watched}: {state}") from error
    time.sleep(0.3)


def answered_ms(page, pad: str, watched: list[str]) -> float:
    """From the last pen-up to the last watched output's change for the finished drawing."""
    sent = page.evaluate(f"() => document.querySelector('{pad} [data-sent]')?.dataset.sent ?? null")
    condition = (
        "(a) => a.ids.every((id) => window.changes[id].drawing === Number(a.sent))"
        if sent is not None
        else "(a) => a.ids.every((id) => window.changes[id].time > window.penUps.at(-1) && window.answered(id))"
    )
    page.wait_for_function(condition, arg={"ids": watched, "sent": sent}, timeout=20_000)
    return page.evaluate(
        "(ids) => Math.max(...ids.map((id) => window.changes[id].time)) - window.penUps.at(-1)", watched
    )


def latencies(page, pen: Pen, canvas: str, strokes: int) -> list[float]:
    """Pen-up to answer for `strokes` drawings on one canvas, each on a cleared canvas."""
    number = canvas == "number"
    pad = "#number_sketchpad" if number else "#sketchpad"
    label = "Clear the number" if number else "Clear"
    watched = ["number_views"] if number else ["cnn_answer", "linear_answer"]
    page.locator(f"{pad} canvas").first.scroll_into_view_if_needed()
    samples = []
    for index in range(strokes + 1):  # the first is a warm-up
        clear(page, label, watched)
        box = page.locator(f"{pad} canvas").first.bounding_box()
        if number:
            for slot, points in enumerate(NUMBER):
                pen.stroke(path(points, *square(box, (slot, 4))))
        else:
            pen.stroke(path(SEVEN if index % 2 else ONE, *square(box, (0, 1))))
        elapsed = answered_ms(page, pad, watched)
        if index:
            samples.append(elapsed)
    return samples


def move_cost_ms(page, selector: str) -> float:
    """The page's main-thread time per pointer move with the pen down on the canvas."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    box = page.locator(selector).first.bounding_box()
    left, top, side = square(box, (0, 1))
    page.mouse.move(left, top)
    page.mouse.down()

    def task_seconds() -> float:
        metrics = cdp.send("Performance.getMetrics")["metrics"]
        return next(metric["value"] for metric in metrics if metric["name"] == "TaskDuration")

    before = task_seconds()
    for index in range(MOVES):
        angle = index / MOVES * 6 * np.pi
        page.mouse.move(left + side * (0.5 + 0.4 * np.cos(angle)), top + side * (0.5 + 0.4 * np.sin(angle)))
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    spent = task_seconds() - before
    page.mouse.up()
    return spent * 1000 / MOVES


def measure(url: str, strokes: int) -> dict:
    from playwright.sync_api import sync_playwright

    report = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for device, options in {
                "mouse": {"viewport": {"width": 1366, "height": 900}},
                "touch": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True},
            }.items():
                context = browser.new_context(**options)
                page = context.new_page()
                page.goto(url)
                page.wait_for_selector("#sketchpad canvas")
                page.evaluate(RECORDER)
                pen = Pen(page, touch=device == "touch")
                for canvas in ("digit", "number"):
                    report[f"{canvas}, {device}"] = spread(latencies(page, pen, canvas, strokes))
                if device == "mouse":
                    page.locator("#sketchpad canvas").first.scroll_into_view_if_needed()
                    report["mouse move, studio canvas"] = move_cost_ms(page, "#sketchpad canvas")
                    plain = context.new_page()
                    plain.set_content(PLAIN_CANVAS)
                    report["mouse move, plain canvas"] = move_cost_ms(plain, "#plain")
                context.close()
        finally:
            browser.close()
    return report


def markdown(report: dict, app_dir: Path) -> str:
    lines = [
        f"# Pen-up to both answers (app from {app_dir.name})",
        "",
        host.described(report["machine"]),
        "",
        "| canvas, pen | p50 ms | p95 ms | max ms | strokes |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, figures in report["latency"].items():
        lines.append(
            f"| {name} | {figures['p50']:.0f} | {figures['p95']:.0f} | {figures['max']:.0f} | {figures['count']} |"
        )
    lines += ["", "| one mouse move, pen down | main-thread ms |", "|---|---:|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in report["moves"].items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=20, help="strokes per canvas and pen (default 20)")
    parser.add_argument("--app-dir", type=Path, default=REPO, help="the checkout whose app.py to serve")
    parser.add_argument("--output-dir", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    machine = host.machine()
    process, url = start_app(cwd=args.app_dir.resolve())
    try:
        figures = measure(url, args.strokes)
    finally:
        stop_app(process)
    report = {
        "machine": {**machine, "load_average_at_end": host.load_average()},
        "strokes": args.strokes,
        "latency": {name: value for name, value in figures.items() if isinstance(value, dict)},
        "moves": {name: value for name, value in figures.items() if not isinstance(value, dict)},
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "pen_to_answer.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report, args.app_dir.resolve())
    (args.output_dir / "pen_to_answer.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
