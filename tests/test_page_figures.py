"""Every figure the page's sections print equals its source: metrics.json, robustness.json, not_a_digit.json. And no
command line, file path or developer note reaches the page."""

import json
import re

import pytest

import model_defs
from conftest import REPO
from digit_studio.web import compare_section, why_section
from digit_studio.web.page import model_name

METRICS = json.loads((REPO / "weights" / "metrics.json").read_text())["models"]
ROBUSTNESS = json.loads((REPO / "weights" / "robustness.json").read_text())
NOT_A_DIGIT = json.loads((REPO / "weights" / "not_a_digit.json").read_text())


def page_texts() -> dict[str, str]:
    return {
        "comparison": compare_section.comparison_markdown(METRICS, {"cnn": 1.0, "linear": 0.5}),
        "robustness": why_section.robustness_markdown(METRICS),
        "honesty": compare_section.honesty_markdown(NOT_A_DIGIT),
    }


def test_the_robustness_table_and_shuffled_pixels_are_robustness_json():
    text = page_texts()["robustness"]
    for name in model_defs.MODEL_NAMES:
        accuracy = ROBUSTNESS["accuracy"][name]
        row = next(line for line in text.splitlines() if line.startswith(f"| {model_defs.MODEL_TITLES[name]} |"))
        expected = [accuracy["shift"][ROBUSTNESS["shift_px"].index(px)] for px in (0, 4, 6, 8)]
        expected += [accuracy["rotation"][ROBUSTNESS["rotation_deg"].index(deg)] for deg in (0, 15, 30, 45)]
        assert row == f"| {model_defs.MODEL_TITLES[name]} | " + " | ".join(f"{v:.1%}" for v in expected) + " |"
        permuted = ROBUSTNESS["permuted_pixels"]
        shuffled = f"{permuted['unpermuted_test_accuracy'][name]:.2%} → {permuted['test_accuracy'][name]:.2%}"
        assert f"{model_defs.MODEL_TITLES[name]} {shuffled}" in text
        # the unshuffled score is the served model's own
        assert f"{permuted['unpermuted_test_accuracy'][name]:.2%}" == f"{METRICS[name]['test_accuracy']:.2%}"


def test_the_honesty_table_is_not_a_digit_json():
    text = page_texts()["honesty"]
    for name, entry in NOT_A_DIGIT["models"].items():
        before, after = entry["calibration_error_before"], entry["calibration_error"]
        assert f"| {model_name(name)} | {before:.1%} → {after:.1%} | {entry['auroc_test_digits']:.3f} | " in text
        assert f"| {entry['flagged']['non-digits']:.1%} | {entry['flagged']['MNIST test digits']:.1%} |" in text
    assert f"| {NOT_A_DIGIT['studio']['non-digits']:.1%} |" in text


def test_the_comparison_table_is_metrics_json():
    text = page_texts()["comparison"]
    for entry in METRICS.values():
        assert f"| {entry['title']} | {entry['parameters']:,} | {entry['test_accuracy']:.2%} |" in text
        assert f"| {entry['recipe']['epochs']} epochs, {compare_section.training_time(entry)} |" in text


@pytest.mark.parametrize("section", ["comparison", "robustness", "honesty"])
def test_no_command_line_path_or_developer_note_on_the_page(section):
    text = page_texts()[section]
    for pattern in (r"python ", r"--\w", r"\.py\b", r"\.json\b", r"\.\./", "wall time", "re-centring", "instead of"):
        assert not re.search(pattern, text), (pattern, text)
