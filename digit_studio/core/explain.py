"""Why the CNN and the dense network differ: evidence maps, the inside of each network, and the stress test.

Every function takes a model and a 28x28 input (MNIST's float32 white-on-black, as preprocess.py makes it)
and returns numpy arrays; the page, the API and robustness.py only draw or count what they return.

- ``evidence(model, digit)``: occlusion (Zeiler and Fergus 2014, "Visualizing and understanding convolutional
  networks"). Each 2x2 block holding ink is blanked in turn, all blocks in one batch, and the drop in the
  model's log-odds for its own label is the block's evidence, shared among the block's pixels by their ink.
  Positive: the ink pushed the model toward its answer; negative: against it. Occlusion is faithful by
  construction (it *is* the effect of removing the ink) and needs only forward passes, so it runs on any
  Keras backend; gradient methods (integrated gradients, gradient x input) would need each backend's own
  gradient code. Blank pixels get 0: with a blank baseline they contribute nothing (as with integrated
  gradients from a black image). 2x2 blocks, not single pixels: a quarter of the forward passes, so both
  models fit in tens of milliseconds on two cores, while the map still follows the strokes.
- ``feature_maps(cnn, digit)``: the CNN's 32 first-layer (28x28) and 48 second-layer (10x10) maps, after ReLU.
- ``active_units(linear, digit)``: the dense network's most active first-layer units and their 28x28 weight
  templates (each unit's activation is the template's dot product with the input, plus a bias, then ReLU).
- ``stress(digit, ...)``: shift, rotate, scale, thicken or thin the 28x28 input as it is, without re-centring.
- ``overlay``, ``grid``: the RGB pictures the page shows, with one colour scale per view.
"""

import functools

import keras
import numpy as np
from PIL import Image

from digit_studio import words
from digit_studio.core import preprocess

BLOCK = 2  # occlusion block side in pixels
SIZE = 28
# The stress test's controls: name -> (lowest, highest, identity). Thickness in steps of one 3x3 dilation (+) or
# erosion (-); fractions blend two steps.
STRESS_LIMITS = {
    "shift_x": (-8.0, 8.0, 0.0),
    "shift_y": (-8.0, 8.0, 0.0),
    "rotation": (-45.0, 45.0, 0.0),
    "scale": (0.6, 1.4, 1.0),
    "thickness": (-2.0, 2.0, 0.0),
}
STRESS_TITLES = {name: words.text(f"stress_{name}") for name in STRESS_LIMITS}  # the page's words, in English
TEMPLATE_COUNT = 8


@functools.cache
def logits_model(model: keras.Model) -> tuple[keras.Model, np.ndarray, np.ndarray]:
    """The model up to its last layer's input, and that layer's kernel and bias: logits = features @ W + b.

    Log-odds from logits stay finite where a softmax saturates to 1.0 in float32; cached per model, as
    predict_on_batch traces each new model once.
    """
    last = model.layers[-1]
    kernel, bias = (np.asarray(keras.ops.convert_to_numpy(weight)) for weight in last.weights)
    return keras.Model(model.inputs, last.input), kernel, bias


def logits(model: keras.Model, batch: np.ndarray) -> np.ndarray:
    """N x 10 logits for an N x 28 x 28 float32 batch."""
    features, kernel, bias = logits_model(model)
    return np.asarray(features.predict_on_batch(batch[..., None])) @ kernel + bias


def softmax(row: np.ndarray) -> np.ndarray:
    exp = np.exp(row - row.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def log_odds(rows: np.ndarray, label: int) -> np.ndarray:
    """log p(label) - log p(any other digit), from logits: how sure the model is of `label`."""
    others = np.delete(rows, label, axis=-1)
    top = others.max(axis=-1, keepdims=True)
    return rows[..., label] - (top[..., 0] + np.log(np.exp(others - top).sum(axis=-1)))


def occlusion_blocks(digit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The BLOCK x BLOCK blocks of the field that hold ink: their (row, column) indices and the blanked inputs."""
    blocks = digit.reshape(SIZE // BLOCK, BLOCK, SIZE // BLOCK, BLOCK).sum(axis=(1, 3))
    rows, columns = np.nonzero(blocks > 0)
    batch = np.repeat(digit[None], len(rows), axis=0)
    for index, (row, column) in enumerate(zip(rows, columns, strict=True)):
        batch[index, row * BLOCK : (row + 1) * BLOCK, column * BLOCK : (column + 1) * BLOCK] = 0
    return np.stack([rows, columns], axis=1), batch


def evidence(model: keras.Model, digit: np.ndarray) -> dict:
    """The model's label, confidence and occlusion map (28x28, log-odds; positive = evidence for the label)."""
    digit = np.asarray(digit, np.float32)
    blocks, blanked = occlusion_blocks(digit)
    rows = logits(model, np.concatenate([digit[None], blanked]))
    label = int(np.argmax(rows[0]))
    drops = log_odds(rows[:1], label) - log_odds(rows[1:], label)
    block_evidence = np.zeros((SIZE // BLOCK, SIZE // BLOCK), np.float32)
    block_evidence[blocks[:, 0], blocks[:, 1]] = drops
    block_ink = digit.reshape(SIZE // BLOCK, BLOCK, SIZE // BLOCK, BLOCK).sum(axis=(1, 3))
    share = digit / np.maximum(np.kron(block_ink, np.ones((BLOCK, BLOCK), np.float32)), 1e-12)
    return {
        "label": label,
        "confidence": float(softmax(rows[0])[label]),
        "probabilities": softmax(rows[0]),
        "saliency": (np.kron(block_evidence, np.ones((BLOCK, BLOCK), np.float32)) * share).astype(np.float32),
    }


@functools.cache
def layer_model(model: keras.Model, layer_names: tuple[str, ...]) -> keras.Model:
    return keras.Model(model.inputs, [model.get_layer(name).output for name in layer_names])


def feature_maps(cnn: keras.Model, digit: np.ndarray) -> list[np.ndarray]:
    """The outputs of the CNN's two convolutions (after ReLU): 28 x 28 x 32 and 10 x 10 x 48."""
    names = tuple(layer.name for layer in cnn.layers if isinstance(layer, keras.layers.Conv2D))
    outputs = layer_model(cnn, names).predict_on_batch(np.asarray(digit, np.float32)[None, ..., None])
    return [np.asarray(output)[0] for output in outputs]


def active_units(linear: keras.Model, digit: np.ndarray, count: int = TEMPLATE_COUNT) -> list[dict]:
    """The dense network's `count` most active first-layer units: index, activation and 28x28 weight template."""
    first = next(layer for layer in linear.layers if isinstance(layer, keras.layers.Dense))
    kernel, bias = (np.asarray(keras.ops.convert_to_numpy(weight)) for weight in first.weights)
    activations = np.maximum(np.asarray(digit, np.float32).reshape(-1) @ kernel + bias, 0)
    order = np.argsort(-activations)[:count]
    return [
        {"unit": int(unit), "activation": float(activations[unit]), "template": kernel[:, unit].reshape(SIZE, SIZE)}
        for unit in order
    ]


def check_stress(settings: dict) -> dict:
    """All five controls as floats within STRESS_LIMITS; anything else is a ValueError that names the control."""
    checked = {}
    for name, (lowest, highest, identity) in STRESS_LIMITS.items():
        value = settings.get(name, identity)
        try:
            value = float(identity if value is None else value)
        except (TypeError, ValueError):
            raise ValueError(f"The stress control '{STRESS_TITLES[name]}' must be a number.") from None
        if not lowest <= value <= highest:  # also refuses NaN
            raise ValueError(f"The stress control '{STRESS_TITLES[name]}' must be between {lowest:g} and {highest:g}.")
        checked[name] = value
    unknown = set(settings) - set(STRESS_LIMITS)
    if unknown:
        raise ValueError(f"Unknown stress controls: {', '.join(sorted(map(str, unknown)))}.")
    return checked


def clamp_stress(settings: dict) -> dict:
    """Each control's number brought within STRESS_LIMITS: a value typed past an end stands at that end. Anything
    that is not a finite number is left as it is, for check_stress to refuse."""
    clamped = dict(settings)
    for name, value in settings.items():
        if name in STRESS_LIMITS and isinstance(value, int | float) and np.isfinite(value):
            lowest, highest, _ = STRESS_LIMITS[name]
            clamped[name] = min(max(float(value), lowest), highest)
    return clamped


def thickness(digit: np.ndarray, steps: float) -> np.ndarray:
    """Grey dilation (steps > 0) or erosion (< 0), one 3x3 step per unit; fractions blend the two nearest steps."""
    extreme = np.maximum if steps > 0 else np.minimum
    whole, fraction = divmod(abs(steps), 1)
    lower = preprocess.grow(digit, int(whole), extreme)
    if fraction == 0:
        return lower
    return (1 - fraction) * lower + fraction * preprocess.grow(lower, 1, extreme)


def stress(digit: np.ndarray, **settings: float) -> np.ndarray:
    """The 28x28 input thickened or thinned, scaled and rotated about the field's centre, then shifted.

    Nothing is re-centred afterwards: what leaves the field is lost, as a badly framed drawing would be.
    """
    values = check_stress(settings)
    digit = np.asarray(digit, np.float32)
    if values["thickness"]:
        digit = thickness(digit, values["thickness"])
    angle = np.radians(values["rotation"])
    # PIL maps each output pixel back to the input: undo the shift, then the rotation and scale about the centre
    cos, sin = np.cos(angle) / values["scale"], np.sin(angle) / values["scale"]
    centre = SIZE / 2
    x0, y0 = centre + values["shift_x"], centre + values["shift_y"]
    inverse = (cos, -sin, centre - cos * x0 + sin * y0, sin, cos, centre - sin * x0 - cos * y0)
    image = Image.fromarray(digit, "F").transform(
        (SIZE, SIZE), Image.Transform.AFFINE, inverse, Image.Resampling.BILINEAR
    )
    return np.clip(np.asarray(image), 0, 1).astype(np.float32)


def ink_rgb(digit: np.ndarray) -> np.ndarray:
    """The input as a dim grey picture, under the evidence colours."""
    return np.repeat((0.15 + 0.45 * np.asarray(digit, np.float32))[..., None], 3, axis=2)


def overlay(digit: np.ndarray, saliency: np.ndarray, scale: float | None = None, zoom: int = 8) -> np.ndarray:
    """An evidence map over the input as uint8 RGB: red for the label, blue against; 0..scale (default its max)."""
    scale = scale or float(np.abs(saliency).max()) or 1.0
    strength = np.clip(np.abs(saliency) / scale, 0, 1)[..., None]
    colour = np.where((saliency >= 0)[..., None], [1.0, 0.15, 0.1], [0.15, 0.45, 1.0])
    picture = (1 - strength) * ink_rgb(digit) + strength * colour
    return enlarge(picture, zoom)


def enlarge(picture: np.ndarray, zoom: int) -> np.ndarray:
    """Float [0, 1] H x W (x 3) to uint8 RGB, each pixel a zoom x zoom square (no smoothing)."""
    picture = np.asarray(picture, np.float32)
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=2)
    picture = picture.repeat(zoom, axis=0).repeat(zoom, axis=1)
    return np.round(np.clip(picture, 0, 1) * 255).astype(np.uint8)


def diverging(values: np.ndarray) -> np.ndarray:
    """-1..1 to RGB: blue, white at 0, red."""
    values = np.clip(values, -1, 1)[..., None]
    white = np.ones(3, np.float32)
    return np.where(
        values >= 0, white + values * ([1.0, 0.15, 0.1] - white), white - values * ([0.15, 0.45, 1.0] - white)
    )


def heat(values: np.ndarray) -> np.ndarray:
    """0..1 to RGB: black through purple and orange to yellow, for activations."""
    anchors = np.array([[0, 0, 0], [0.35, 0.05, 0.5], [0.85, 0.3, 0.25], [1, 0.85, 0.3], [1, 1, 0.8]], np.float32)
    position = np.clip(values, 0, 1) * (len(anchors) - 1)
    low = np.minimum(position.astype(int), len(anchors) - 2)
    fraction = (position - low)[..., None]
    return anchors[low] * (1 - fraction) + anchors[low + 1] * fraction


def grid(tiles: list[np.ndarray], columns: int, zoom: int, gap: int = 1) -> np.ndarray:
    """RGB tiles (H x W x 3, floats in [0, 1]) in rows of `columns`, each enlarged, on a grey background."""
    tiles = [enlarge(tile, zoom) for tile in tiles]
    height, width = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    picture = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, 3), 128, np.uint8)
    for index, tile in enumerate(tiles):
        top, left = (index // columns) * (height + gap), (index % columns) * (width + gap)
        picture[top : top + height, left : left + width] = tile
    return picture


def feature_grids(maps: list[np.ndarray]) -> list[np.ndarray]:
    """Each convolution's maps as one picture, on one colour scale per layer (its strongest activation)."""
    pictures = []
    for layer_maps, zoom in zip(maps, (3, 6), strict=True):
        scale = float(layer_maps.max()) or 1.0
        tiles = [heat(layer_maps[..., channel] / scale) for channel in range(layer_maps.shape[-1])]
        pictures.append(grid(tiles, columns=8, zoom=zoom, gap=2))
    return pictures


def template_grid(units: list[dict]) -> np.ndarray:
    """The dense units' weight templates side by side, each on its own scale: red adds to the unit, blue takes away."""
    tiles = [diverging(unit["template"] / (np.abs(unit["template"]).max() or 1.0)) for unit in units]
    return grid(tiles, columns=len(tiles), zoom=4, gap=3)
