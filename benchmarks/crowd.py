"""A class drawing at once: N simulated visitors on one server, each speaking the page's own protocol.

    python -m benchmarks.crowd                       # N = 1, 10, 20, 40, 80; about 4 minutes
    python -m benchmarks.crowd --visitors 40 --seconds 10 --no-probes
    python -m benchmarks.crowd --app-dir DIR --env GRADIO_ANALYTICS_CACHE_FREQUENCY=100000 --name crowd-base
    python -m benchmarks.crowd --server-cpus 0           # the server on one core (the crowd keeps both)
    python -m benchmarks.crowd --compare crowd-before crowd --visitors 40 --name crowd-compared  # kept runs, a row each

Each visitor opens the page's session and draws in a loop: a 1 s stroke, during which the canvas sends its drawing at
the page's cadence (pen_canvas.LIVE_MS, and only once the previous one is answered, as the page does), to the canvas's
live route (/api/pen/sketchpad), or, on a page without one, as the queued `input` event; then
pen-up, the drawing to `live` and the `change` event as the page sends it (one POST to /gradio_api/run/predict, whose
answer holds "Why they differ" too; on a page whose event is queued, /gradio_api/queue/join and the session's
/gradio_api/queue/data stream, followed by any server event the page chains after it); then 1 s looking at the
answer, so that, as on the page, a visitor's next pen-up leaves once the one before is answered. The drawings are
MNIST test digits on a transparent 400x400 canvas, revealed top to bottom while the stroke lasts.

Per level: pen-up to answer p50 / p95 (the first of the two answers to arrive, as the page shows it) and to the
settled verdict (the queued one); live answers shown a second while drawing (the median visitor); events
answered a second; the server's CPU (its process and the JSON route's workers, as a share of one core); the crowd's
own CPU on the same machine; errors; wrong digits (a pen-up answer that differs from what the same drawing gets from a
quiet server); stale answers shown (an answer the page would show for an older drawing than one it already showed);
the ten slowest pen-up answers and the crowd's own longest stalls (its event loop woken late), each with when it
happened, so that a tail can be told from a stall of the crowd itself.
With probes, one more client calls /api/classify, gradio_client's /classify, /read_number and /explain in turn
while the crowd draws, and their p95 is in the table.

Results: benchmarks/results/NAME.json and NAME.md (NAME: crowd unless --name), and NAME.png with --plot.
"""

import argparse
import asyncio
import base64
import io
import json
import os
import re
import ssl
import statistics
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from gradio_client import Client, handle_file
from PIL import Image

from benchmarks import host
from digit_studio.core import mnist_data
from digit_studio.local_server import REPO, close_clients, start_app, stop_app
from digit_studio.web import pen_canvas

RESULTS = REPO / "benchmarks" / "results"
MNIST_SUBSET = REPO / "tests" / "data" / "mnist-test-first-1000"
LEVELS = (1, 10, 20, 40, 80)
STROKE_S, LOOK_S = 1.0, 1.0
SLOWEST = 10  # the slowest pen-up answers each level keeps, with when they happened
TICK_S, STALL_MS = 0.01, 50  # the crowd's own stalls: its event loop woken this often, and this late
LIVE_S = pen_canvas.LIVE_MS / 1000
CANVAS = 400
DRAWINGS = 24  # distinct digits; visitor i draws digit i % DRAWINGS, then the next
FRAMES = 9  # partial drawings per stroke, one per live event at most
TIMEOUT_S = 15  # an answer later than this never came
ANSWER = re.compile(r'data-answer="([^"]*)"')
TICKS = os.sysconf("SC_CLK_TCK")
TLS = ssl.create_default_context()  # one for every visitor's client: making one each takes longer than a level's start


def canvas_png(pixels: np.ndarray) -> str:
    """A 28x28 digit as the page's canvas sends it: black ink on a transparent 400x400 PNG, as a data URL. The ink is
    solid, as a pen's strokes are (a digit enlarged smoothly and cut at half its grey)."""
    smooth = np.asarray(Image.fromarray(pixels).resize((CANVAS, CANVAS), Image.BILINEAR))
    ink = Image.fromarray(np.where(smooth > 127, 255, 0).astype(np.uint8))
    rgba = Image.merge("RGBA", (*[Image.new("L", ink.size, 0)] * 3, ink))
    buffer = io.BytesIO()
    rgba.save(buffer, format="PNG")
    return pen_canvas.PNG_PREFIX + base64.b64encode(buffer.getvalue()).decode()


def stroke_frames(pixels: np.ndarray) -> list[str]:
    """The drawing as the pen moves: the digit revealed top to bottom in FRAMES steps, the last one whole."""
    rows = np.nonzero(pixels.max(axis=1))[0]
    top, bottom = rows[0], rows[-1] + 1
    frames = []
    for step in range(1, FRAMES + 1):
        partial = pixels.copy()
        partial[top + (bottom - top) * step // FRAMES :] = 0
        frames.append(canvas_png(partial))
    return frames


class Page:
    """What one visitor's browser knows of the app: the config's ids, and how the page sends its events."""

    def __init__(self, config: dict):
        components = {component["id"]: component for component in config["components"]}
        (self.pad,) = [c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "sketchpad"]
        self.live = components[self.pad]["props"]["props"].get("live_url") or None  # the canvas's live route
        dependencies = config["dependencies"]
        self.change = next(d for d in dependencies if [self.pad, "change"] in d["targets"])
        self.input = next((d for d in dependencies if [self.pad, "input"] in d["targets"]), None)
        # the server's event the page chains after a successful pen-up answer, if any ("Why they differ" once was)
        chained = (d for d in dependencies if d.get("trigger_after") == self.change["id"] and d.get("backend_fn"))
        self.chained = next(chained, None)
        self.components = components

    def inputs(self, dependency: dict) -> list:
        """An event's input values as the page sends them: each component's current value, none for a State."""
        values = []
        for component_id in dependency["inputs"]:
            component = self.components[component_id]
            values.append(None if component["type"] == "state" else component["props"].get("value"))
        return values


class Visitor:
    """One learner drawing digits in a loop on their own page (own session, own connections)."""

    def __init__(self, url: str, page: Page, drawings: list[list[str]], first: int, started: float | None = None):
        self.url, self.page, self.drawings, self.index = url, page, drawings, first
        self.started = time.perf_counter() if started is None else started  # the level's start
        self.session, self.page_id = uuid.uuid4().hex, uuid.uuid4().hex
        self.number = 0  # the page's drawing counter
        self.shown = 0  # the newest drawing whose answer the page shows
        self.pen_up_ms, self.settled_ms = [], []  # pen-up to the answer shown first; to the queued, settled page
        self.pen_up_at_s = []  # when each pen-up left, in seconds from the level's start
        self.live_shown, self.answered, self.errors, self.stale_shown = 0, 0, [], 0
        self.answers = []  # (drawing index, the CNN's pen-up answer)
        self.drawing_s = 0.0

    def data(self, png: str) -> dict:
        self.number += 1
        return {"page": self.page_id, "drawing": self.number, "png": png}

    def show(self, number: int) -> None:
        if number < self.shown:
            self.stale_shown += 1
        self.shown = max(self.shown, number)

    async def run(self, http: httpx.AsyncClient, until: float) -> None:
        while time.perf_counter() < until:
            frames = self.drawings[self.index % len(self.drawings)]
            await self.stroke(http, frames)
            await self.pen_up(http, frames[-1], self.index % len(self.drawings))
            self.index += 1
            await asyncio.sleep(LOOK_S)

    async def stroke(self, http: httpx.AsyncClient, frames: list[str]) -> None:
        """STROKE_S of drawing: a live drawing every LIVE_S, each once the previous one is answered."""
        start = time.perf_counter()
        end = start + STROKE_S
        while (now := time.perf_counter()) < end:
            frame = frames[min(len(frames) - 1, int((now - start) / STROKE_S * len(frames)))]
            sent = time.perf_counter()
            await self.live(http, frame, end)
            await asyncio.sleep(max(0.0, sent + LIVE_S - time.perf_counter()))
        self.drawing_s += time.perf_counter() - start

    async def live(self, http: httpx.AsyncClient, frame: str, stroke_end: float) -> None:
        data = self.data(frame)
        try:
            if self.page.live:
                answer = await self.ask_live(http, data)
                if "outputs" in answer and answer["drawing"] == self.number and time.perf_counter() < stroke_end:
                    self.live_shown += 1
                    self.show(answer["drawing"])
            else:
                message = await self.queued(http, self.page.input, data)
                if message.get("success") and ANSWER.search(str(message["output"]["data"][0])):
                    if data["drawing"] == self.number and time.perf_counter() < stroke_end:
                        self.live_shown += 1
                        self.show(data["drawing"])
        except (httpx.HTTPError, TimeoutError) as error:
            self.errors.append(f"live: {type(error).__name__}")

    async def pen_up(self, http: httpx.AsyncClient, frame: str, drawing: int) -> None:
        """Pen-up as the page sends it: the drawing to `live` (where the page has it) and through the queue, with one
        number; the answer is the first of the two to arrive, the settled page the queued one."""
        data = self.data(frame)
        start = time.perf_counter()
        answered = asyncio.get_running_loop().create_future()

        async def light() -> None:
            try:
                answer = await self.ask_live(http, {**data, "settled": True})
            except (httpx.HTTPError, TimeoutError) as error:
                self.errors.append(f"pen-up live: {type(error).__name__}")
                return
            if "outputs" in answer:
                label = ANSWER.search(answer["outputs"]["cnn"]).group(1)
                answered.set_result((label, (time.perf_counter() - start) * 1000))

        lighter = asyncio.ensure_future(light()) if self.page.live else None
        try:
            message = await self.queued(http, self.page.change, data)
        except (httpx.HTTPError, TimeoutError) as error:
            self.errors.append(f"pen-up: {type(error).__name__}")
            return
        finally:
            if lighter:
                await lighter
        if not message.get("success"):
            self.errors.append(f"pen-up: {message.get('output', {}).get('error')}")
            return
        card = str(message["output"]["data"][0])
        settled_ms = (time.perf_counter() - start) * 1000
        self.settled_ms.append(settled_ms)
        light_ms = answered.result()[1] if answered.done() else settled_ms
        self.pen_up_ms.append(min(light_ms, settled_ms))
        self.pen_up_at_s.append(start - self.started)
        number = re.search(r'data-drawing="(\d+)"', card)
        if number:
            self.show(int(number.group(1)))
        found = ANSWER.search(card)
        self.answers.append((drawing, found.group(1) if found else None))
        if answered.done() and found and answered.result()[0] != found.group(1):
            self.answers.append((drawing, answered.result()[0]))  # the light answer, if it differs, counts as wrong
        if self.page.chained:  # "Why they differ", as the page chains it after the answer
            try:
                chained = await self.queued(http, self.page.chained, None, self.page.inputs(self.page.chained))
                if not chained.get("success"):
                    self.errors.append(f"why: {chained.get('output', {}).get('error')}")
            except (httpx.HTTPError, TimeoutError) as error:
                self.errors.append(f"why: {type(error).__name__}")

    async def ask_live(self, http: httpx.AsyncClient, data: dict) -> dict:
        response = await http.post(self.page.live, json=data, timeout=TIMEOUT_S)
        response.raise_for_status()
        self.answered += 1
        answer = response.json()
        if "error" in answer:
            self.errors.append(answer["error"])
        return answer

    async def queued(self, http: httpx.AsyncClient, dependency: dict, event_data, data: list | None = None) -> dict:
        """One event as the page sends it, through Gradio's queue (or, for an event that skips it, one POST to
        /gradio_api/run/predict); Gradio's final message for it."""
        body = {
            "data": self.page.inputs(dependency) if data is None else data,
            "event_data": event_data,
            "fn_index": dependency["id"],
            "trigger_id": dependency["targets"][0][0] if dependency["targets"] else None,
            "session_hash": self.session,
        }
        if dependency.get("queue") is False:
            response = await http.post("gradio_api/run/predict", json=body, timeout=TIMEOUT_S)
            self.answered += 1
            answer = response.json()
            return {"success": response.is_success, "output": answer}
        async with asyncio.timeout(TIMEOUT_S):
            joined = await http.post("gradio_api/queue/join", json=body, timeout=TIMEOUT_S)
            joined.raise_for_status()
            event_id = joined.json()["event_id"]
            async with http.stream(
                "GET", "gradio_api/queue/data", params={"session_hash": self.session}, timeout=TIMEOUT_S
            ) as stream:
                async for line in stream.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    message = json.loads(line.removeprefix("data: "))
                    if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                        self.answered += 1
                        return message
        raise httpx.ReadError("the queue closed without completing the event")


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (the JSON route's workers), in seconds."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def spread(samples: list[float]) -> dict:
    if not samples:
        return {"p50": None, "p95": None, "count": 0}
    return {
        "p50": round(float(np.percentile(samples, 50)), 1),
        "p95": round(float(np.percentile(samples, 95)), 1),
        "count": len(samples),
    }


def slowest(people: list["Visitor"], count: int = SLOWEST) -> list[dict]:
    """The `count` slowest pen-up answers of a level, each with when its pen-up left (s from the level's start):
    where in the run a tail falls, which percentiles do not show."""
    times = sorted(
        ((ms, at) for person in people for ms, at in zip(person.pen_up_ms, person.pen_up_at_s, strict=True)),
        reverse=True,
    )
    return [{"ms": round(ms, 1), "at_s": round(at, 2)} for ms, at in times[:count]]


class Probes:
    """The other surfaces while the crowd draws: /api/classify (plain HTTP), and through gradio_client /classify,
    /read_number and /explain, one call at a time in turn, each timed."""

    def __init__(self, url: str):
        self.url, self.times, self.errors = url, {}, []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        digit, number = REPO / "examples" / "7_mnist.png", REPO / "examples" / "numbers" / "2026_drawn.png"
        client, http = Client(self.url, verbose=False), httpx.Client(verify=TLS)  # one connection, as a program keeps
        calls = {
            "/api/classify": lambda: http.post(
                self.url + "api/classify", files={"image": digit.read_bytes()}, timeout=TIMEOUT_S
            ).raise_for_status(),
            "gradio_client /classify": lambda: client.predict(handle_file(str(digit)), api_name="/classify"),
            "gradio_client /read_number": lambda: client.predict(handle_file(str(number)), api_name="/read_number"),
            "gradio_client /explain": lambda: client.predict(handle_file(str(digit)), api_name="/explain"),
        }
        try:
            while not self.stopping.is_set():
                for name, call in calls.items():
                    start = time.perf_counter()
                    try:
                        call()
                        self.times.setdefault(name, []).append((time.perf_counter() - start) * 1000)
                    except Exception as error:  # counted and reported, never hidden
                        self.errors.append(f"{name}: {error}")
                    self.stopping.wait(0.25)
        finally:
            close_clients(client)
            http.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=TIMEOUT_S * 2)


async def crowd(
    url: str, visitors: int, seconds: float, drawings: list[list[str]], server_pid: int, stalls: list | None = None
) -> list[Visitor]:
    """`visitors` drawing for `seconds`; the crowd's own stalls (watch_the_loop) are added to `stalls`."""
    async with httpx.AsyncClient(base_url=url, verify=TLS) as http:
        page = Page((await http.get("config")).json())
    started = time.perf_counter()
    people = [Visitor(url, page, drawings, first, started) for first in range(visitors)]
    until = started + seconds

    async def one(person: Visitor, delay: float) -> None:
        await asyncio.sleep(delay)  # visitors start within one stroke-and-look, not in lockstep
        limits = httpx.Limits(max_connections=6)  # a browser's connections to one host
        async with httpx.AsyncClient(base_url=url, limits=limits, verify=TLS) as http:
            await person.run(http, until)

    spacing = (STROKE_S + LOOK_S) / max(visitors, 1)
    watcher = asyncio.ensure_future(watch_the_loop(started, until, [] if stalls is None else stalls))
    await asyncio.gather(*(one(person, index * spacing) for index, person in enumerate(people)))
    await watcher
    return people


async def watch_the_loop(started: float, until: float, stalls: list) -> None:
    """The crowd's own event loop, woken every TICK_S: a wake-up over STALL_MS late is a stall of the crowd itself
    (its CPU, its garbage collector), not of the server, and every time measured across it is that much longer."""
    while (before := time.perf_counter()) < until:
        await asyncio.sleep(TICK_S)
        late_ms = (time.perf_counter() - before - TICK_S) * 1000
        if late_ms > STALL_MS:
            stalls.append({"ms": round(late_ms, 1), "at_s": round(before - started, 2)})


def expected_answers(url: str, drawings: list[list[str]]) -> list[str]:
    """What each whole drawing gets from the server with nobody else drawing: the reference for wrong digits."""
    page = Page(httpx.get(url + "config", timeout=TIMEOUT_S).json())
    person = Visitor(url, page, drawings, 0)

    async def each() -> list[str]:
        async with httpx.AsyncClient(base_url=url, verify=TLS) as http:
            found = []
            for index, frames in enumerate(drawings):
                await person.pen_up(http, frames[-1], index)
                found.append(person.answers[-1][1])
            return found

    return asyncio.run(each())


def level(url: str, visitors: int, seconds: float, drawings, expected, pid: int, probes: bool) -> dict:
    cpu_start, client_start, wall_start = cpu_seconds(pid), time.process_time(), time.perf_counter()
    probe = Probes(url) if probes else None
    stalls = []
    if probe:
        probe.__enter__()
    try:
        people = asyncio.run(crowd(url, visitors, seconds, drawings, pid, stalls))
    finally:
        if probe:
            probe.__exit__()
    wall = time.perf_counter() - wall_start
    live_rates = [person.live_shown / person.drawing_s for person in people if person.drawing_s]
    wrong = sum(answer != expected[index] for person in people for index, answer in person.answers)
    errors = [error for person in people for error in person.errors] + (probe.errors if probe else [])
    result = {
        "visitors": visitors,
        "seconds": round(wall, 1),
        "pen_up_ms": spread([ms for person in people for ms in person.pen_up_ms]),
        "slowest_pen_ups": slowest(people),
        "crowd_stalls": sorted(stalls, key=lambda stall: stall["ms"], reverse=True)[:SLOWEST],
        "settled_ms": spread([ms for person in people for ms in person.settled_ms]),
        "live_per_s_median_visitor": round(statistics.median(live_rates), 1) if live_rates else 0.0,
        "events_per_s": round(sum(person.answered for person in people) / wall, 1),
        "server_cpu": round((cpu_seconds(pid) - cpu_start) / wall, 2),
        "crowd_cpu": round((time.process_time() - client_start) / wall, 2),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "wrong": wrong,
        "stale_shown": sum(person.stale_shown for person in people),
        "pen_ups": sum(len(person.answers) for person in people),
    }
    if probe:
        result["probes_ms"] = {name: spread(times) for name, times in probe.times.items()}
    return result


def markdown(report: dict) -> str:
    lines = [
        host.described(report["machine"]),
        "",
        f"Server: {report['server']}. Each level runs {report['seconds']:.0f} s; CPU is a share of one core.",
        "",
        "| visitors drawing | pen-up to answer p50 / p95, ms | to the settled verdict p50 / p95, ms | live answers a "
        "second (median visitor) | events answered a second | server CPU | crowd's own CPU | errors | wrong digits "
        "| stale answers shown |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["levels"]:
        pen, settled = row["pen_up_ms"], row["settled_ms"]
        lines.append(
            f"| {row['visitors']} | {pen['p50']} / {pen['p95']} | {settled['p50']} / {settled['p95']} "
            f"| {row['live_per_s_median_visitor']} | "
            f"{row['events_per_s']} | {row['server_cpu']:.0%} | {row['crowd_cpu']:.0%} | {row['errors']} | "
            f"{row['wrong']} of {row['pen_ups']} | {row['stale_shown']} |"
        )
    kept = [row for row in report["levels"] if row.get("slowest_pen_ups")]
    if kept:
        header = (
            "| visitors drawing | the five slowest pen-up answers, ms (when the pen lifted, s into the level) "
            f"| the crowd's own longest stalls over {STALL_MS} ms (when) |"
        )
        lines += ["", header, "|---|---|---|"]
        for row in kept:
            slow, stalled = (
                ", ".join(f"{one['ms']:.0f} ({one['at_s']:.1f})" for one in row.get(key, [])[:5]) or "none"
                for key in ("slowest_pen_ups", "crowd_stalls")
            )
            lines.append(f"| {row['visitors']} | {slow} | {stalled} |")
    probed = [row for row in report["levels"] if row.get("probes_ms")]
    if probed:
        names = list(probed[0]["probes_ms"])
        lines += ["", "| visitors drawing | " + " | ".join(f"{name} p50 / p95, ms" for name in names) + " |"]
        lines.append("|---|" + "---|" * len(names))
        for row in probed:
            cells = [row["probes_ms"].get(name, {"p50": None, "p95": None}) for name in names]
            lines.append(f"| {row['visitors']} | " + " | ".join(f"{c['p50']} / {c['p95']}" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def compared(names: list[str], visitors: int) -> str:
    """One row per kept run (RESULTS/NAME.json) at `visitors` visitors drawing: the runs side by side."""
    lines = [
        f"| run, {visitors} visitors drawing | pen-up to answer p50 / p95, ms | to the settled verdict p50 / p95, ms "
        "| live answers a second (median visitor) | events answered a second | server CPU | crowd's own CPU | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        report = json.loads((RESULTS / f"{name}.json").read_text())
        row = next(row for row in report["levels"] if row["visitors"] == visitors)
        pen, settled = row["pen_up_ms"], row.get("settled_ms", {"p50": None, "p95": None})
        lines.append(
            f"| {name}: {report['server']} | {pen['p50']} / {pen['p95']} | {settled['p50']} / {settled['p95']} "
            f"| {row['live_per_s_median_visitor']} | {row['events_per_s']} | {row['server_cpu']:.0%} "
            f"| {row['crowd_cpu']:.0%} | {row['errors']} |"
        )
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    rows = report["levels"]
    visitors = [row["visitors"] for row in rows]
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(9, 3.4))
    left.plot(visitors, [row["pen_up_ms"]["p50"] for row in rows], "o-", label="p50")
    left.plot(visitors, [row["pen_up_ms"]["p95"] for row in rows], "o-", label="p95")
    left.set(xlabel="visitors drawing", ylabel="ms", title="pen-up to answer")
    left.legend()
    right.plot(visitors, [row["live_per_s_median_visitor"] for row in rows], "o-", color="tab:green")
    right.set(xlabel="visitors drawing", ylabel="answers a second", title="live answers while drawing", ylim=(0, 9))
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, nargs="+", default=list(LEVELS), help="the levels, in order")
    parser.add_argument("--seconds", type=float, default=20, help="how long each level draws (default 20)")
    parser.add_argument("--app-dir", type=Path, default=REPO, help="the checkout whose app.py to serve")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (repeatable)")
    parser.add_argument("--server-cpus", help="the CPUs the server may use, e.g. 0 (default: all; the crowd keeps all)")
    parser.add_argument("--no-probes", action="store_true", help="no /api/classify, gradio_client, number or why")
    parser.add_argument("--name", default="crowd", help="the results' file name (default crowd)")
    parser.add_argument("--plot", action="store_true", help="also draw NAME.png (matplotlib)")
    parser.add_argument("--label", help="what the server is, for the results (default: this checkout)")
    parser.add_argument("--compare", nargs="+", metavar="RUN", help="no run: NAME.md compares kept runs instead")
    args = parser.parse_args()
    if args.compare:
        (RESULTS / f"{args.name}.md").write_text(text := compared(args.compare, args.visitors[0]))
        print(text)
        return
    env = dict(item.split("=", 1) for item in args.env)
    images, _ = mnist_data.load_test_from_dir(MNIST_SUBSET)
    drawings = [stroke_frames(pixels) for pixels in images[:DRAWINGS]]
    machine = host.machine()
    everywhere = os.sched_getaffinity(0)
    if args.server_cpus:  # the server and its workers inherit it from here, from their start
        os.sched_setaffinity(0, {int(cpu) for cpu in args.server_cpus.split(",")})
    try:
        process, url = start_app(env, cwd=args.app_dir)
    finally:
        os.sched_setaffinity(0, everywhere)
    try:
        expected = expected_answers(url, drawings)
        levels = []
        for visitors in args.visitors:
            levels.append(level(url, visitors, args.seconds, drawings, expected, process.pid, not args.no_probes))
            print(json.dumps(levels[-1]), flush=True)
    finally:
        stop_app(process)
    machine["load_average_at_end"] = host.load_average()
    server = args.label or ("this checkout" if args.app_dir == REPO else f"app.py of {args.app_dir.name}")
    server += "".join(f", {key}={value}" for key, value in env.items())
    server += f", on CPU {args.server_cpus} only" if args.server_cpus else ""
    report = {"machine": machine, "server": server, "seconds": args.seconds, "levels": levels}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=1) + "\n")
    (RESULTS / f"{args.name}.md").write_text(markdown(report))
    if args.plot:
        plot(report, RESULTS / f"{args.name}.png")
    print(markdown(report))


if __name__ == "__main__":
    main()
