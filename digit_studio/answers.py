"""The models' answers: both Keras models run on 28x28 digits, and the one place where their probabilities become
what every surface shows (the page's labels and summary, the Gradio endpoints, the JSON routes, the number reader).

    answers.MODELS.update(loaded)               # app.py, at start-up: {"cnn": model, "linear": model}
    answers.answer(probabilities)               # {"label": "7", "confidence": 0.98, "confidences": {...}}
    answers.both(digits)                        # for each digit: {"cnn": answer, "linear": answer, "agree": bool}
    answers.verdict(pair)                       # "Both models say **7**." or who says what
"""

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import model_defs

MODELS: dict = {}  # both Keras models by name, filled by app.py at start-up, before any request can arrive
SPLIT_BATCH = 32  # the CNN on 64 digits: 10.9 ms in two halves at once, 18.5 ms in one call (docs/performance.md)
HALVES = ThreadPoolExecutor(2, thread_name_prefix="model-half")


def predict(model_name: str, batch: np.ndarray) -> np.ndarray:
    """Probabilities, N x 10, for an N x 28 x 28 x 1 float32 batch; a batch of SPLIT_BATCH or more in two halves
    at once, as TensorFlow runs calls from two threads side by side on its two inter-op threads (app.py)."""
    # predict_on_batch runs a graph traced once (~0.6 ms for the CNN); a direct eager call re-runs Keras's Python
    # for every layer (~7 ms), and predict() builds a dataset for every call (~100 ms).
    model = MODELS[model_name]
    if len(batch) < SPLIT_BATCH:
        return model.predict_on_batch(batch)
    return np.concatenate(list(HALVES.map(model.predict_on_batch, np.array_split(batch, 2))))


def answer(probabilities: np.ndarray) -> dict:
    """One model's answer for one digit: its label, how sure it is, and all ten probabilities by label."""
    values = probabilities.tolist()  # Python floats all at once: a batch's 1,280 one by one took 4 ms
    best = values.index(max(values))
    return {
        "label": model_defs.CLASS_NAMES[best],
        "confidence": values[best],
        "confidences": dict(zip(model_defs.CLASS_NAMES, values, strict=True)),
    }


def both(digits: list[np.ndarray] | np.ndarray, predict=predict) -> list[dict]:
    """Both models' answers for each 28x28 digit, and whether they agree; one model call each for all of them."""
    batch = np.stack(digits)[..., None]
    probabilities = {name: predict(name, batch) for name in model_defs.MODEL_NAMES}
    results = []
    for index in range(len(batch)):
        results.append(agreeing({name: answer(probabilities[name][index]) for name in model_defs.MODEL_NAMES}))
    return results


def timed(digit: np.ndarray) -> tuple[dict, dict[str, float]]:
    """Both models' answers for one 28x28 digit, and each model's wall time in milliseconds (TensorFlow runs part
    of each call on its own thread, so this thread's CPU time would undercount it)."""
    batch = digit[None, :, :, None]
    pair, milliseconds = {}, {}
    for name in model_defs.MODEL_NAMES:
        start = time.perf_counter()
        probabilities = predict(name, batch)[0]
        milliseconds[name] = (time.perf_counter() - start) * 1000
        pair[name] = answer(probabilities)
    return agreeing(pair), milliseconds


def agreeing(pair: dict) -> dict:
    """Both models' answers for one digit, and whether they name the same digit."""
    return {**pair, "agree": pair["cnn"]["label"] == pair["linear"]["label"]}


def verdict(pair: dict) -> str:
    """One line on both answers for a digit: the digit they agree on, or who says what."""
    cnn, linear = pair["cnn"]["label"], pair["linear"]["label"]
    if cnn == linear:
        return f"Both models say **{cnn}**."
    return f"The models disagree: the CNN says **{cnn}**, the dense network **{linear}**."


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
