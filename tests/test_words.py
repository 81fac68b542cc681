"""The page's words: both tables hold the same strings with the same placeholders, the visitor's language is chosen
as a browser asks for it, and what a table lacks falls back to English."""

import pytest

from digit_studio import words
from digit_studio.core import preprocess


def test_every_english_string_has_its_portuguese_with_the_same_placeholders():
    assert words.EN.keys() == words.PT_BR.keys()
    for key, english in words.EN.items():
        assert words.placeholders(english) == words.placeholders(words.PT_BR[key]), key
        assert words.PT_BR[key].strip(), key


@pytest.mark.parametrize(
    ("accept_language", "chosen", "expected"),
    [
        ("pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7", None, "pt-BR"),
        ("pt", None, "pt-BR"),
        ("pt-PT,en;q=0.5", None, "pt-BR"),
        ("en-US,en;q=0.9,pt-BR;q=0.8", None, "en"),
        ("fr-FR,fr;q=0.9", None, "en"),
        ("en;q=0.5,pt-BR;q=0.9", None, "pt-BR"),  # the higher weight wins, wherever it stands
        ("ptx", None, "en"),
        ("", None, "en"),
        (None, None, "en"),
        ("pt-BR", "en", "en"),  # the page's switch wins over the browser
        ("en-US", "pt-BR", "pt-BR"),
    ],
)
def test_the_language_is_the_browsers_first_choice_or_the_switchs(accept_language, chosen, expected):
    assert words.language(accept_language, chosen) == expected


def test_numbers_are_written_as_each_language_writes_them():
    assert words.text("card_score", "en", score=0.934, threshold=0.5) == (
        "digit score 0.93 (0.5 or more: a digit it knows)"
    )
    assert words.text("card_score", "pt-BR", score=0.934, threshold=0.5).startswith("nota de dígito 0,93 (0,5 ou")
    assert "10.000 dígitos" in words.text("robustness", "pt-BR", count=10_000)
    assert words.text("verdict_both", "pt-BR", digit="7") == "Os dois modelos dizem **7**."


def test_a_missing_translation_falls_back_to_english_never_to_the_key(monkeypatch):
    monkeypatch.delitem(words.PT_BR, "verdict_both")
    assert words.text("verdict_both", "pt-BR", digit="7") == "Both models say **7**."
    assert words.text("hint", "xx") == words.EN["hint"]


def test_the_studios_messages_reach_a_portuguese_page_in_portuguese():
    assert words.translate(preprocess.NO_DIGIT_MESSAGE, "pt-BR") == words.PT_BR["no_digit"]
    too_large = words.text("too_large_in_all", megapixels=4)
    assert words.translate(too_large, "pt-BR") == words.text("too_large_in_all", "pt-BR", megapixels=4)
    assert words.translate(too_large, "en") == too_large
    assert words.translate("Some message the studio never words.", "pt-BR") == "Some message the studio never words."


def test_the_corrections_refusals_read_in_portuguese_with_brazilian_numbers():
    from digit_studio import corrections

    refusals = [
        corrections.FLOOD_MESSAGE,
        corrections.DAY_MESSAGE,
        corrections.BUSY_MESSAGE,
        corrections.BUSY_DAY_MESSAGE,
        corrections.FULL_MESSAGE,
        corrections.STORAGE_MESSAGE,
        corrections.LABEL_MESSAGE,
    ]
    translated = [words.translate(message, words.PORTUGUESE) for message in refusals]
    assert all(ours != theirs for ours, theirs in zip(translated, refusals, strict=True))
    assert "20,000" in corrections.FULL_MESSAGE and "20.000" in translated[4]
