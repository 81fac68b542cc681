"""The running app through gradio_client, as an API user meets it."""

import json
import re
import subprocess
import sys
import urllib.request

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from conftest import MNIST_SUBSET, REPO
from digit_studio import corrections
from digit_studio.core import mnist_data, synthetic
from digit_studio.web import compare_section

EXAMPLES = sorted(path for path in (REPO / "examples").iterdir() if path.suffix in {".png", ".jpg", ".webp"})
NUMBER_EXAMPLES = sorted((REPO / "examples" / "numbers").iterdir())  # named <number>_<kind>
NON_DIGITS = sorted((REPO / "examples" / "not_digits").iterdir())  # a smiley, a letter: neither model's digit


def label_of(path) -> str:
    return path.name.split("_")[0]


def test_page_shows_every_example_file(app_url):
    """The page's gr.Examples lists exactly the files in examples/, each of which exists."""
    with urllib.request.urlopen(app_url + "config", timeout=30) as response:
        config = json.load(response)
    datasets = [component for component in config["components"] if component.get("type") == "dataset"]
    shown = [sorted(sample[0]["orig_name"] for sample in dataset["props"]["samples"]) for dataset in datasets]
    assert shown == [[path.name for path in EXAMPLES], [path.name for path in NUMBER_EXAMPLES]]
    assert len(EXAMPLES) >= 8 and all(path.is_file() and path.stat().st_size > 0 for path in EXAMPLES)
    assert len({label_of(path) for path in EXAMPLES}) == 10


def test_comparison_table_shows_what_each_model_was_scored_on(app_url):
    """The "How the two models compare" table: each entry of metrics.json with the score it records."""
    with urllib.request.urlopen(app_url + "config", timeout=30) as response:
        config = json.load(response)
    values = config["i18n_translations"]["en"].values()  # the page's words, the table made for each language
    (table,) = [value for value in values if "| scored on (MNIST) |" in value and "|---|" in value]
    metrics = json.loads((REPO / "weights" / "metrics.json").read_text())["models"]
    assert len(metrics) == 3  # the two served models and the write-up's wide CNN
    for entry in metrics.values():
        scores = f"{entry['test_accuracy']:.2%} | {entry['test_loss']:.4f} | 10,000 test images"
        assert f"| {entry['title']} | {entry['parameters']:,} | {scores} |" in table
    # weights from a --validation run (WEIGHTS_DIR may name one) show their held-out score: they have no test score
    held_out = {**metrics["cnn"], "validation_accuracy": 0.9954, "validation_loss": 0.123, "validation_images": 5000}
    for key in ("test_accuracy", "test_loss"):
        del held_out[key]
    table = compare_section.comparison_markdown({"cnn": {**held_out, "test_images": 0}}, {"cnn": 1.0})
    assert "| 99.54% | 0.1230 | 5,000 validation images |" in table


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_every_example_is_classified_correctly_by_both_models(client, path):
    cnn, linear, preview, summary = client.predict(handle_file(str(path)), api_name="/classify")
    assert cnn["label"] == label_of(path) and linear["label"] == label_of(path)
    assert [c["label"] for c in cnn["confidences"]] != [] and len(cnn["confidences"]) == 10
    assert abs(sum(c["confidence"] for c in cnn["confidences"]) - 1) < 1e-3
    assert preview.startswith('<img src="data:image/png;base64,')
    assert f"Both models say **{label_of(path)}**" in summary and "ms" in summary


@pytest.mark.parametrize("path", NON_DIGITS, ids=lambda path: path.name)
def test_a_drawing_that_is_no_digit_gets_the_verdict_and_the_same_outputs(client, path):
    cnn, linear, preview, summary = client.predict(handle_file(str(path)), api_name="/classify")
    assert summary.startswith("That doesn't look like a digit: neither model knows it.")
    assert len(cnn["confidences"]) == len(linear["confidences"]) == 10 and preview.startswith("<img")


def test_a_number_with_a_letter_in_it_reads_the_letter_as_a_question_mark(client, tmp_path):
    """The drawn 2026 with the example letter A pasted after it: five pieces, the last one "?" for each model."""
    with Image.open(NUMBER_EXAMPLES[0]) as number, Image.open(REPO / "examples/not_digits/letter_A.png") as letter:
        letter = letter.convert("L").resize((number.height, number.height))
        joined = Image.new("L", (number.width + letter.width, number.height), 255)
        joined.paste(0, (0, 0, number.width, number.height), number.getchannel("A"))  # its ink is in the alpha
        joined.paste(letter, (number.width, 0))
    path = tmp_path / "2026A.png"
    joined.save(path)
    reading, views, summary = client.predict(handle_file(str(path)), api_name="/read_number")
    assert reading["cnn"] == reading["linear"] == "2026?"
    assert [entry[name]["is_digit"] for entry in reading["digits"] for name in ("cnn", "linear")] == [True] * 8 + [
        False
    ] * 2
    assert "Check piece 5" in summary and views.count("#d9480f") == 1


def test_mnist_digits_through_the_api(client, tmp_path):
    images, labels = mnist_data.load_test_from_dir(MNIST_SUBSET)
    correct = 0
    for index in range(100, 120):
        path = tmp_path / f"{index}.png"
        Image.fromarray(images[index]).save(path)
        cnn, _, _, _ = client.predict(handle_file(str(path)), api_name="/classify")
        correct += cnn["label"] == str(labels[index])
    assert correct >= 19


def test_dark_on_light_upscaled_digit(client, tmp_path):
    images, labels = mnist_data.load_test_from_dir(MNIST_SUBSET)
    digit = Image.fromarray(255 - images[0]).resize((300, 300), Image.Resampling.BICUBIC).convert("RGB")
    path = tmp_path / "paper.jpg"
    digit.save(path, quality=85)
    cnn, linear, _, _ = client.predict(handle_file(str(path)), api_name="/classify")
    assert cnn["label"] == linear["label"] == str(labels[0])


def sketch_layer(tmp_path, digit_index: int = 0) -> tuple[str, str]:
    """An 800x800 transparent layer holding black ink shaped like an MNIST digit, and its label."""
    images, labels = mnist_data.load_test_from_dir(MNIST_SUBSET)
    alpha = Image.fromarray(images[digit_index]).resize((600, 600), Image.Resampling.BICUBIC)
    layer = np.zeros((800, 800, 4), dtype=np.uint8)
    layer[100:700, 150:750, 3] = np.asarray(alpha)
    path = tmp_path / f"layer{digit_index}.png"
    Image.fromarray(layer, "RGBA").save(path)
    return str(path), str(labels[digit_index])


def test_classify_sketch_from_layers(client, tmp_path):
    path, label = sketch_layer(tmp_path, 1)
    value = {"background": None, "layers": [handle_file(path)], "composite": None}
    cnn, linear, _, _ = client.predict(value, api_name="/classify_sketch")
    assert cnn["label"] == linear["label"] == label


def test_classify_sketch_from_composite_only(client, tmp_path):
    path, label = sketch_layer(tmp_path, 2)
    composite = tmp_path / "composite.png"
    white = Image.new("RGBA", (800, 800), "white")
    Image.alpha_composite(white, Image.open(path)).convert("RGB").save(composite)
    cnn, _, _, _ = client.predict({"composite": handle_file(str(composite))}, api_name="/classify_sketch")
    assert cnn["label"] == label


@pytest.mark.parametrize(
    "value",
    [{"background": None, "layers": [], "composite": None}, {}],
    ids=["all-none", "no-keys"],
)
def test_empty_sketch_is_a_no_digit_error(client, value):
    with pytest.raises(AppError, match="No digit found"):
        client.predict(value, api_name="/classify_sketch")


def test_sketch_keys_behave_as_the_readme_says(client):
    """background and composite may be None and layers []; Gradio's own schema refuses "layers": None."""
    composite = handle_file(str(REPO / "examples" / "2_paper_photo.jpg"))
    value = {"background": None, "layers": [], "composite": composite}
    assert client.predict(value, api_name="/classify_sketch")[0]["label"] == "2"
    with pytest.raises(AppError, match="Input should be a valid list"):
        client.predict({**value, "layers": None}, api_name="/classify_sketch")


@pytest.mark.parametrize("colour", ["white", "black", (128, 128, 128)], ids=str)
def test_blank_image_is_a_no_digit_error(client, tmp_path, colour):
    path = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), colour).save(path)
    with pytest.raises(AppError, match="No digit found"):
        client.predict(handle_file(str(path)), api_name="/classify")
    cnn, _, _, _ = client.predict(handle_file(str(EXAMPLES[0])), api_name="/classify")
    assert cnn["label"] == label_of(EXAMPLES[0])


def test_no_file_is_a_no_digit_error(client):
    with pytest.raises(AppError, match="^No digit found"):
        client.predict(None, api_name="/classify")


@pytest.mark.parametrize("path", NUMBER_EXAMPLES, ids=lambda path: path.name)
def test_number_examples_are_read_by_both_models(client, path):
    reading, views, summary = client.predict(handle_file(str(path)), api_name="/read_number")
    number = label_of(path)
    assert reading["cnn"] == reading["linear"] == number
    assert [entry["cnn"]["label"] for entry in reading["digits"]] == list(number)
    lefts = [entry["box"][0] for entry in reading["digits"]]
    with Image.open(path) as image:
        width, height = image.size
    assert lefts == sorted(lefts)
    assert all(
        0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height for x0, y0, x1, y1 in (e["box"] for e in reading["digits"])
    )
    assert all(0.5 < entry[name]["confidence"] <= 1 for entry in reading["digits"] for name in ("cnn", "linear"))
    assert views.count("<img") == len(number) and f"Both models read **{number}**" in summary


def test_read_number_sketch_and_its_errors(client, tmp_path):
    layer = tmp_path / "layer.png"
    synthetic.drawn_number("907").save(layer)
    reading, _, _ = client.predict(
        {"background": None, "layers": [handle_file(str(layer))], "composite": None}, api_name="/read_number_sketch"
    )
    assert reading["cnn"] == "907" and [len(entry["box"]) for entry in reading["digits"]] == [4, 4, 4]
    with pytest.raises(AppError, match="No digit found"):
        client.predict({"background": None, "layers": [], "composite": None}, api_name="/read_number_sketch")
    many = tmp_path / "many.png"
    synthetic.drawn_number("1234567890123", size=(2600, 400), height=180).save(many)
    with pytest.raises(AppError, match="at most 12 digits"):
        client.predict(handle_file(str(many)), api_name="/read_number")
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 200), "white").save(blank)
    with pytest.raises(AppError, match="No digit found"):
        client.predict(handle_file(str(blank)), api_name="/read_number")
    with pytest.raises(AppError, match="not an image"):
        client.predict(handle_file(str(REPO / "README.md")), api_name="/read_number")
    assert client.predict(handle_file(str(EXAMPLES[0])), api_name="/classify")[0]["label"] == label_of(EXAMPLES[0])


def readme_snippets() -> list[str]:
    """The gradio_client snippets of the README and of docs/api.md."""
    text = (REPO / "README.md").read_text() + (REPO / "docs" / "api.md").read_text()
    return re.findall(r"```python\n(from gradio_client.*?)```", text, flags=re.DOTALL)


def test_readme_client_snippets_run_against_the_app(app_url):
    snippets = readme_snippets()
    assert len(snippets) == 5
    for snippet in snippets:
        assert 'Client("http://127.0.0.1:7860/")' in snippet
        code = snippet.replace("http://127.0.0.1:7860/", app_url)
        result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        expected = re.findall(r"# prints: (.*)", snippet)
        assert expected and result.stdout.strip().splitlines()[-len(expected) :] == expected


def test_correct_keeps_the_row_it_returns(client, feedback_dir):
    """/correct: the models run on the image, and the row kept (image file and metadata.jsonl) comes back."""
    row = client.predict(handle_file(str(REPO / "examples/4_dark_mode.png")), "4", api_name="/correct")
    assert row["label"] == "4" and row["source"] == "api" and row["strokes_file"] is None
    assert row["cnn"]["label"] == row["linear"]["label"] == "4" and set(row["cnn"]) == {
        "label", "confidence", "is_digit", "digit_score"
    }  # fmt: skip
    metrics = json.loads((REPO / "weights" / "metrics.json").read_text())["models"]
    assert row["weights_sha256"] == {name: metrics[name]["weights_sha256"] for name in ("cnn", "linear")}
    with Image.open(feedback_dir / row["file_name"]) as image:
        assert image.size == (28, 28)
    assert row in [json.loads(line) for line in (feedback_dir / "metadata.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    ("image", "label", "message"),
    [
        ("examples/4_dark_mode.png", "four", "a digit from 0 to 9"),
        ("examples/4_dark_mode.png", "", "a digit from 0 to 9"),
        ("README.md", "4", "not an image"),
    ],
)
def test_correct_refuses_what_it_cannot_keep(client, feedback_dir, image, label, message):
    kept = list(corrections.rows(feedback_dir))
    with pytest.raises(AppError, match=message):
        client.predict(handle_file(str(REPO / image)), label, api_name="/correct")
    assert list(corrections.rows(feedback_dir)) == kept


def test_correct_of_a_picture_with_no_digit_says_so(client, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(blank)
    with pytest.raises(AppError, match="No digit found"):
        client.predict(handle_file(str(blank)), "3", api_name="/correct")
