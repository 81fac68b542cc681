"""The models' answers: both Keras models run on 28x28 digits, and the one place where their probabilities become
what every surface shows (the page's labels and summary, the Gradio endpoints, the JSON routes, the number reader).

    answers.load(weights_dir)                   # app.py, at start-up: both models and their calibration
    answers.answer(probabilities, "cnn")        # {"label": "7", "confidence": 0.98, "confidences": {...},
                                                #  "is_digit": True, "digit_score": 0.93}
    answers.both(digits)                        # for each digit: {"cnn": answer, "linear": answer, "agree": bool,
                                                #  "is_digit": bool}
    answers.verdict(pair)                       # "Both models say **7**.", who says what, or not a digit

The confidences shown are the models' probabilities at their fitted temperatures (calibrated on held-out MNIST
digits); a model takes the input for a digit it knows when its digit score is 0.5 or more (confidence.py), and the
studio does when both models do.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import model_defs
from digit_studio.core import confidence

MODELS: dict = {}  # both Keras models by name, filled by load() at start-up, before any request can arrive
CALIBRATION: dict = {}  # each model's {"temperature", "digit_threshold"} from metrics.json, filled by load()
NAMES = {"cnn": "the CNN", "linear": "the dense network"}
SPLIT_BATCH = 32  # the CNN on 64 digits: 10.9 ms in two halves at once, 18.5 ms in one call (docs/performance.md)
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
    # predict_on_batch runs a graph traced once (~0.6 ms for the CNN); a direct eager call re-runs Keras's Python
    # for every layer (~7 ms), and predict() builds a dataset for every call (~100 ms).
    model = MODELS[model_name]
    if len(batch) < SPLIT_BATCH:
        return model.predict_on_batch(batch)
    return np.concatenate(list(HALVES.map(model.predict_on_batch, np.array_split(batch, 2))))


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


def both(digits: list[np.ndarray] | np.ndarray, predict=predict) -> list[dict]:
    """Both models' answers for each 28x28 digit, and whether they agree; one model call each for all of them."""
    batch = np.stack(digits)[..., None]
    probabilities = {name: predict(name, batch) for name in model_defs.MODEL_NAMES}
    results = []
    for index in range(len(batch)):
        pair = {name: answer(probabilities[name][index], name) for name in model_defs.MODEL_NAMES}
        results.append(agreeing(pair))
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
        pair[name] = answer(probabilities, name)
    return agreeing(pair), milliseconds


def agreeing(pair: dict) -> dict:
    """Both models' answers for one digit, whether they name the same digit, and the studio's verdict: a digit
    when neither model judges it not a digit."""
    is_digit = all(pair[name]["is_digit"] for name in model_defs.MODEL_NAMES)
    return {**pair, "agree": pair["cnn"]["label"] == pair["linear"]["label"], "is_digit": is_digit}


def verdict(pair: dict) -> str:
    """One line on both answers for a digit: not a digit and who noticed, the digit they agree on, or who says
    what."""
    cnn, linear = pair["cnn"]["label"], pair["linear"]["label"]
    if not pair["is_digit"]:
        noticed = [name for name in model_defs.MODEL_NAMES if not pair[name]["is_digit"]]
        if len(noticed) == len(model_defs.MODEL_NAMES):
            return "That doesn't look like a digit: neither model knows it."
        other = next(name for name in model_defs.MODEL_NAMES if name not in noticed)
        return (
            f"That doesn't look like a digit: {NAMES[noticed[0]]} noticed "
            f"({NAMES[other]} would say **{pair[other]['label']}**)."
        )
    if cnn == linear:
        return f"Both models say **{cnn}**."
    return f"The models disagree: the CNN says **{cnn}**, the dense network **{linear}**."


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
