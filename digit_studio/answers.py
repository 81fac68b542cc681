"""The models' answers: both Keras models run on 28x28 digits, and the one place where their probabilities become
what every surface shows (the page's labels and summary, the Gradio endpoints, the JSON routes, the number reader).

    answers.load(weights_dir)                   # app.py, at start-up: both models and their calibration
    answers.answer(probabilities, "cnn")        # {"label": "7", "confidence": 0.98, "confidences": {...},
                                                #  "is_digit": True, "digit_score": 0.93}
    answers.both(digits)                        # for each digit: {"cnn": answer, "linear": answer, "agree": bool,
                                                #  "is_digit": bool}
    answers.verdict(pair)                       # "Both models say **7**.", who says what, or not a digit

Every surface's model calls go through one Batcher (BATCHER): many visitors at once make one call of each model,
not one each (docs/performance.md).

The confidences shown are the models' probabilities at their fitted temperatures (calibrated on held-out MNIST
digits); a model takes the input for a digit it knows when its digit score is 0.5 or more (confidence.py), and the
studio does when both models do.
"""

import asyncio
import collections
import os
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

import model_defs
from digit_studio import words
from digit_studio.core import confidence

MODELS: dict = {}  # both Keras models by name, filled by load() at start-up, before any request can arrive
CALIBRATION: dict = {}  # each model's {"temperature", "digit_threshold"} from metrics.json, filled by load()
SPLIT_BATCH = 32  # from this size a batch runs faster as two halves at once than in one call (docs/performance.md)
HALVES = ThreadPoolExecutor(2, thread_name_prefix="model-half")


def load(weights_dir) -> dict:
    """Load both models and their calibration from weights_dir (model_defs checks every file); returns the models."""
    models = {name: model_defs.load_model(name, weights_dir) for name in model_defs.MODEL_NAMES}
    CALIBRATION.update({name: model_defs.calibration(name, weights_dir) for name in model_defs.MODEL_NAMES})
    MODELS.update(models)
    return models


def predict(model_name: str, batch: np.ndarray) -> np.ndarray:
    """Probabilities, N x 10, for an N x 28 x 28 x 1 float32 batch; a batch of SPLIT_BATCH or more in two halves
    at once, as TensorFlow runs calls from two threads side by side on its two inter-op threads (app.py)."""
    # predict_on_batch runs a graph traced once; a direct eager call re-runs Keras's Python for every layer, and
    # predict() builds a dataset for every call: both many times slower for one digit.
    model = MODELS[model_name]
    if len(batch) < SPLIT_BATCH:
        return model.predict_on_batch(batch)
    return np.concatenate(list(HALVES.map(model.predict_on_batch, np.array_split(batch, 2))))


class Batcher:
    """One thread makes every model call. A caller hands it a batch of digits and waits for its own probabilities;
    the thread takes every batch already waiting (up to `most` digits; waiting `wait_s` more for others, 0 by default,
    as Triton's dynamic batcher), runs each model once on all of them, and answers each caller, or each with the same
    error. While one call runs, the next callers gather: the busier the server, the larger its batches."""

    def __init__(self, predict, wait_s: float = 0.0, most: int = 256):
        self.predict, self.wait_s, self.most = predict, wait_s, most
        self.waiting = queue.SimpleQueue()
        self.start_lock = threading.Lock()
        self.thread = None
        self.sizes = collections.Counter()  # how many batches of each size it has run

    def run(self, batch: np.ndarray) -> tuple[dict, dict[str, float]]:
        """Each model's probabilities for an N x 28 x 28 x 1 batch, and each model's wall time in milliseconds
        for the whole batch these digits were run in."""
        return self.submit(batch).result()

    async def ask(self, batch: np.ndarray) -> tuple[dict, dict[str, float]]:
        """As run, awaited: the event loop serves others while the models run."""
        return await asyncio.wrap_future(self.submit(batch))

    def submit(self, batch: np.ndarray) -> Future:
        self.started()
        outcome = Future()
        self.waiting.put((batch, outcome))
        return outcome

    def started(self) -> None:
        with self.start_lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self.serve, name="model-batcher", daemon=True)
                self.thread.start()

    def gather(self) -> list[tuple[np.ndarray, Future]]:
        jobs = [self.waiting.get()]
        count, deadline = len(jobs[0][0]), time.perf_counter() + self.wait_s
        while count < self.most:
            try:
                remaining = deadline - time.perf_counter()
                job = self.waiting.get(timeout=remaining) if remaining > 0 else self.waiting.get_nowait()
            except queue.Empty:
                break
            jobs.append(job)
            count += len(job[0])
        return jobs

    def serve(self) -> None:
        while True:
            jobs = self.gather()
            try:
                batch = np.concatenate([digits for digits, _ in jobs]) if len(jobs) > 1 else jobs[0][0]
                self.sizes[len(batch)] += 1
                probabilities, milliseconds = {}, {}
                for name in model_defs.MODEL_NAMES:
                    start = time.perf_counter()
                    probabilities[name] = self.predict(name, batch)
                    milliseconds[name] = (time.perf_counter() - start) * 1000
            except Exception as error:  # every caller in the batch gets it, and the thread serves the next
                for _, outcome in jobs:
                    outcome.set_exception(error)
                continue
            offset = 0
            for digits, outcome in jobs:
                mine = {name: values[offset : offset + len(digits)] for name, values in probabilities.items()}
                outcome.set_result((mine, milliseconds))
                offset += len(digits)


# MODEL_BATCH_WAIT_MS: how long the batcher waits for more callers after the first (0: it takes only those waiting);
# MODEL_BATCH_MOST: the most digits in one call (1: no batching)
BATCHER = Batcher(
    predict,
    wait_s=float(os.environ.get("MODEL_BATCH_WAIT_MS", "0")) / 1000,
    most=int(os.environ.get("MODEL_BATCH_MOST", "256")),
)


def answer(probabilities: np.ndarray, model_name: str) -> dict:
    """One model's answer for one digit: its label, how sure it is, all ten probabilities by label (calibrated),
    whether it takes the input for a digit it knows, and its digit score (0 to 1; 0.5 or more: a digit)."""
    calibration = CALIBRATION[model_name]
    values = confidence.tempered(probabilities, calibration["temperature"]).tolist()  # Python floats all at once
    score = float(confidence.scaled_score(confidence.digit_score(probabilities), calibration["digit_threshold"]))
    best = values.index(max(values))
    return {
        "label": model_defs.CLASS_NAMES[best],
        "confidence": values[best],
        "confidences": dict(zip(model_defs.CLASS_NAMES, values, strict=True)),
        "is_digit": score >= 0.5,
        "digit_score": round(score, 4),
    }


def both(digits: list[np.ndarray] | np.ndarray, predict=None) -> list[dict]:
    """Both models' answers for each 28x28 digit, and whether they agree: through the batcher, or with
    `predict(model_name, batch)` called directly, once per model for all of them."""
    batch = np.stack(digits)[..., None]
    if predict is None:
        return pairs(BATCHER.run(batch)[0])
    return pairs({name: predict(name, batch) for name in model_defs.MODEL_NAMES})


async def both_async(digits: list[np.ndarray]) -> list[dict]:
    """As both, through the batcher, awaited."""
    return pairs((await BATCHER.ask(np.stack(digits)[..., None]))[0])


def pairs(probabilities: dict) -> list[dict]:
    """Both models' answers for each row of their probabilities, and whether they agree."""
    count = len(probabilities[model_defs.MODEL_NAMES[0]])
    return [
        agreeing({name: answer(probabilities[name][index], name) for name in model_defs.MODEL_NAMES})
        for index in range(count)
    ]


def timed(digit: np.ndarray) -> tuple[dict, dict[str, float]]:
    """Both models' answers for one 28x28 digit, through the batcher, and each model's wall time in milliseconds for
    the batch it ran in (TensorFlow runs part of each call on its own thread, so CPU time would undercount it)."""
    probabilities, milliseconds = BATCHER.run(digit[None, :, :, None])
    return agreeing({name: answer(probabilities[name][0], name) for name in model_defs.MODEL_NAMES}), milliseconds


def agreeing(pair: dict) -> dict:
    """Both models' answers for one digit, whether they name the same digit, and the studio's verdict: a digit
    when neither model judges it not a digit."""
    is_digit = all(pair[name]["is_digit"] for name in model_defs.MODEL_NAMES)
    return {**pair, "agree": pair["cnn"]["label"] == pair["linear"]["label"], "is_digit": is_digit}


def verdict(pair: dict, language: str = words.ENGLISH) -> str:
    """One line on both answers for a digit: not a digit and who noticed, the digit they agree on, or who says
    what; in English (the API's) unless the page asks for its visitor's language."""
    cnn, linear = pair["cnn"]["label"], pair["linear"]["label"]
    if not pair["is_digit"]:
        noticed = [name for name in model_defs.MODEL_NAMES if not pair[name]["is_digit"]]
        if len(noticed) == len(model_defs.MODEL_NAMES):
            return words.text("verdict_neither", language)
        other = next(name for name in model_defs.MODEL_NAMES if name not in noticed)
        return words.text(
            "verdict_noticed",
            language,
            noticed=words.text(f"the_{noticed[0]}", language),
            other=words.text(f"the_{other}", language),
            label=pair[other]["label"],
        )
    if cnn == linear:
        return words.text("verdict_both", language, digit=cnn)
    return words.text("verdict_disagree", language, cnn=cnn, linear=linear)


def read_as(answer: dict) -> str:
    """One model's answer as a character of a number: its digit, or "?" where it does not take it for one."""
    return answer["label"] if answer["is_digit"] else "?"


def predicted_digits(model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Each image's most likely digit, for N x 28 x 28 images (uint8 from 0 to 255, or floats from 0 to 1), in
    batches: for scripts and tests that score many digits at once."""
    scale = np.float32(1 / 255) if images.dtype == np.uint8 else np.float32(1)
    return np.concatenate(
        [
            np.argmax(model.predict_on_batch(images[start : start + batch_size, ..., None] * scale), axis=1)
            for start in range(0, len(images), batch_size)
        ]
    )
