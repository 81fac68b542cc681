"""How fast the digit studio is, in one run: the app's own work in-process, each model's batch throughput,
and the served API beside a trivial endpoint of the same server.

    python -m benchmarks.bench              # about 3 minutes on 2 cores
    python -m benchmarks.bench --quick      # tiny counts, under a minute: CI runs it so that it keeps working
    python -m benchmarks.bench --json-only  # in-process and the JSON route's rows only, about a minute

Writes bench.json and bench.md to benchmarks/results/ (or --output-dir) and prints the markdown.
It starts `python app.py` on a free port of 127.0.0.1 with DIGIT_STUDIO_BENCH=1, which adds the undocumented
/trivial endpoint: /classify's input and output types, constant values, none of the app's work. The API is
fed MNIST test digit 0 as a 28x28 PNG, by two kinds of client running in this process, on the same cores as
the server: gradio_client, as an API user calls it, and plain HTTP on one kept-alive connection per client
(HttpClient), which shows the server's own cost without gradio_client's (a new connection per request and
50 ms polling for the answer). The JSON route, /api/classify, is measured beside /classify through both: one
request at a time and 16 clients at once (each client with its own connection), and /api/classify_batch with 64
28x28 PNGs per request.
Timings are comparable only within one run, on an otherwise idle machine; none of them is a test.
"""

import argparse
import io
import json
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from gradio_client import Client, handle_file
from PIL import Image

import model_defs
from benchmarks import host
from digit_studio import answers
from digit_studio.core import mnist_data, preprocess, synthetic
from digit_studio.local_server import close_clients, start_app, stop_app
from digit_studio.web import digit_section, events, number_section, why_section

REPO = Path(__file__).resolve().parents[1]
MNIST_SUBSET = REPO / "tests" / "data" / "mnist-test-first-1000"
BATCH_SIZE = 256
API_BATCH_SIZE = 64
CLIENT_COUNTS = (1, 4, 16)
ENDPOINTS = ("/classify", "/trivial")
FULL = {"repeats": 300, "batch_repeats": 20, "serial_pairs": 100, "load_seconds": 5, "load_rounds": 2}
QUICK = {"repeats": 5, "batch_repeats": 2, "serial_pairs": 3, "load_seconds": 0.3, "load_rounds": 1}


def spread(samples_ms: list[float]) -> dict:
    return {
        "p50": float(np.percentile(samples_ms, 50)),
        "p95": float(np.percentile(samples_ms, 95)),
        "p99": float(np.percentile(samples_ms, 99)),
        "count": len(samples_ms),
    }


def time_calls(repeats: int, function, *arguments, warmup: int = 3) -> list[float]:
    """Milliseconds per call of function(*arguments), after a few calls that are not counted."""
    for _ in range(warmup):
        function(*arguments)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*arguments)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def digit_and_outputs(to_digit, value) -> tuple:
    """All the app's work on one input, as the page and the API do it: preprocessing, both models, the outputs."""
    return digit_section.describe(to_digit(value))


def read_number(sketch: dict) -> tuple:
    """A number as the page and the API read it: its digits found, both models on all of them in one batch each."""
    return number_section.read_digits(number_section.number_from_sketch(sketch))


def in_process(
    counts: dict, digit_path: Path, sketch: dict, photo: Image.Image, digits: np.ndarray, number: dict
) -> dict:
    """The app's own functions, called directly: no server, no HTTP."""
    cases = {
        "digit_28": (events.digit_from_upload, {"path": str(digit_path)}),
        "sketch_800": (events.digit_from_sketch, sketch),
        "photo_800": (preprocess.preprocess_image, photo),
    }
    results = {"preprocess_ms": {}, "with_models_ms": {}, "model_ms": {}, "answer_ms": {}, "batch_images_per_s": {}}
    results["photo_ink_ms"] = spread(time_calls(counts["repeats"], preprocess.ink_from_image, photo))
    for case, (to_digit, value) in cases.items():
        results["preprocess_ms"][case] = spread(time_calls(counts["repeats"], to_digit, value))
        results["with_models_ms"][case] = spread(time_calls(counts["repeats"], digit_and_outputs, to_digit, value))
    # "Why they differ": both evidence maps, and one stress-test update (transform + both answers), for one digit
    stress_settings = (3, -2, 20, 1.2, 0.5)  # shift x, y, rotation, scale, thickness: every transform at once
    results["why_ms"] = {
        "evidence_maps": spread(time_calls(counts["repeats"], why_section.explanation, digits[0])),
        "stress_update": spread(time_calls(counts["repeats"], why_section.stress_answers, digits[0], *stress_settings)),
    }
    results["number_ms"] = spread(time_calls(counts["repeats"], read_number, number))
    one, batch = digits[:1, ..., None], digits[:BATCH_SIZE, ..., None]
    for name in model_defs.MODEL_NAMES:
        results["model_ms"][name] = spread(time_calls(counts["repeats"], answers.predict, name, one))
        # what every surface adds to a prediction: the temperature, the digit score and the verdict's fields
        probabilities = answers.predict(name, one)[0]
        results["answer_ms"][name] = spread(time_calls(counts["repeats"], answers.answer, probabilities, name))
        batch_ms = time_calls(counts["batch_repeats"], answers.predict, name, batch)
        results["batch_images_per_s"][name] = BATCH_SIZE / (float(np.median(batch_ms)) / 1000)
    return results


class HttpClient:
    """Gradio's queue protocol (upload, join, read the event stream) on one kept-alive connection."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, timeout=120)
        dependencies = self.http.get("config").raise_for_status().json()["dependencies"]
        self.fn_index = {f"/{dependency['api_name']}": dependency["id"] for dependency in dependencies}

    def predict(self, file: dict, api_name: str) -> list:
        with open(file["path"], "rb") as handle:
            uploaded = self.http.post("gradio_api/upload", files={"files": handle}).raise_for_status().json()[0]
        session = uuid.uuid4().hex
        data = [{**file, "path": uploaded}]
        join = {"data": data, "fn_index": self.fn_index[api_name], "session_hash": session}
        self.http.post("gradio_api/queue/join", json=join).raise_for_status()
        with self.http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                message = json.loads(line[len("data:") :]) if line.startswith("data:") else {}
                if message.get("msg") == "process_completed":
                    if not message.get("success"):
                        raise RuntimeError(f"{api_name} failed: {message.get('output')}")
                    return message["output"]["data"]
        raise RuntimeError(f"{api_name}: the event stream ended without an answer")

    def close(self) -> None:
        self.http.close()


class JsonClient:
    """The JSON route on one kept-alive connection: one POST, one answer."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, timeout=120)

    def predict(self, file: dict, api_name: str) -> dict:
        assert api_name == "/classify", api_name  # the JSON route has no /trivial twin
        with open(file["path"], "rb") as handle:
            return self.http.post("api/classify", files={"image": handle}).raise_for_status().json()

    def batch(self, images: list[bytes]) -> list:
        files = [("images", (f"{index}.png", data)) for index, data in enumerate(images)]
        results = self.http.post("api/classify_batch", files=files).raise_for_status().json()["results"]
        assert all("cnn" in result for result in results), results
        return results

    def close(self) -> None:
        self.http.close()


CLIENT_KINDS = {"gradio_client": lambda url: Client(url, verbose=False), "http": HttpClient}
KIND_TITLES = {"gradio_client": "gradio_client", "http": "HTTP, kept-alive connection", "json": "JSON route"}


def call(client: Client | HttpClient, api_name: str, path: Path) -> float:
    start = time.perf_counter()
    client.predict(handle_file(str(path)), api_name=api_name)
    return (time.perf_counter() - start) * 1000


def serial(client: Client | HttpClient, path: Path, pairs: int) -> dict:
    """One client, one request at a time, alternating endpoints so that drift in the machine's load cancels."""
    samples = {api_name: [] for api_name in ENDPOINTS}
    for index in range(pairs):
        for api_name in ENDPOINTS[:: 1 if index % 2 else -1]:
            samples[api_name].append(call(client, api_name, path))
    results = {api_name: spread(times) for api_name, times in samples.items()}
    results["p50_ratio"] = results["/classify"]["p50"] / results["/trivial"]["p50"]
    return results


def load(clients: list, api_name: str, path: Path, seconds: float) -> tuple[list[float], list[str], float]:
    """Each client sends requests back to back for `seconds`; latencies, errors and the wall time it took."""
    deadline = time.monotonic() + seconds

    def client_loop(client: Client | HttpClient) -> tuple[list[float], list[str]]:
        latencies, errors = [], []
        while time.monotonic() < deadline:
            try:
                latencies.append(call(client, api_name, path))
            except Exception as error:  # every failure counts, whatever its kind
                errors.append(f"{type(error).__name__}: {error}")
        return latencies, errors

    start = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        outcomes = list(pool.map(client_loop, clients))
    return [t for lat, _ in outcomes for t in lat], [e for _, err in outcomes for e in err], time.perf_counter() - start


def concurrent(clients: list, path: Path, counts: dict) -> dict:
    """Throughput and latency with 1, 4 and 16 clients at once; the endpoints take turns, round by round."""
    results = {}
    for client_count in CLIENT_COUNTS:
        rounds = {name: [] for name in ENDPOINTS}
        for round_index in range(counts["load_rounds"]):
            for api_name in ENDPOINTS[:: -1 if round_index % 2 else 1]:
                rounds[api_name].append(load(clients[:client_count], api_name, path, counts["load_seconds"]))
        level = {}
        for api_name, outcomes in rounds.items():
            latencies = [t for round_latencies, _, _ in outcomes for t in round_latencies]
            errors = [e for _, round_errors, _ in outcomes for e in round_errors]
            level[api_name] = {
                "requests_per_s": len(latencies) / sum(seconds for _, _, seconds in outcomes),
                **spread(latencies or [float("nan")]),
                "errors": len(errors),
                "first_error": errors[0] if errors else None,
            }
        level["throughput_ratio"] = level["/classify"]["requests_per_s"] / level["/trivial"]["requests_per_s"]
        results[str(client_count)] = level
    return results


def measure_clients(kind: str, url: str, path: Path, counts: dict) -> dict:
    clients = [CLIENT_KINDS[kind](url) for _ in range(max(CLIENT_COUNTS))]
    try:
        return {
            "serial_ms": serial(clients[0], path, counts["serial_pairs"]),
            "concurrent": concurrent(clients, path, counts),
        }
    finally:
        close_clients(clients)


def json_route(url: str, path: Path, batch: list[bytes], counts: dict) -> dict:
    """/classify through gradio_client and plain HTTP beside /api/classify: serial and 16 clients; a batch of 64."""
    results = {}
    for kind, make_client in {**CLIENT_KINDS, "json": JsonClient}.items():
        clients = [make_client(url) for _ in range(max(CLIENT_COUNTS))]
        try:
            serial_ms = time_calls(counts["serial_pairs"], call, clients[0], "/classify", path)
            seconds = counts["load_seconds"] * counts["load_rounds"]
            latencies, errors, wall = load(clients, "/classify", path, seconds)
        finally:
            close_clients(clients)
        loaded = {"requests_per_s": len(latencies) / wall, **spread(latencies or [float("nan")]), "errors": len(errors)}
        results[kind] = {"serial_ms": spread(serial_ms), "clients_16": loaded}
    json_rate = results["json"]["clients_16"]["requests_per_s"]
    results["ratio_vs_gradio_client"] = json_rate / results["gradio_client"]["clients_16"]["requests_per_s"]
    results["ratio_vs_http"] = json_rate / results["http"]["clients_16"]["requests_per_s"]
    client = JsonClient(url)
    try:
        batch_ms = time_calls(counts["batch_repeats"], client.batch, batch)
    finally:
        client.close()
    results["batch_64"] = {**spread(batch_ms), "images_per_s": len(batch) / (float(np.median(batch_ms)) / 1000)}
    return results


def served(counts: dict, digit_path: Path, batch: list[bytes], json_only: bool) -> dict:
    """Start `python app.py` as a person would, time its start-up, then load it with each kind of client."""
    start = time.monotonic()
    process, url = start_app({"DIGIT_STUDIO_BENCH": "1"})
    try:
        startup = {"server_up": time.monotonic() - start}
        client = Client(url, verbose=False)
        call(client, "/classify", digit_path)
        startup["first_classify_answered"] = time.monotonic() - start
        client.close()
        kinds = {} if json_only else {kind: measure_clients(kind, url, digit_path, counts) for kind in CLIENT_KINDS}
        return {"startup_s": startup, **kinds, "json_route": json_route(url, digit_path, batch, counts)}
    finally:
        stop_app(process)


def ms(figures: dict) -> str:
    return f"{figures['p50']:.2f} / {figures['p95']:.2f}"


def markdown(report: dict) -> str:
    local, api, machine = report["in_process"], report["served"], report["machine"]
    lines = [
        host.described(machine) + (" Counts of --quick." if report["quick"] else ""),
        "",
        "| in-process, ms p50 / p95 | preprocessing | preprocessing + both models + outputs |",
        "|---|---|---|",
    ]
    titles = {
        "digit_28": "28x28 MNIST digit, PNG file",
        "sketch_800": "800x800 sketch layer, PNG file",
        "photo_800": "800x800 photo (JPEG, resized)",
    }
    for case, title in titles.items():
        lines.append(f"| {title} | {ms(local['preprocess_ms'][case])} | {ms(local['with_models_ms'][case])} |")
    ink = ms(local["photo_ink_ms"])
    lines += ["", f"The photo's ink alone (`preprocess.ink_from_image`, the opaque path): {ink} ms p50 / p95."]
    why = local["why_ms"]
    lines += [
        "",
        "| Why they differ, in-process, ms p50 / p95 | evidence maps, both models | one stress-test update |",
        "|---|---|---|",
        f"| MNIST test digit 0 | {ms(why['evidence_maps'])} | {ms(why['stress_update'])} |",
    ]
    lines += ["", f"4-digit number on the 800x400 canvas, read by both models: {ms(local['number_ms'])} ms p50 / p95."]
    lines += [
        "",
        f"| model | one image, ms p50 / p95 | its answer shown (calibrated, digit score), ms p50 / p95 "
        f"| batch of {BATCH_SIZE}, images/s |",
        "|---|---|---|---|",
    ]
    for name in model_defs.MODEL_NAMES:
        lines.append(
            f"| {name} | {ms(local['model_ms'][name])} | {ms(local['answer_ms'][name])} "
            f"| {local['batch_images_per_s'][name]:,.0f} |"
        )
    lines += ["", *json_route_markdown(api["json_route"])]
    if all(kind in api for kind in CLIENT_KINDS):
        lines += ["", *trivial_markdown(api)]
    startup = api["startup_s"]
    lines += [
        "",
        f"Start-up: `python app.py` to the first answered /classify in {startup['first_classify_answered']:.1f} s "
        f"(the server answered /config after {startup['server_up']:.1f} s).",
    ]
    return "\n".join(lines) + "\n"


def json_route_markdown(route: dict) -> list[str]:
    lines = [
        "| /classify's digit | one request at a time, ms p50 / p95 | 16 clients, req/s | 16 clients, p50 / p99 ms "
        "| errors |",
        "|---|---|---|---|---|",
    ]
    paths = {"gradio_client": "/classify, gradio_client", "http": "/classify, plain HTTP", "json": "/api/classify"}
    for kind, title in paths.items():
        loaded = route[kind]["clients_16"]
        lines.append(
            f"| {title} | {ms(route[kind]['serial_ms'])} | {loaded['requests_per_s']:.1f} "
            f"| {loaded['p50']:.1f} / {loaded['p99']:.1f} | {loaded['errors']} |"
        )
    batch = route["batch_64"]
    return [
        *lines,
        "",
        f"/api/classify with 16 clients: {route['ratio_vs_gradio_client']:.1f}x the requests per second of /classify "
        f"through gradio_client, {route['ratio_vs_http']:.1f}x through plain HTTP. /api/classify_batch, "
        f"{API_BATCH_SIZE} 28x28 PNGs per request: {ms(batch)} ms p50 / p95, {batch['images_per_s']:,.0f} images/s.",
    ]


def trivial_markdown(api: dict) -> list[str]:
    lines = [
        "| one request at a time, ms p50 / p95 | /classify | /trivial | ratio of p50s |",
        "|---|---|---|---|",
    ]
    for kind in CLIENT_KINDS:
        serial_ms = api[kind]["serial_ms"]
        cells = " | ".join(ms(serial_ms[name]) for name in ENDPOINTS)
        lines.append(f"| {KIND_TITLES[kind]} | {cells} | {serial_ms['p50_ratio']:.2f}x |")
    lines += [
        "",
        "| concurrent clients | /classify req/s | p50 / p99 ms | errors | /trivial req/s | p50 / p99 ms | errors "
        "| throughput ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in CLIENT_KINDS:
        for count, level in api[kind]["concurrent"].items():
            cells = " | ".join(
                f"{level[name]['requests_per_s']:.1f} | {level[name]['p50']:.1f} / {level[name]['p99']:.1f} "
                f"| {level[name]['errors']}"
                for name in ENDPOINTS
            )
            lines.append(f"| {count} x {KIND_TITLES[kind]} | {cells} | {level['throughput_ratio']:.2f}x |")
    return lines


def encoded_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: proves the benchmark runs, measures little")
    parser.add_argument("--json-only", action="store_true", help="skip the /classify vs /trivial comparison")
    parser.add_argument("--output-dir", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    counts = QUICK if args.quick else FULL

    images, _ = mnist_data.load_test_from_dir(MNIST_SUBSET)
    digits = images[:BATCH_SIZE].astype(np.float32) / 255
    photo = synthetic.make("paper_photo", 3).resize((800, 800))
    batch = [encoded_png(image) for image in images[:API_BATCH_SIZE]]
    import app  # noqa: F401  loads both models, as the server does; here, so that --help starts nothing

    report = {"machine": host.machine(), "quick": args.quick, "counts": counts}
    with tempfile.TemporaryDirectory() as folder:
        digit_path, layer_path = Path(folder) / "digit.png", Path(folder) / "layer.png"
        Image.fromarray(images[0]).save(digit_path)
        synthetic.make("transparent_sketch", 3).save(layer_path)  # the app reads a sketch's files, as the API sends
        sketch = {"background": None, "layers": [{"path": str(layer_path)}], "composite": None}
        number_path = Path(folder) / "number.png"
        synthetic.drawn_number("2026").save(number_path)  # 4 digits on the 800x400 canvas
        number = {"background": None, "layers": [{"path": str(number_path)}], "composite": None}
        report["in_process"] = in_process(counts, digit_path, sketch, photo, digits, number)
        report["served"] = served(counts, digit_path, batch, args.json_only)
    report["machine"]["load_average_at_end"] = host.load_average()

    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (args.output_dir / "bench.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
