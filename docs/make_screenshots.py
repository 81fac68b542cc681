"""The page as a visitor sees it, at 1366x900 and at a phone's 390x844 (touch): a 7 drawn on the canvas, a test
digit the two models disagree on, a star (no digit), "Why they differ" open, and a number on the wide canvas; and a
7 drawn on the page in Brazilian Portuguese, as a browser set to pt-BR shows it.

    python -m docs.make_screenshots      # from the repository root; about two minutes

Starts `python app.py` on a free port, draws in Debian's Chromium (/usr/bin/chromium, driven by Playwright) and
writes to docs/screenshots/ NAME-desktop.png and NAME-phone.png for NAME in page (the README's), disagreement,
not-a-digit, why, number and page-pt.
"""

import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

import model_defs
from digit_studio.local_server import start_app, stop_app

OUTPUT_DIR = Path(__file__).resolve().parent / "screenshots"
SEVEN = [(0.2, 0.15), (0.8, 0.15), (0.45, 0.9)]  # fractions of a digit's square
ONE = [(0.5, 0.1), (0.5, 0.9)]
STAR = [(0.5, 0.05), (0.79, 0.9), (0.05, 0.38), (0.95, 0.38), (0.21, 0.9), (0.5, 0.05)]
SIZES = {
    "desktop": {"viewport": {"width": 1366, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True},
}


def draw(page, points: list[tuple[float, float]], pad: str = "#sketchpad", slot: tuple[int, int] = (0, 1)) -> None:
    """One stroke through points, in the slot-th of n squares across the canvas."""
    box = page.locator(f"{pad} canvas").bounding_box()
    index, slots = slot
    width = box["width"] / slots
    side = min(width, box["height"]) * 0.7
    left, top = box["x"] + index * width + (width - side) / 2, box["y"] + (box["height"] - side) / 2
    points = [(left + x * side, top + y * side) for x, y in points]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=10)
    page.mouse.up()


def disagreements(folder: Path) -> list[Path]:
    """Test digits only one model gets right (the mistakes gallery's), as pictures to upload."""
    with np.load(model_defs.WEIGHTS_DIR / "mistakes.npz") as data:
        images, labels, cnn, linear = (data[key] for key in ("image", "label", "cnn", "linear"))
    paths = []
    for index in np.flatnonzero((cnn == labels) != (linear == labels))[:10]:
        path = folder / f"disagreement_{index}.png"
        Image.fromarray(images[index]).resize((280, 280), Image.Resampling.BICUBIC).save(path)
        paths.append(path)
    return paths


def shoot(page, name: str, size: str) -> None:
    path = OUTPUT_DIR / f"{name}-{size}.png"
    page.screenshot(path=path)
    print(f"wrote {path}")


def clear(page) -> None:
    page.get_by_role("tab", name="Draw", exact=True).first.click()
    page.locator("#sketchpad").get_by_role("button", name="Clear", exact=True).click()
    page.locator("#summary", has_text="Draw a digit").wait_for()


def visit(page, size: str, uploads: list[Path]) -> None:
    for name, points, summary in (("page", SEVEN, "Both models say 7."), ("not-a-digit", STAR, "doesn't look like")):
        draw(page, points)
        page.locator("#summary", has_text=summary).wait_for()
        shoot(page, name, size)
        clear(page)
    page.get_by_role("tab", name="Upload", exact=True).first.click()
    for path in uploads:  # the first that the page's preprocessing leaves in dispute
        page.locator("#upload input[type=file]").set_input_files(str(path))
        page.locator("#summary", has_text="say").wait_for()
        if "disagree" in page.locator("#summary").inner_text():
            shoot(page, "disagreement", size)
            break
        page.locator("#upload").get_by_role("button", name="Remove Image").click()
        page.locator("#summary", has_text="Draw a digit").wait_for()
    clear(page)
    draw(page, SEVEN)
    page.locator("#summary", has_text="Both models say 7.").wait_for()
    page.locator("#why").get_by_text("Why they differ").first.click()
    page.locator("#why_maps img[alt='CNN evidence']").wait_for()
    page.locator("#why_maps").scroll_into_view_if_needed()
    page.evaluate("() => document.querySelector('#why_maps').scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    shoot(page, "why", size)
    page.locator("#why").get_by_text("Why they differ").first.click()  # closed again
    page.locator("#number_sketchpad canvas").scroll_into_view_if_needed()
    for index, stroke in enumerate([ONE, SEVEN]):
        draw(page, stroke, "#number_sketchpad", (index, 4))
    page.locator("#number_summary", has_text="read 17").wait_for()
    page.evaluate("() => document.querySelector('#number_sketchpad').scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    shoot(page, "number", size)


def main() -> None:
    process, url = start_app()
    try:
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as folder:
            uploads = disagreements(Path(folder))
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
            )
            OUTPUT_DIR.mkdir(exist_ok=True)
            for size, options in SIZES.items():
                for locale in ("en-US", "pt-BR"):
                    page = browser.new_page(locale=locale, **options)
                    page.set_default_timeout(30_000)
                    page.goto(url)
                    page.wait_for_selector("#sketchpad canvas")
                    if locale == "en-US":
                        visit(page, size, uploads)
                    else:
                        draw(page, SEVEN)
                        page.locator("#summary", has_text="Os dois modelos dizem 7.").wait_for()
                        shoot(page, "page-pt", size)
                    page.close()
            browser.close()
    finally:
        stop_app(process)


if __name__ == "__main__":
    main()
