"""uploads.py on its own: formats, pixel limits, the budget shared by all requests, EXIF, and the cleaner."""

import io
import os
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

import bad_inputs
from digit_studio.core import preprocess
from digit_studio.web import uploads


def test_the_budget_bounds_the_pixels_decoded_at_once_across_threads():
    """Twelve 25-megapixel images at once: never more than MAX_PIXELS_IN_FLIGHT of them decoded together."""
    big = bad_inputs.encoded(Image.new("L", (5000, 5000), 255), "PNG")  # 25 megapixels in 30 KB
    lock, holders, most = threading.Lock(), [0], [0]

    def read(_) -> tuple[int, int]:
        with uploads.image_file(big) as image:
            with lock:
                holders[0] += 1
                most[0] = max(most[0], holders[0])
            time.sleep(0.2)
            with lock:
                holders[0] -= 1
            return image.size

    with ThreadPoolExecutor(12) as pool:
        sizes = list(pool.map(read, range(12)))
    assert sizes == [(5000, 5000)] * 12
    assert most[0] == uploads.MAX_PIXELS_IN_FLIGHT // uploads.MAX_PIXELS
    assert uploads.BUDGET.in_use == 0


def test_the_budget_serves_in_order_so_a_large_request_is_not_starved():
    budget = uploads.PixelBudget(10)
    order, started = [], threading.Event()

    def hold(name: str, pixels: int, seconds: float) -> None:
        with budget.hold(pixels):
            order.append(name)
            started.set()
            time.sleep(seconds)

    first = threading.Thread(target=hold, args=("small first", 4, 0.3))
    first.start()
    started.wait()
    large = threading.Thread(target=hold, args=("large", 10, 0))
    large.start()
    time.sleep(0.05)
    later = [threading.Thread(target=hold, args=(f"small {i}", 1, 0)) for i in range(3)]
    for thread in later:
        thread.start()
    for thread in [first, large, *later]:
        thread.join(5)
    assert order[:2] == ["small first", "large"]  # the small ones that came later, and fit, waited their turn


def test_a_broken_png_chunk_is_a_damaged_file_not_a_crash():
    data = bytearray(bad_inputs.encoded(bad_inputs.on_paper(), "PNG"))
    assert data[37:41] == b"IDAT"
    data[33:37] = struct.pack(">I", 2)  # the pixel data's length cut short: Pillow then raises SyntaxError
    with pytest.raises(preprocess.BadImageError, match=bad_inputs.DAMAGED), uploads.image_file(bytes(data)):
        pass


def test_a_sketch_background_is_turned_upright_by_its_exif_tag():
    with uploads.sketch_files({"background": bad_inputs.with_exif_rotation()}) as sketch:
        upright = sketch["background"]
    with uploads.sketch_files({"background": bad_inputs.encoded(bad_inputs.on_paper(), "PNG")}) as sketch:
        expected = sketch["background"]
    assert upright.shape == expected.shape
    assert np.abs(upright.astype(int) - expected.astype(int)).mean() < 8  # JPEG's loss only


def test_a_sketch_is_limited_in_all_and_by_format():
    layer = bad_inputs.encoded(Image.new("RGBA", (1000, 1000)), "PNG")
    with (
        pytest.raises(preprocess.BadImageError, match="4 megapixels in all"),
        uploads.sketch_files({"layers": [layer] * 5}),
    ):
        pass
    ico = bad_inputs.encoded(bad_inputs.on_transparent(), "ICO")
    with pytest.raises(preprocess.BadImageError, match=bad_inputs.NOT_IMAGE), uploads.sketch_files({"layers": [ico]}):
        pass


def aged(path, seconds: float) -> None:
    os.utime(path, (time.time() - seconds,) * 2)


def test_the_cleaner_tracks_a_path_before_it_is_on_disk(tmp_path):
    cleaner, path = uploads.UploadCleaner(lifetime=30), tmp_path / "upload" / "digit.png"
    tracked = {str(path)}
    cleaner.sweep([tracked], set(), now=1000)  # still being written
    assert tracked == {str(path)}
    path.parent.mkdir()
    path.write_bytes(b"png")
    cleaner.sweep([tracked], set(), now=time.time() + 10)  # on disk now, but young
    assert path.exists()
    cleaner.sweep([tracked], set(), now=time.time() + 31)
    assert not path.exists() and not path.parent.exists() and not tracked


def test_the_cleaner_keeps_what_a_waiting_request_needs(tmp_path):
    cleaner, path = uploads.UploadCleaner(lifetime=30), tmp_path / "digit.png"
    path.write_bytes(b"png")
    tracked = {str(path)}
    cleaner.sweep([tracked], {str(path)}, now=time.time() + 300)
    assert path.exists() and tracked
    cleaner.sweep([tracked], set(), now=time.time() + 300)
    assert not path.exists() and not tracked


def test_the_cleaner_expires_canvases_sent_for_events_that_never_ran():
    cleaner, sent = uploads.UploadCleaner(lifetime=30), {"waiting": b"layer", "dropped": b"layer"}
    cleaner.expire(sent, {"waiting"}, now=1000)
    cleaner.expire(sent, {"waiting"}, now=1031)
    assert sent == {"waiting": b"layer"}


def test_image_file_reads_paths_and_bytes_alike(tmp_path):
    path = tmp_path / "digit.webp"
    bad_inputs.on_paper().save(path)
    with uploads.image_file(path) as from_path, uploads.image_file(path.read_bytes()) as from_bytes:
        assert np.array_equal(np.asarray(from_path), np.asarray(from_bytes))
    with pytest.raises(preprocess.BadImageError, match=bad_inputs.NOT_IMAGE), uploads.image_file(io.BytesIO().read()):
        pass
