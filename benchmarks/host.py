"""The machine a benchmark ran on, kept beside its figures: on a shared CPU a timing means little without it."""

import importlib.metadata
import os
import platform
from pathlib import Path

# The packages that set the app's speed, by the names pip installs them under (TensorFlow has two wheels).
PACKAGES = {"keras": ("keras",), "tensorflow": ("tensorflow-cpu", "tensorflow"), "gradio": ("gradio",)}


def version(distributions: tuple[str, ...]) -> str | None:
    for distribution in distributions:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def load_average() -> list[float]:
    """The load average over the last 1, 5 and 15 minutes: how busy the cores were besides the benchmark."""
    return [round(load, 2) for load in os.getloadavg()]


def machine() -> dict:
    """CPU model, cores, memory, Python and the packages' versions, and the load average as the run starts."""
    cpuinfo, meminfo = Path("/proc/cpuinfo").read_text().splitlines(), Path("/proc/meminfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    memory_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    return {
        "cpu": cpu or platform.processor(),
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(memory_kb / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        **{name: version(distributions) for name, distributions in PACKAGES.items()},
        "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "load_average_at_start": load_average(),
    }


def described(host: dict) -> str:
    """The machine in one line, for a result's markdown."""
    loads = ", ".join(
        f"{' / '.join(f'{load:.2f}' for load in host[key])} at {when}"
        for key, when in (("load_average_at_start", "start"), ("load_average_at_end", "end"))
        if key in host
    )
    return (
        f"Machine: {host['cpu']}, {host['cores']} cores, {host['memory_gib']} GiB; Python {host['python']}, "
        f"Keras {host['keras']} ({host['backend']}, TensorFlow {host['tensorflow']}), Gradio {host['gradio']}; "
        f"load average (1 / 5 / 15 min) {loads}."
    )
