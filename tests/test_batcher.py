"""The batcher that makes every model call (answers.Batcher): each caller gets its own answer, however many share a
batch; a failing call answers every caller waiting in it with the error; and, through the running app, several pages
drawing different digits at once are each answered with their own digit."""

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from test_limits import live
from test_pen_canvas import seven_png

import model_defs
from conftest import MNIST_SUBSET
from digit_studio import answers
from digit_studio.core import mnist_data
from digit_studio.web import events


def digits_marked(count: int) -> list[np.ndarray]:
    """count 28x28 'digits', the i-th filled with i / 100, so that an answer says whose digit it was."""
    return [np.full((28, 28), index / 100, np.float32) for index in range(count)]


class SlowModels:
    """Stands in for the models: each row's probabilities name its digit's mark; the first call holds the batcher
    long enough for the other callers to gather behind it."""

    def __init__(self):
        self.calls = []
        self.first = threading.Event()

    def predict(self, name: str, batch: np.ndarray) -> np.ndarray:
        self.calls.append((name, len(batch)))
        if not self.first.is_set():
            self.first.set()
            time.sleep(0.2)
        return np.repeat(batch.reshape(len(batch), -1)[:, :1], 10, axis=1)


def test_callers_waiting_together_share_one_call_and_each_gets_its_own_rows():
    models = SlowModels()
    batcher = answers.Batcher(models.predict)
    marked = digits_marked(9)
    with ThreadPoolExecutor(9) as pool:
        first = pool.submit(batcher.run, marked[0][None, ..., None])
        models.first.wait(5)  # the first call runs; the other eight queue up behind it
        rest = [pool.submit(batcher.run, digit[None, ..., None]) for digit in marked[1:]]
        results = [first.result(5)] + [future.result(5) for future in rest]
    for index, (probabilities, milliseconds) in enumerate(results):
        assert probabilities["cnn"].shape == (1, 10) and probabilities["linear"].shape == (1, 10)
        assert np.allclose(probabilities["cnn"], index / 100) and np.allclose(probabilities["linear"], index / 100)
        assert set(milliseconds) == set(model_defs.MODEL_NAMES)
    # one call of each model for the first caller, then one for all eight waiting: not nine each
    assert models.calls == [("cnn", 1), ("linear", 1), ("cnn", 8), ("linear", 8)]
    assert batcher.sizes == {1: 1, 8: 1}


def test_a_larger_caller_is_split_back_to_its_own_rows():
    models = SlowModels()
    batcher = answers.Batcher(models.predict)
    marked = np.stack(digits_marked(5))[..., None]
    with ThreadPoolExecutor(3) as pool:
        holding = pool.submit(batcher.run, marked[:1])
        models.first.wait(5)
        three, one = pool.submit(batcher.run, marked[1:4]), pool.submit(batcher.run, marked[4:])
        assert holding.result(5)[0]["cnn"].shape == (1, 10)
        assert np.allclose(three.result(5)[0]["cnn"][:, 0], [0.01, 0.02, 0.03])
        assert np.allclose(one.result(5)[0]["cnn"][:, 0], [0.04])


def test_a_failing_model_call_answers_every_waiting_caller_and_the_next_batch_is_served():
    calls = []

    def predict(name: str, batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        if len(calls) == 1:
            time.sleep(0.2)  # the first call holds the batcher while the others gather
            return np.zeros((len(batch), 10))
        if len(calls) <= 2:
            return np.zeros((len(batch), 10))
        if len(calls) == 3:
            raise RuntimeError("the model's call failed")
        return np.ones((len(batch), 10))

    batcher = answers.Batcher(predict)
    marked = digits_marked(5)
    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(batcher.run, marked[0][None, ..., None])
        time.sleep(0.05)
        waiting = [pool.submit(batcher.run, digit[None, ..., None]) for digit in marked[1:]]
        first.result(5)
        for future in waiting:
            with pytest.raises(RuntimeError, match="the model's call failed"):
                future.result(5)
    assert calls[2] == 4  # the four waiting callers were one batch, and each got the error
    assert np.allclose(batcher.run(marked[0][None, ..., None])[0]["linear"], 1)


def test_the_page_tells_every_visitor_of_a_failed_batch_what_happened(monkeypatch):
    """The digit canvas's live answers, several visitors at once, while the model call fails: each is told the
    studio's own message for a fault of ours, and none gets another's answer."""
    from digit_studio.web import digit_section

    def broken(name: str, batch: np.ndarray) -> np.ndarray:
        time.sleep(0.05)
        raise RuntimeError("out of memory in the model")

    monkeypatch.setattr(answers, "BATCHER", answers.Batcher(broken))
    answer_live = events.live_answers(digit_section.live_view, "sketchpad")
    drawn = {"drawing": 1, "png": seven_png()}

    async def six_visitors() -> list[dict]:
        return await asyncio.gather(*(answer_live({**drawn, "page": uuid.uuid4().hex}) for _ in range(6)))

    replies = asyncio.run(six_visitors())
    assert all(reply == {"drawing": 1, "error": events.SERVER_FAULT} for reply in replies), replies


@pytest.mark.server
def test_pages_drawing_different_digits_at_once_each_get_their_own(app_url):
    """Twelve pages post MNIST test digits to the canvas's live route at once, three times over: each answer names the
    drawing it was sent, the digit it shows is that drawing's, and its 28x28 view is of that drawing."""
    from benchmarks.crowd import canvas_png

    images, labels = mnist_data.load_test_from_dir(MNIST_SUBSET)
    chosen = [int(np.flatnonzero(labels == digit)[0]) for digit in range(10)] + [1, 2]
    sent = [(uuid.uuid4().hex, canvas_png(images[index]), str(labels[index])) for index in chosen]

    def draw(page_png_label, number):
        page, png, label = page_png_label
        reply = live(app_url, {"page": page, "drawing": number, "png": png})
        return reply, label

    with ThreadPoolExecutor(len(sent)) as pool:
        for number in (1, 2, 3):
            for reply, label in pool.map(draw, sent, [number] * len(sent)):
                assert reply["drawing"] == number, reply
                assert f'data-answer="{label}"' in reply["outputs"]["cnn"], (label, reply["outputs"]["cnn"][:120])
                assert f'data-drawing="{number}"' in reply["outputs"]["linear"]


def test_a_pen_up_drawing_passes_the_drawings_sent_while_the_pen_moves(monkeypatch):
    """With as many moving-pen drawings being answered as the route takes at once, another waits its turn, while a
    pen-up drawing ("settled") is answered at once; and while two pen-up drawings are being answered, a moving-pen
    drawing waits for them."""
    release = {}

    async def outputs_of(number: int, sketch: dict, language: str) -> dict:
        if number in release:
            await release[number].wait()
        return {"answered": number}

    def drawn(number: int, settled: bool = False) -> dict:
        return {"page": f"page-{number}", "drawing": number, "png": seven_png(), "settled": settled}

    async def scenario() -> None:
        lanes = events.PenLanes(most=4, crowded=2)
        monkeypatch.setattr(events, "PEN_LANES", lanes)
        live = events.live_answers(outputs_of, "lane-test")
        for _ in range(4):
            await lanes.moving.acquire()  # four moving-pen drawings being read
        moving = asyncio.ensure_future(live(drawn(1)))
        settled = await asyncio.wait_for(live(drawn(2, settled=True)), 5)
        assert settled == {"drawing": 2, "outputs": {"answered": 2}} and not moving.done()
        lanes.moving.release()
        assert await asyncio.wait_for(moving, 5) == {"drawing": 1, "outputs": {"answered": 1}}

        release.update({3: asyncio.Event(), 4: asyncio.Event()})
        finishing = [asyncio.ensure_future(live(drawn(number, settled=True))) for number in (3, 4)]
        await asyncio.sleep(0.05)
        held = asyncio.ensure_future(live(drawn(5)))
        await asyncio.sleep(0.05)
        assert not held.done()  # two pen-up drawings being answered: the moving pen waits
        release[3].set()
        assert await asyncio.wait_for(held, 5) == {"drawing": 5, "outputs": {"answered": 5}}
        release[4].set()
        await asyncio.wait_for(asyncio.gather(*finishing), 5)

    asyncio.run(scenario())
