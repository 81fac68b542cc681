"""Worker processes for the CPU work of reading pictures, so that it runs on every core and not under the serving
process's one interpreter lock: a JSON batch's small images (json_api.py) and every drawing from the page's canvas
(events.digit_from_pen).

    processes.start()                          # app.py, after the models are loaded and before the server starts
    digit = processes.run(function, argument)  # on a worker when they run, else here; its result or its exception
    digit = await processes.run_async(function, argument)  # the same, while the event loop serves others
"""

import asyncio
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

POOL: "Workers | None" = None  # set by start(); none in tests that import the sections, nor off Linux


class Workers:
    """Processes that preprocess pictures side by side: Python runs one thread at a time, and both a batch of 64
    small PNGs and a class drawing at once spend most of their time in preprocessing.

    They are forked, all at once, when this is made: app.py makes it before it starts serving, while no request
    holds a lock a worker could inherit, and each worker starts at once with every module already imported (a
    spawned one would run app.py again). A worker ends with its parent, even one killed outright. If a worker dies
    (killed for memory, say), the batches from then on are preprocessed in the serving process, as without workers.
    """

    def __init__(self, count: int):
        self.count = count
        self.pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            count, multiprocessing.get_context("fork"), initializer=follow_parent, initargs=(os.getpid(),)
        )
        list(self.pool.map(abs, range(count)))  # Python forks them all at the first task

    def outcomes(self, images: list[bytes]) -> list[np.ndarray | dict | None]:
        """json_api.small_outcomes on the workers, in about two chunks each; all None once the pool has broken."""
        from digit_studio.web.json_api import small_outcomes  # json_api uses this module

        if self.pool is None:
            return [None] * len(images)
        size = -(-len(images) // (2 * self.count))
        try:
            chunks = self.pool.map(
                small_outcomes, [images[start : start + size] for start in range(0, len(images), size)]
            )
            return [outcome for chunk in chunks for outcome in chunk]
        except BrokenProcessPool:
            self.broken()
            return [None] * len(images)

    def run(self, function, *arguments):
        """function(*arguments) on a worker, or here once the pool has broken; its result or its exception."""
        if self.pool is not None:
            try:
                return self.pool.submit(function, *arguments).result()
            except BrokenProcessPool:
                self.broken()
        return function(*arguments)

    def broken(self) -> None:
        self.pool = None
        print("a preprocessing worker died; pictures are now preprocessed in the server", flush=True)

    def pids(self) -> list[int]:
        return list(self.pool._processes) if self.pool else []

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def follow_parent(parent: int) -> None:
    """In a worker: leave Ctrl-C to the server, and end within a second of the server's own end, however it ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def start() -> None:
    """Fork one worker per core (at most 4) now, before the server takes a request (Linux only: fork is unsafe on
    macOS and absent on Windows, where pictures are read in the serving process)."""
    global POOL
    cores = len(os.sched_getaffinity(0)) if sys.platform == "linux" else 1
    if cores > 1:
        POOL = Workers(min(cores, 4))


def run(function, *arguments):
    return POOL.run(function, *arguments) if POOL else function(*arguments)


async def run_async(function, *arguments):
    """As run, awaited (without workers, on a thread), so that the event loop serves others meanwhile."""
    if POOL and POOL.pool:
        try:
            return await asyncio.wrap_future(POOL.pool.submit(function, *arguments))
        except BrokenProcessPool:
            POOL.broken()
    return await asyncio.to_thread(function, *arguments)
