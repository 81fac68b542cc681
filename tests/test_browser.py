"""The real page in Debian's Chromium: draw with the mouse, clear, draw again, upload."""

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from digit_studio import words

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SEVEN = [(0.2, 0.15), (0.8, 0.15), (0.45, 0.9)]
ONE = [(0.5, 0.1), (0.5, 0.9)]
STAR = [(0.5, 0.05), (0.79, 0.9), (0.05, 0.38), (0.95, 0.38), (0.21, 0.9), (0.5, 0.05)]  # one stroke, five points
CARDS = ("#cnn_answer", "#linear_answer")
SCREENSHOTS = Path(tempfile.gettempdir())  # what the page showed, to look at when a test fails


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash tests/setup.sh` (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, app_url, **options):
    page = browser.new_page(**options)
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.wait_for_selector("#sketchpad canvas")
    return page


@pytest.fixture(scope="module")
def page(browser, app_url):
    page = open_page(browser, app_url, viewport={"width": 1280, "height": 900})
    yield page
    page.close()


def draw(page, points: list[tuple[float, float]], pad: str = "#sketchpad", slot: tuple[int, int] = (0, 1)) -> None:
    """One mouse stroke through points given as fractions of the drawing area (the slot-th of n, left to right)."""
    box = page.locator(f"{pad} canvas").first.bounding_box()
    index, slots = slot
    width = box["width"] / slots
    side = min(width, box["height"]) * 0.7
    left = box["x"] + index * width + (width - side) / 2
    top = box["y"] + (box["height"] - side) / 2
    page.mouse.move(left + points[0][0] * side, top + points[0][1] * side)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(left + x * side, top + y * side, steps=10)
    page.mouse.up()


def ink(page, pad: str) -> int:
    """Dark pixels on a canvas as the page shows it: none when blank, thousands for a stroke."""
    png = page.locator(f"{pad} canvas").first.screenshot()
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return int((grey < 80).sum())


def expect_blank(page, pad: str) -> None:
    for _ in range(20):  # the canvas empties a frame or two after the press
        if ink(page, pad) == 0:
            return
        page.wait_for_timeout(100)
    page.screenshot(path=SCREENSHOTS / f"not_cleared_{pad[1:]}.png")
    pytest.fail(f"{pad} still shows {ink(page, pad)} dark pixels after clearing")


def wait_until_answered(page, output: str) -> None:
    """Until no answer has been on its way to `output` for half a second (its status tracker, hidden, shows a timer
    while one is)."""
    tracker = page.locator(f"{output} [data-testid='status-tracker']")
    quiet = 0
    while quiet < 5:
        quiet = quiet + 1 if not tracker.text_content().strip() else 0
        page.wait_for_timeout(100)


def expect_cleared(page) -> None:
    """The one-digit canvas blank, and every answer about it back to the hint: the cards, 28x28 view, "Why they
    differ"."""
    expect_blank(page, "#sketchpad")
    page.locator("#summary", has_text="Draw a digit").wait_for()
    page.locator("#why_maps", has_text="Draw a digit").wait_for()
    for card in CARDS:
        assert page.locator(f"{card} [data-answer]").get_attribute("data-answer") == ""
    assert page.locator("#preview img").count() == 0


def expect_both_models_say(page, digit: int, language: str = "en") -> None:
    page.locator("#summary", has_text=words.text("verdict_both", language, digit=digit).replace("*", "")).wait_for()
    for card in CARDS:
        assert page.locator(f"{card} [data-answer]").get_attribute("data-answer") == str(digit)
    assert page.locator("#preview img").count() == 1


def expect_answers_to_the_last_drawing(page) -> None:
    """Both cards answer the drawing the canvas sent last (its data-sent, their data-drawing)."""
    page.wait_for_function(
        """() => {
             const sent = document.querySelector("#sketchpad [data-sent]").dataset.sent;
             return [...document.querySelectorAll(".answer-card")].every((card) => card.dataset.drawing === sent);
           }"""
    )


def test_first_stroke_draws_and_both_models_name_it(page):
    assert page.locator("#summary").inner_text().startswith("Draw a digit")
    draw(page, SEVEN)
    expect_both_models_say(page, 7)


def test_drawing_works_again_after_clearing(page):
    page.get_by_role("button", name="Clear", exact=True).click()
    page.locator("#summary", has_text="Draw a digit").wait_for()
    draw(page, ONE)
    expect_both_models_say(page, 1)


def test_a_star_is_not_a_digit(page):
    """The verdict says so, and a card that judged it so shows "not a digit I know" instead of a digit."""
    page.get_by_role("button", name="Clear", exact=True).click()
    page.locator("#summary", has_text="Draw a digit").wait_for()
    draw(page, STAR)
    page.locator("#summary", has_text="That doesn't look like a digit").wait_for()
    answers = [page.locator(f"{card} [data-answer]").get_attribute("data-answer") for card in CARDS]
    assert "not-a-digit" in answers and all(answer == "not-a-digit" or answer.isdigit() for answer in answers)
    assert page.locator("#cnn_answer, #linear_answer").get_by_text("not a digit I know").count() >= 1
    page.screenshot(path=SCREENSHOTS / "star_is_not_a_digit.png")


def test_undo_and_the_eraser(page):
    """Undo takes the last stroke away and the answers with it; the eraser rubs a stroke out."""
    tools = page.locator("#sketchpad")
    tools.get_by_role("button", name="Clear", exact=True).click()
    page.locator("#summary", has_text="Draw a digit").wait_for()
    draw(page, ONE)
    expect_both_models_say(page, 1)
    one = ink(page, "#sketchpad")
    draw(page, [(0.1, 0.5), (0.9, 0.5)])  # a bar across: a cross, whatever the models make of it
    expect_answers_to_the_last_drawing(page)
    assert ink(page, "#sketchpad") > one
    tools.get_by_role("button", name="Undo").click()
    expect_both_models_say(page, 1)
    assert abs(ink(page, "#sketchpad") - one) < one * 0.02  # redrawn in one go: its edges differ slightly
    tools.get_by_role("button", name="Eraser").click()
    draw(page, [(0.5, 0.02), (0.5, 0.98)])
    page.locator("#summary", has_text="Draw a digit").wait_for()
    assert ink(page, "#sketchpad") == 0
    tools.get_by_role("button", name="Brush").click()
    draw(page, SEVEN)
    expect_both_models_say(page, 7)


def test_upload_a_blank_picture_then_an_example_file_then_a_number(page, tmp_path):
    """A picture with no digit says so in the summary; an example is then read as usual; a picture of a number
    points to the number reader."""
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), "white").save(blank)
    page.get_by_role("tab", name="Upload", exact=True).click()
    page.locator("#upload input[type=file]").set_input_files(str(blank))
    page.locator("#summary", has_text="No digit found").wait_for()
    example = sorted((REPO / "examples").glob("*_paper_photo.jpg"))[0]
    page.locator("#upload").get_by_role("button", name="Remove Image").click()
    page.locator("#summary", has_text="Draw a digit").wait_for()
    page.locator("#upload input[type=file]").set_input_files(str(example))
    expect_both_models_say(page, int(example.name[0]))
    assert "Read a number" not in page.locator("#summary").inner_text()
    page.locator("#upload").get_by_role("button", name="Remove Image").click()
    page.locator("#summary", has_text="Draw a digit").wait_for()
    page.locator("#upload input[type=file]").set_input_files(str(REPO / "examples/numbers/3647_paper_photo.jpg"))
    page.locator("#summary", has_text="seems to hold 4 digits: to read them all, use Read a number").wait_for()


def open_why_they_differ(page) -> None:
    """Open the section unless an earlier test on the shared page left it open: a click would close it."""
    if not page.locator("#why_maps").is_visible():
        page.locator("#why").get_by_text("Why they differ").first.click()


def test_why_they_differ_follows_the_drawing_and_the_stress_controls(page):
    page.get_by_role("tab", name="Draw", exact=True).click()
    open_why_they_differ(page)
    page.get_by_role("button", name="Clear", exact=True).click()
    page.locator("#why_maps", has_text="Draw a digit").wait_for()  # the hint, not a map
    draw(page, SEVEN)
    expect_both_models_say(page, 7)
    page.locator("#why_maps img[alt='CNN evidence']").wait_for()
    assert page.locator("#why_maps img[alt='dense network evidence']").count() == 1
    assert page.locator("#why_insides img").count() == 3  # two CNN layers, the dense templates
    for label in ("#why_cnn", "#why_linear"):
        wait_until_answered(page, label)
    before = [page.locator(f"{label}").inner_text() for label in ("#why_cnn", "#why_linear")]
    for control in ("#stress_shift_x", "#stress_rotation"):  # both pushed to their limits
        page.locator(f"{control} input[type=range]").focus()
        page.keyboard.press("End")
    for label, text in zip(("#why_cnn", "#why_linear"), before, strict=True):
        page.wait_for_function(
            "([selector, text]) => document.querySelector(selector).innerText !== text", arg=[label, text]
        )
    page.locator("#stress_reset").click()
    page.wait_for_function(
        "([selector, text]) => document.querySelector(selector).innerText === text", arg=["#why_cnn", before[0]]
    )
    page.get_by_role("button", name="Clear", exact=True).click()
    page.locator("#summary", has_text="Draw a digit").wait_for()
    page.locator("#why_maps", has_text="Draw a digit").wait_for()


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and 0 <= box["y"] and box["y"] + min(box["height"], 200) <= page.viewport_size["height"]


def test_the_stress_test_stays_true(page):
    """The picture and maps follow a control moved by keyboard; a typed value past the range stands at its end,
    without an error; picking a mistake resets the controls and brings its explanation into view."""
    page.get_by_role("tab", name="Draw", exact=True).click()
    open_why_they_differ(page)
    page.get_by_role("button", name="Clear", exact=True).click()
    draw(page, SEVEN)
    expect_both_models_say(page, 7)
    maps = page.locator("#why_maps img[alt='28x28 input']")
    maps.wait_for()
    before = maps.get_attribute("src")
    page.locator("#stress_rotation input[type=range]").focus()
    page.keyboard.press("End")
    page.wait_for_function(
        "src => document.querySelector(\"#why_maps img[alt='28x28 input']\").src !== src", arg=before
    )
    typed = page.locator("#stress_shift_x input[type=number]")
    typed.fill("90")
    typed.press("Enter")
    page.wait_for_function("() => document.querySelector('#stress_shift_x input[type=number]').value === '8'")
    page.wait_for_timeout(500)
    assert page.locator(".toast-body").count() == 0  # no error shown
    page.locator("#mistakes .thumbnail-item").first.click()
    page.wait_for_function("() => document.querySelector('#stress_rotation input[type=number]').value === '0'")
    page.wait_for_function(  # the smooth scroll, once the explanation is refreshed
        """() => { const box = document.querySelector('#why_maps').getBoundingClientRect();
                   return box.top >= 0 && box.top + Math.min(box.height, 200) <= innerHeight; }"""
    )
    assert in_view(page, "#why_maps")


def test_a_number_on_the_wide_canvas(page):
    """The number's own canvas: each digit is read by both models."""
    page.locator("#number_sketchpad canvas").first.scroll_into_view_if_needed()
    for index, stroke in enumerate([SEVEN, ONE, SEVEN]):
        draw(page, stroke, "#number_sketchpad", (index, 3))
    page.locator("#number_summary", has_text="read 717").wait_for()
    assert page.locator("#number_views img").count() == 3


def test_the_number_canvas_sends_each_drawing_once_while_the_pen_moves(page):
    """A slow stroke on the number's canvas: each drawing goes to the server once, in the order drawn, the newest
    waiting while one is read (Gradio's always_last sent a deferred one with the stroke's first drawing, again and
    again); the reading at the end answers the last drawing sent."""
    page.locator("#number_sketchpad canvas").first.scroll_into_view_if_needed()
    page.get_by_role("button", name="Clear the number", exact=True).click()
    page.locator("#number_summary", has_text=words.text("number_hint")).wait_for()
    sent = []

    def note(request):
        if "queue/join" in request.url:
            data = json.loads(request.post_data or "{}").get("event_data")
            if isinstance(data, dict) and "drawing" in data:
                sent.append(data["drawing"])

    page.on("request", note)
    try:
        box = page.locator("#number_sketchpad canvas").first.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
        page.mouse.down()
        for step in range(1, 31):  # 3 s of pen, an input every 120 ms
            x = box["x"] + box["width"] * (0.2 + 0.6 * step / 30)
            page.mouse.move(x, box["y"] + box["height"] * (0.2 + 0.5 * (step % 2)), steps=4)
            page.wait_for_timeout(100)
        page.mouse.up()
        wait_until_answered(page, "#number_summary")
        page.wait_for_timeout(500)
    finally:
        page.remove_listener("request", note)
    assert len(sent) >= 5, sent
    assert sent == sorted(set(sent)), sent  # none twice, none out of order
    answered = page.locator("#number_views [data-drawing]").get_attribute("data-drawing")
    assert answered == page.locator("#number_sketchpad [data-sent]").get_attribute("data-sent") == str(sent[-1])


def test_clear_clears_the_digit_every_time(page):
    """Draw, clear, draw another digit: three times over, nothing of an earlier drawing stays on the canvas or in
    the answers ("Why they differ" open, so that its maps are checked too)."""
    page.get_by_role("tab", name="Draw", exact=True).click()
    open_why_they_differ(page)
    page.locator("#sketchpad canvas").first.scroll_into_view_if_needed()
    clear = page.get_by_role("button", name="Clear", exact=True)
    for stroke, digit in [(SEVEN, 7), (ONE, 1), (SEVEN, 7)]:
        wait_until_answered(page, "#summary")
        clear.click()
        expect_cleared(page)
        draw(page, stroke)
        expect_both_models_say(page, digit)
        page.locator("#why_maps img[alt='CNN evidence']").wait_for()
        assert ink(page, "#sketchpad") > 1000
    page.screenshot(path=SCREENSHOTS / "clear_clears_the_digit.png")


def test_clear_clears_the_number_every_time(page):
    """The number's canvas, cleared between numbers of different lengths three times over, each read afresh."""
    page.locator("#number_sketchpad canvas").first.scroll_into_view_if_needed()
    clear = page.get_by_role("button", name="Clear the number", exact=True)
    for strokes, number in [([ONE, SEVEN], "17"), ([SEVEN], "7"), ([SEVEN, ONE], "71")]:
        wait_until_answered(page, "#number_summary")
        clear.click()
        expect_blank(page, "#number_sketchpad")
        for index, stroke in enumerate(strokes):
            draw(page, stroke, "#number_sketchpad", (index, len(strokes)))
        page.locator("#number_summary", has_text=f"Both models read {number}.").wait_for()
        assert page.locator("#number_views img").count() == len(number)
        assert ink(page, "#number_sketchpad") > 1000
    page.screenshot(path=SCREENSHOTS / "clear_clears_the_number.png")


SIZES = {
    "desktop": {"viewport": {"width": 1366, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True},
}


def inside_viewport(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] and box["width"] > 0


@pytest.mark.parametrize(("size", "language"), [("desktop", "en"), ("phone", "en"), ("phone", "pt-BR")])
def test_the_verdict_and_both_answers_show_after_drawing_without_scrolling(browser, app_url, size, language):
    """At 1366x900 and on a 390x844 phone, as the page opens: draw, and the verdict and both cards are on screen;
    the canvas is square and, on the phone, the page never scrolls sideways and the number canvas spans the
    screen. Choosing an example keeps the answers in view. On the phone in Portuguese too, whose words are longer."""
    page = open_page(browser, app_url, locale=language, **SIZES[size])
    try:
        canvas = page.locator("#sketchpad canvas").bounding_box()
        assert abs(canvas["width"] - canvas["height"]) < 1 and canvas["width"] >= 300
        draw(page, SEVEN)
        expect_both_models_say(page, 7, language)
        page.screenshot(path=SCREENSHOTS / f"layout_{size}_{language}.png")
        assert page.evaluate("() => scrollY") == 0
        for selector in ("#summary h3", *CARDS):
            assert inside_viewport(page, selector), selector
        if size == "phone":
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
            assert page.locator("#number_sketchpad canvas").bounding_box()["width"] >= 370
        else:
            page.locator("#cnn_answer").get_by_text("all ten").click()  # the other seven digits, on demand
            assert page.locator("#cnn_answer details[open] > div").count() == 7
            page.locator(".gallery-item").nth(2).click()  # the third example, a 2
            page.get_by_role("tab", name="Upload", exact=True, selected=True).wait_for()
            expect_both_models_say(page, 2)
            for selector in ("#summary h3", *CARDS):
                assert inside_viewport(page, selector), selector
    finally:
        page.close()


def test_frantic_drawing_and_clearing_never_leaves_a_stale_answer(page):
    """Clear pressed while answers are on their way, strokes in quick succession, and tabs switched mid-request:
    the answers on screen are always for what is on the canvas, and no error is shown."""
    page.get_by_role("tab", name="Draw", exact=True).click()
    open_why_they_differ(page)
    clear = page.locator("#sketchpad").get_by_role("button", name="Clear", exact=True)
    for stroke in (SEVEN, ONE, SEVEN, ONE, STAR):
        draw(page, stroke)
        clear.click()  # at once, while the answer to the stroke is on its way
    page.wait_for_timeout(1500)  # long enough for any answer still on its way to land
    expect_cleared(page)
    for stroke in (ONE, SEVEN, STAR, ONE):  # strokes one over another, as fast as the pen goes
        draw(page, stroke)
    page.get_by_role("tab", name="Upload", exact=True).click()
    page.get_by_role("tab", name="Draw", exact=True).click()
    expect_answers_to_the_last_drawing(page)
    page.wait_for_timeout(1000)
    expect_answers_to_the_last_drawing(page)  # and nothing older landed after it
    assert page.locator(".toast-body").count() == 0
    clear.click()
    expect_cleared(page)


def test_a_clear_is_not_overtaken_by_the_answer_to_the_stroke_before_it(page):
    """The answer to a stroke, held back by the network until after Clear is pressed: the page still ends blank with
    its hint, as the canvas's drawings are answered in the order they were made."""
    page.get_by_role("tab", name="Draw", exact=True).click()
    held = []

    def hold_the_strokes_answer(route):
        response = route.fetch()
        sent = json.loads(route.request.post_data or "{}").get("event_data")
        if isinstance(sent, dict) and sent.get("png"):
            held.append((route, response))  # as a slow network keeps it
        else:
            route.fulfill(response=response)

    page.route("**/run/**", hold_the_strokes_answer)
    try:
        draw(page, SEVEN)
        page.locator("#sketchpad").get_by_role("button", name="Clear", exact=True).click()
        page.wait_for_timeout(1000)  # long enough for an answer to the Clear, had it been sent, to land
        assert len(held) == 1, "the stroke's answer was not asked for through the page's event"
        route, response = held.pop()
        route.fulfill(response=response)
        expect_cleared(page)
    finally:
        page.unroute("**/run/**")
        for route, response in held:
            route.fulfill(response=response)


def corrections_kept(folder) -> list[dict]:
    path = folder / "metadata.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_visitor_confirms_and_corrects_an_answer(page, feedback_dir):
    """ "Right" keeps the drawing under the models' answer, "It was a ..." under the visitor's digit, each with its
    strokes; before any answer the page asks for one first."""
    page.get_by_role("tab", name="Draw", exact=True).click()
    page.locator("#sketchpad").get_by_role("button", name="Clear", exact=True).click()
    page.locator("#summary", has_text="Draw a digit").wait_for()
    before = len(corrections_kept(feedback_dir))
    page.locator("#correct_right").click()
    page.locator("#correction_thanks", has_text="Draw or upload a digit first").wait_for()
    draw(page, SEVEN)
    expect_both_models_say(page, 7)
    expect_answers_to_the_last_drawing(page)
    page.locator("#correct_right").click()
    page.locator("#correction_thanks", has_text="kept as a 7").wait_for()
    page.locator("#correct_digit input").click()
    page.get_by_role("option", name="1", exact=True).click()
    page.locator("#correction_thanks", has_text="kept as a 1").wait_for()
    page.screenshot(path=SCREENSHOTS / "correction.png")
    kept = corrections_kept(feedback_dir)[before:]
    assert [row["label"] for row in kept] == ["7", "1"]
    for row in kept:
        assert row["source"] == "canvas" and row["cnn"]["label"] == row["linear"]["label"] == "7"
        assert (feedback_dir / row["file_name"]).is_file() and (feedback_dir / row["strokes_file"]).is_file()


def test_a_visitor_confirms_and_corrects_a_number(page, feedback_dir):
    """Under a read number: "Right" keeps each piece under the models' reading, a typed number under its digits
    (? for no digit), and a number of the wrong length is refused with a line that says what to type."""
    page.locator("#number_sketchpad").get_by_role("button", name="Clear the number", exact=True).click()
    page.locator("#number_sketchpad canvas").scroll_into_view_if_needed()
    for index, stroke in enumerate([ONE, SEVEN]):
        draw(page, stroke, "#number_sketchpad", (index, 2))
    page.locator("#number_summary", has_text="Both models read 17.").wait_for()
    before = len(corrections_kept(feedback_dir))
    page.locator("#number_correct_right").click()
    page.locator("#number_correction_thanks", has_text="kept 2 pieces as 17").wait_for()
    typed = page.locator("#number_correct_text textarea, #number_correct_text input").first
    typed.fill("123")
    page.locator("#number_correct_keep").click()
    page.locator("#number_correction_thanks", has_text="2 in all").wait_for()
    typed.fill("1?")
    typed.press("Enter")
    page.locator("#number_correction_thanks", has_text="kept 2 pieces as 1?").wait_for()
    kept = corrections_kept(feedback_dir)[before:]
    assert [row["label"] for row in kept] == ["1", "7", "1", "not a digit"]
    assert all(row["source"] == "canvas" and (feedback_dir / row["strokes_file"]).is_file() for row in kept)


# WCAG 2.0, 2.1 and 2.2, levels A and AA, as axe-core tags them
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}


def expect_no_wcag_violations(page, state: str) -> None:
    """axe-core, loaded into the page once, finds no violation of WCAG_AA's rules in the page as it is now."""
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        from axe_playwright_python.base import AXE_SCRIPT

        page.evaluate(AXE_SCRIPT)
    violations = page.evaluate("(options) => axe.run(document, options).then((found) => found.violations)", WCAG_AA)
    found = [f"{rule['id']}: {[node['target'] for node in rule['nodes']]} {rule['help']}" for rule in violations]
    assert not found, f"{state}: " + "\n".join(found)


@pytest.mark.parametrize(("language", "verdict"), [("en", "Both models say 7."), ("pt-BR", "Os dois modelos dizem 7.")])
def test_the_page_is_accessible_in_both_languages(browser, app_url, language, verdict):
    """In a browser set to English, the page as it opens and through its switch to Portuguese (?lang=pt-BR):
    axe-core finds no WCAG A/AA violation as it opens, after a 7 is drawn, with "Why they differ" open and on the
    number reader; the status line says the verdict once the drawing settles; a keyboard reaches the examples (each
    named) and opens one."""
    url = app_url + ("?lang=pt-BR" if language == "pt-BR" else "")
    page = open_page(browser, url, locale="en-US", viewport={"width": 1280, "height": 900})
    try:
        assert page.evaluate("() => document.documentElement.lang") == language
        assert page.locator("#language a").get_attribute("href") == (
            "?lang=en" if language == "pt-BR" else "?lang=pt-BR"
        )
        status = page.locator("#digit_row .status-region [role=status]")
        assert status.get_attribute("aria-live") == "polite"
        expect_no_wcag_violations(page, "opened")
        draw(page, SEVEN)
        page.locator("#summary", has_text=verdict).wait_for()
        for _ in range(50):  # once the drawing has settled
            if status.text_content() == verdict:
                break
            page.wait_for_timeout(100)
        assert status.text_content() == verdict, status.text_content()
        expect_no_wcag_violations(page, "a 7 drawn")
        page.locator("#why .label-wrap").click()
        page.locator("#why_maps img").nth(1).wait_for()
        page.locator("#mistakes img").first.wait_for()
        expect_no_wcag_violations(page, "why they differ")
        page.locator("#why .label-wrap").click()
        for index, stroke in enumerate([ONE, SEVEN]):
            draw(page, stroke, "#number_sketchpad", (index, 2))
        page.locator("#number_views img").nth(1).wait_for()
        expect_no_wcag_violations(page, "the number reader")
        if language == "pt-BR":  # no English sentence of the page's is left on it
            shown = page.locator("body").inner_text()
            english = [text for key, text in words.EN.items() if len(text) > 12 and text != words.PT_BR[key]]
            assert [text for text in english if text in shown] == []
        example = page.locator("#digit_row .gallery-item").nth(2)  # a 2
        example.focus()
        assert example.get_attribute("aria-label").endswith("2 paper photo")
        page.keyboard.press("Enter")
        page.locator("#summary", has_text=verdict.replace("7", "2")).wait_for()
    finally:
        page.close()


def test_the_examples_are_named_and_sized_before_their_pictures_load(browser, app_url):
    """Gradio fills an example's button only once the image example's script arrives, after the page shows; until
    then each button is still named by its place and large enough to touch, as axe-core checks."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    held = []

    def hold_the_image_example(route):
        response = route.fetch()
        if 'from"./Image-' in response.text():
            held.append(route)  # as a slow network keeps it, until the test ends
        else:
            route.fulfill(response=response)

    page.route("**/assets/Example-*.js", hold_the_image_example)
    try:
        page.set_default_timeout(30_000)
        page.goto(app_url + "?lang=pt-BR")
        page.wait_for_selector("#digit_row .gallery-item")
        assert held, "no image example's script was asked for"
        example = page.locator("#digit_row .gallery-item").nth(2)
        assert example.locator("img").count() == 0
        assert example.get_attribute("aria-label") == "Exemplo 3"
        expect_no_wcag_violations(page, "examples not loaded")
        for route in held:
            route.fulfill(response=route.fetch())
        example.locator("img").wait_for()
        assert example.get_attribute("aria-label") == "Exemplo 3: 2 paper photo"
    finally:
        page.close()
