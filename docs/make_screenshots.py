"""The page as a visitor sees it, for the README: a 7 drawn on the canvas and both models' answers.

    python -m docs.make_screenshots      # from the repository root; about 30 s

Starts `python app.py` on a free port, draws in Debian's Chromium (/usr/bin/chromium, driven by Playwright) at
1366x900, and writes docs/screenshots/page-desktop.png.
"""

from pathlib import Path

from playwright.sync_api import sync_playwright

from digit_studio.local_server import start_app, stop_app

OUTPUT = Path(__file__).resolve().parent / "screenshots" / "page-desktop.png"
SEVEN = [(0.2, 0.15), (0.8, 0.15), (0.45, 0.9)]  # fractions of the drawing area


def main() -> None:
    process, url = start_app()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
            )
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(url)
            page.locator("#sketchpad button[aria-label='Brush'].highlight").wait_for()  # the brush is ready
            box = page.locator("#sketchpad canvas").first.bounding_box()
            side = min(box["width"], box["height"]) * 0.7  # inside the canvas's toolbars
            left, top = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2
            points = [(left + x * side, top + y * side) for x, y in SEVEN]
            page.mouse.move(*points[0])
            page.mouse.down()
            for point in points[1:]:
                page.mouse.move(*point, steps=10)
            page.mouse.up()
            page.mouse.move(0, 0)
            page.locator("#summary", has_text="Both models say 7.").wait_for(timeout=30_000)
            OUTPUT.parent.mkdir(exist_ok=True)
            page.screenshot(path=OUTPUT)
            browser.close()
    finally:
        stop_app(process)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
