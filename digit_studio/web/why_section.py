"""The "Why they differ" section (explain.py's wiring): evidence maps, the inside of each network, the stress test,
the experiments and the mistakes gallery; and the /explain endpoint.
"""

import json

import gradio as gr
import numpy as np

import model_defs
from digit_studio import answers, words
from digit_studio.core import explain
from digit_studio.web import events
from digit_studio.web.page import Page, Wire, image_html, model_name, preview_html, say, shown

# The experiments describe the committed weights, so they are read from the repository's weights/ (not WEIGHTS_REPO).
ROBUSTNESS = json.loads((model_defs.WEIGHTS_DIR / "robustness.json").read_text())
STRESS_NAMES = tuple(explain.STRESS_LIMITS)
MISTAKE_KINDS = {  # by the key of its name in the page's words
    "only_cnn_right": lambda cnn_right, linear_right: cnn_right & ~linear_right,
    "only_linear_right": lambda cnn_right, linear_right: ~cnn_right & linear_right,
    "both_wrong": lambda cnn_right, linear_right: ~cnn_right & ~linear_right,
    "cnn_mistakes": lambda cnn_right, linear_right: ~cnn_right,
    "linear_mistakes": lambda cnn_right, linear_right: ~linear_right,
}


def load_mistakes() -> dict[str, list[tuple[np.ndarray, dict]]]:
    """The mistakes gallery: for each kind, (digit as float 28x28, its caption's values) for each test digit of that
    kind."""
    with np.load(model_defs.WEIGHTS_DIR / "mistakes.npz") as data:
        found = {key: data[key] for key in data.files}
    right = {name: found[name] == found["label"] for name in model_defs.MODEL_NAMES}
    return {
        kind: [
            (
                found["image"][i].astype(np.float32) / 255,
                {key: int(found[key][i]) for key in ("index", "label", "cnn", "linear")},
            )
            for i in np.flatnonzero(select(right["cnn"], right["linear"]))
        ]
        for kind, select in MISTAKE_KINDS.items()
    }


MISTAKES = load_mistakes()


def stressed(digit: np.ndarray, settings: tuple) -> np.ndarray:
    """The digit as the stress controls leave it, each clamped to its range; a control that is not a number is the
    caller's error."""
    try:
        return explain.stress(digit, **explain.clamp_stress(dict(zip(STRESS_NAMES, settings, strict=True))))
    except ValueError as error:
        raise gr.Error(str(error)) from None


def explanation(digit: np.ndarray) -> dict:
    """Both models' evidence map for one 28x28 input, each with the model's answer as every surface shows it."""
    results = {name: explain.evidence(answers.MODELS[name], digit) for name in model_defs.MODEL_NAMES}
    return {
        name: {**result, "answer": answers.answer(result["probabilities"], name)} for name, result in results.items()
    }


def explain_json(digit: np.ndarray) -> tuple[dict, str]:
    """/explain: the input and each model's label, confidence and evidence map as JSON, and the maps as HTML."""
    results = explanation(digit)
    answer = {"input": np.round(digit, 4).tolist()}
    for name, result in results.items():
        answer[name] = {key: result["answer"][key] for key in ("label", "confidence", "is_digit", "digit_score")}
        answer[name]["saliency"] = np.round(result["saliency"], 5).tolist()
    return answer, evidence_html(digit, results)


def evidence_html(digit: np.ndarray, results: dict, language: str = words.ENGLISH) -> str:
    """The input and both evidence maps side by side, each titled with the model's answer."""
    seen = words.text("what_models_see", language)
    figures = [
        f"<figure style='margin:0'>{preview_html(digit, language=language)}<figcaption>{seen}</figcaption></figure>"
    ]
    for name, result in results.items():
        alt = words.text("evidence_alt", language, model=model_name(name, language))
        picture = image_html(explain.overlay(digit, result["saliency"]), alt, 168)
        shown = result["answer"]
        caption = words.text(
            "evidence_caption",
            language,
            model=model_name(name, language),
            label=shown["label"],
            confidence=shown["confidence"],
            score=shown["digit_score"],
        ) + ("" if shown["is_digit"] else words.text("evidence_not_a_digit", language))
        figures.append(f"<figure style='margin:0'>{picture}<figcaption>{caption}</figcaption></figure>")
    legend = f"<p style='margin:4px 0 0'>{words.text('evidence_legend', language)}</p>"
    return f"<div style='display:flex;gap:16px;flex-wrap:wrap'>{''.join(figures)}</div>{legend}"


def insides_html(digit: np.ndarray, language: str = words.ENGLISH) -> str:
    """The CNN's two layers of feature maps and the dense network's most active first-layer units."""
    first, second = explain.feature_grids(explain.feature_maps(answers.MODELS["cnn"], digit))
    units = explain.active_units(answers.MODELS["linear"], digit)
    unit_text = ", ".join(
        f"#{unit['unit']} ({words.text('number', language, value=unit['activation'])})" for unit in units
    )
    dense = words.text("insides_dense", language, count=len(units), units=unit_text)
    return (
        f"<p>{words.text('insides_first', language)}</p>"
        + image_html(first, words.text("insides_first_alt", language), first.shape[1])
        + f"<p>{words.text('insides_second', language)}</p>"
        + image_html(second, words.text("insides_second_alt", language), second.shape[1])
        + f"<p>{dense}</p>"
        + image_html(
            explain.template_grid(units), words.text("insides_dense_alt", language), min(900, len(units) * 115)
        )
    )


CLOSED = (None, None, "", "")  # the section's outputs while it is closed (docs/performance.md)


def why_view(request: gr.Request, digit: np.ndarray | None, is_open: bool, *settings) -> tuple:
    """The whole section for the current input under the stress controls, in the visitor's language; skipped while
    the section is closed."""
    if not is_open:  # hidden, and redrawn when it opens: plain values, as Gradio rebuilds each component skipped
        return CLOSED
    language = events.language_of(request)
    if digit is None:
        return None, None, f"<p>{words.text('hint', language)}</p>", ""
    moved = stressed(digit, settings)
    results = explanation(moved)
    cnn, linear = (results[name]["answer"]["confidences"] for name in model_defs.MODEL_NAMES)
    return cnn, linear, evidence_html(moved, results, language), insides_html(moved, language)


def stress_answers(digit: np.ndarray | None, *settings) -> tuple:
    """Both models' answers for the stressed input, fast enough to follow a slider as it moves."""
    if digit is None:
        return None, None
    moved = stressed(digit, settings)[None, :, :, None]
    return tuple(
        answers.answer(answers.predict(name, moved)[0], name)["confidences"] for name in model_defs.MODEL_NAMES
    )


def robustness_markdown(metrics: dict, language: str = words.ENGLISH) -> str:
    accuracy, permuted = ROBUSTNESS["accuracy"], ROBUSTNESS.get("permuted_pixels")
    shown = {"shift": (0, 4, 6, 8), "rotation": (0, 15, 30, 45)}
    header = " | ".join(words.text(kind, language, value=value) for kind, values in shown.items() for value in values)
    rows = []
    for name in model_defs.MODEL_NAMES:
        cells = [
            words.text("percent", language, share=accuracy[name][kind][ROBUSTNESS[axis].index(value)])
            for (kind, values), axis in zip(shown.items(), ("shift_px", "rotation_deg"), strict=True)
            for value in values
        ]
        rows.append(f"| {model_title(name, language)} | " + " | ".join(cells) + " |")
    if permuted:
        committed_epochs = {name: len(entry["history"]["loss"]) for name, entry in metrics.items()}  # all phases
        scores = ", ".join(
            model_title(n, language)
            + " "
            + words.text(
                "accuracy_change",
                language,
                before=permuted["unpermuted_test_accuracy"][n],
                after=permuted["test_accuracy"][n],
            )
            + (
                words.text("permuted_shorter", language, epochs=permuted["epochs"][n], committed=committed_epochs[n])
                if permuted["epochs"][n] != committed_epochs[n]
                else ""
            )
            for n in model_defs.MODEL_NAMES
        )
        permuted_text = words.text("permuted", language, seed=permuted["permutation_seed"], scores=scores)
    else:
        permuted_text = words.text("permuted_unmeasured", language)
    return (
        words.text("experiments_heading", language)
        + "\n"
        + words.text("robustness", language, count=ROBUSTNESS["test_images"])
        + f"\n\n| {words.text('model', language)} | {header} |\n|---|"
        + "---|" * 8
        + "\n"
        + "\n".join(rows)
        + "\n\n"
        + permuted_text
    )


def mistakes_gallery(kind: str, language: str = words.ENGLISH) -> list[tuple[np.ndarray, str]]:
    return [
        (explain.enlarge(digit, 3), words.text("mistake_caption", language, **values))
        for digit, values in MISTAKES[kind]
    ]


STRESS_IDENTITY = [identity for _, _, identity in explain.STRESS_LIMITS.values()]
# Runs in the browser after a mistake is picked: the explanation it refreshed, well above the gallery, into view.
# Smoothly, unless the visitor's system asks for reduced motion.
SHOW_EXPLANATION_JS = (
    "() => document.querySelector('#why_maps').scrollIntoView({block: 'center', behavior: "
    "matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth'})"
)


def shown_mistakes(kind: str, request: gr.Request) -> list[tuple[np.ndarray, str]]:
    """The gallery's digits of one kind, captioned in the visitor's language."""
    return mistakes_gallery(kind, events.language_of(request))


def opened(kind: str, request: gr.Request) -> tuple:
    """The section just opened: its gallery, in the visitor's language."""
    return True, shown_mistakes(kind, request)


def model_title(name: str, language: str = words.ENGLISH) -> str:
    """A model's name heading a table's row ("Dense network")."""
    return words.text(f"title_{name}", language)


def pick_mistake(kind: str, selected: gr.SelectData, request: gr.Request) -> tuple:
    """The clicked gallery digit becomes the section's input, with the stress controls back at the input as it is."""
    try:
        return MISTAKES[kind][int(selected.index)][0], *STRESS_IDENTITY
    except (KeyError, IndexError, TypeError, ValueError):
        raise gr.Error(words.text("no_such_mistake", events.language_of(request))) from None


def within(name: str, value):
    """A typed control value shown at the nearest end of its range (explain.clamp_stress); gr.skip() where it is
    already inside."""
    clamped = explain.clamp_stress({name: value})[name]
    return gr.skip() if clamped == value else clamped


EXPLAIN_DESCRIPTION = events.api_description(
    "Where two models, a LeNet-style CNN and a dense network, found their evidence in a picture of one handwritten "
    "digit: occlusion blanks each 2x2 block of ink in turn and measures how much less sure each model "
    "becomes of its answer.",
    "two values, in order: {input: the 28x28 image the models see, floats in [0, 1]; cnn and linear: each its "
    "label, confidence, is_digit, digit_score and saliency, a 28x28 map, positive where the ink pushed that model "
    "toward its label}; and the maps drawn as HTML.",
)


def explain_digit(value: dict | None) -> tuple[dict, str]:
    """/explain: an uploaded image's 28x28 input and both models' evidence maps, as JSON and as HTML.

    Args:
        value: the picture of one digit
    """
    return explain_json(events.digit_from_upload(value))


def layout(page: Page) -> Wire:
    """The "Why they differ" accordion; its refresh becomes page.why_refresh, chained after each new input."""
    is_open = gr.State(False)
    with gr.Accordion(say("why"), open=False, elem_id="why") as accordion:
        gr.Markdown(say("why_intro"))
        with gr.Row():
            with gr.Column(scale=1):
                sliders = [
                    gr.Slider(
                        low,
                        high,
                        value=identity,
                        step=0.05 if name == "scale" else 0.5 if name == "thickness" else 1,
                        label=say(f"stress_{name}"),
                        elem_id=f"stress_{name}",
                    )
                    for name, (low, high, identity) in explain.STRESS_LIMITS.items()
                ]
                reset = gr.Button(say("stress_reset"), elem_id="stress_reset")
            with gr.Column(scale=2):
                with gr.Row():
                    cnn = gr.Label(num_top_classes=3, label=say("title_cnn"), elem_id="why_cnn")
                    linear = gr.Label(num_top_classes=3, label=say("title_linear"), elem_id="why_linear")
                maps = gr.HTML(shown(lambda language: f"<p>{words.text('hint', language)}</p>"), elem_id="why_maps")
        insides = gr.HTML(elem_id="why_insides")
        gr.Markdown(shown(lambda language: robustness_markdown(page.metrics, language)))
        gr.Image(str(model_defs.WEIGHTS_DIR / "robustness.png"), label=say("robustness_figure"), buttons=[])
        gr.Markdown(say("mistakes_heading"))
        kind = gr.Radio([(say(key), key) for key in MISTAKES], value=next(iter(MISTAKES)), label=say("mistakes_kind"))
        # Filled, in the visitor's language, when the section opens
        gallery = gr.Gallery(columns=10, height=260, label=say("mistakes"), buttons=[], elem_id="mistakes")

    private = {"show_progress": "hidden", "api_visibility": "private"}
    # The controls' values arrive as sent (preprocess=False) and are clamped to their ranges by stressed(): Gradio's
    # own check would show a typed 90 degrees as an error instead of standing at 45.
    page.why_refresh.update(
        fn=events.guarded(why_view),
        inputs=[page.current_digit, is_open, *sliders],  # and the request, for the visitor's language
        outputs=[cnn, linear, maps, insides],
        preprocess=False,
        # A refresh asked for while one runs waits and then runs with the newest input, rather than being dropped
        # (Gradio's default for a chained event): a Clear right after a stroke must not leave the stroke's maps.
        trigger_mode="always_last",
        queue=False,  # as the pen-up it follows (digit_section.py)
        **private,
    )

    def wire() -> None:
        refresh = page.why_refresh
        accordion.expand(opened, kind, [is_open, gallery], **private).then(**refresh)
        accordion.collapse(lambda: False, None, is_open, **private)
        for slider, name in zip(sliders, explain.STRESS_LIMITS, strict=True):
            # Both answers follow the pointer; the picture and the maps follow every change: pointer, keyboard,
            # a typed value (which then stands at the nearest end of the range), Reset, a picked mistake.
            slider.input(
                events.guarded(stress_answers),
                [page.current_digit, *sliders],
                [cnn, linear],
                trigger_mode="always_last",
                preprocess=False,
                **private,
            )
            slider.change(**refresh)
            slider.change(lambda value, name=name: within(name, value), slider, slider, preprocess=False, **private)
        reset.click(lambda: STRESS_IDENTITY, None, sliders, **private)
        kind.change(shown_mistakes, kind, gallery, **private)
        gallery.select(pick_mistake, kind, [page.current_digit, *sliders], **private).then(**refresh).then(
            None, js=SHOW_EXPLANATION_JS
        )
        explain_outputs = [gr.JSON(visible=False), gr.HTML(visible=False)]
        gr.Button(visible=False).click(
            events.guarded(explain_digit),
            page.digit_upload,
            explain_outputs,
            api_name="explain",
            api_description=EXPLAIN_DESCRIPTION,
            preprocess=False,
        )

    return wire
