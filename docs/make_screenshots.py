"""The page as a visitor sees it: a 7 drawn on the canvas and both models' answers, and a star, which is no digit.

    python -m docs.make_screenshots      # from the repository root; about a minute

Starts `python app.py` on a free port, draws in Debian's Chromium (/usr/bin/chromium, driven by Playwright) at
1366x900 and at a phone's 390x844 (touch), and writes to docs/screenshots/: page-desktop.png (the README's),
not-a-digit-desktop.png, page-phone.png and not-a-digit-phone.png.
"""

from pathlib import Path

from playwright.sync_api import sync_playwright

from digit_studio.local_server import start_app, stop_app

OUTPUT_DIR = Path(__file__).resolve().parent / "screenshots"
SEVEN = [(0.2, 0.15), (0.8, 0.15), (0.45, 0.9)]  # fractions of the drawing area
STAR = [(0.5, 0.05), (0.79, 0.9), (0.05, 0.38), (0.95, 0.38), (0.21, 0.9), (0.5, 0.05)]
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
DRAWINGS = {"page": (SEVEN, "Both models say 7."), "not-a-digit": (STAR, "That doesn't look like a digit")}


def draw(page, points: list[tuple[float, float]]) -> None:
    box = page.locator("#sketchpad canvas").first.bounding_box()
    side = min(box["width"], box["height"]) * 0.7  # inside the canvas's toolbars
    left, top = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2
    points = [(left + x * side, top + y * side) for x, y in points]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=10)
    page.mouse.up()
    page.mouse.move(0, 0)


def main() -> None:
    process, url = start_app()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
            )
            OUTPUT_DIR.mkdir(exist_ok=True)
            for size, viewport in SIZES.items():
                page = browser.new_page(viewport=viewport, has_touch=size == "phone")
                page.goto(url)
                for name, (points, summary) in DRAWINGS.items():
                    page.locator("#sketchpad button[aria-label='Brush'].highlight").wait_for()  # the brush is ready
                    draw(page, points)
                    page.locator("#summary", has_text=summary).wait_for(timeout=30_000)
                    page.screenshot(path=OUTPUT_DIR / f"{name}-{size}.png")
                    print(f"wrote {OUTPUT_DIR / f'{name}-{size}.png'}")
                    page.get_by_role("button", name="Clear", exact=True).click()
                    page.locator("#summary", has_text="Draw a digit").wait_for()
                page.close()
            browser.close()
    finally:
        stop_app(process)


if __name__ == "__main__":
    main()
