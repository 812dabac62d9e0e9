"""Memory of checking one upload, measured in a fresh interpreter (peak RSS).

The issue's case: a 142 KB PNG of 7071×7071 (just under the 50 MP cap) cost ~570 MB to
check, four at once 2.7 GB on a 2 GB web task. Each accepted worst case must now stay
within IMAGE_DECODE_MAX_MB, and decodes run one at a time per process.
"""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
from PIL import Image as PILImage

from classifier_site.testing.processes import clean_env, run_python
from images import intake, services
from images.intake import ImageRejected

MEASURE = r"""
import json, os, sys
import django

def high_water_mb():
    # VmHWM belongs to this process image; ru_maxrss would include the parent's (Linux
    # keeps it across fork and exec).
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

django.setup()
from django.conf import settings
from images import intake
data = open(sys.argv[1], "rb").read()
before = high_water_mb()
try:
    intake.probe(
        data,
        max_pixels=settings.IMAGE_MAX_PIXELS,
        max_decode_bytes=settings.IMAGE_DECODE_MAX_MB * 1024 * 1024,
        strip_location=True,
        thumb_px=320,
    )
    outcome = "accepted"
except intake.ImageRejected as exc:
    outcome = exc.code
print(json.dumps({"outcome": outcome, "peak_mb": high_water_mb() - before}))
"""


def _encoded(mode: str, size: tuple[int, int], fmt: str) -> bytes:
    out = io.BytesIO()
    PILImage.new(mode, size).save(out, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return out.getvalue()


def _measure(tmp_path, data: bytes) -> dict:
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    # The default settings, as a fresh deployment has them.
    env = clean_env(tmp_path / "data")
    result = run_python(MEASURE.replace("sys.argv[1]", repr(str(path))), env)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# The worst accepted file of each full-size-decoded kind: as many pixels as the defaults
# allow, in the mode that costs most. WebP's cap (15.7 MP) comes from the memory budget.
WORST = [
    ("PNG", "RGBA", (7071, 7071)),  # 50.0 MP, ~190 KB: the file, with alpha
    ("PNG", "RGB", (7071, 7071)),
    ("PNG", "I;16", (7071, 7071)),
    ("GIF", "P", (7071, 7071)),
    ("WEBP", "RGB", (3962, 3962)),  # 15.7 MP
    ("JPEG", "RGB", (7071, 7071)),
]


@pytest.mark.parametrize(("fmt", "mode", "size"), WORST, ids=[f"{f}-{m}" for f, m, _ in WORST])
def test_peak_memory_of_the_worst_accepted_file_stays_within_the_budget(tmp_path, fmt, mode, size):
    measured = _measure(tmp_path, _encoded(mode, size, fmt))
    print(f"{fmt} {mode} {size[0]}x{size[1]}: peak {measured['peak_mb']:.0f} MB")
    assert measured["outcome"] == "accepted"
    assert measured["peak_mb"] < 256  # IMAGE_DECODE_MAX_MB's default


def test_a_webp_over_its_memory_cap_is_refused_before_decoding(tmp_path):
    measured = _measure(tmp_path, _encoded("RGB", (7071, 7071), "WEBP"))  # 960 MB to decode
    assert measured["outcome"] == "too_many_pixels"
    assert measured["peak_mb"] < 50
    with pytest.raises(ImageRejected) as caught:
        intake.probe(
            _encoded("RGB", (4200, 4200), "WEBP"),
            max_pixels=50_000_000,
            max_decode_bytes=256 * 1024 * 1024,
            strip_location=True,
            thumb_px=320,
        )
    assert caught.value.message == (
        "The image is 4200 × 4200 pixels (17.6 megapixels); "
        "the limit is 15.7 megapixels for WEBP images (50 for JPEG)."
    )


def test_band_reduced_thumbnail_matches_the_picture():
    im = PILImage.new("P", (3000, 1000))
    im.putpalette([255, 0, 0] + [0, 0, 255] * 255)
    im.paste(1, (1500, 0, 3000, 1000))  # left half red (index 0), right half blue
    out = io.BytesIO()
    im.save(out, "PNG")
    probed = intake.probe(out.getvalue(), max_pixels=50_000_000, strip_location=True, thumb_px=320)
    thumb = PILImage.open(io.BytesIO(probed.thumbnail)).convert("RGB")
    assert thumb.size == (320, 107)
    r, g, b = thumb.getpixel((40, 50))
    assert r > 200 and b < 50
    r, g, b = thumb.getpixel((280, 50))
    assert b > 200 and r < 50


def test_decodes_wait_for_a_slot_and_give_up_with_a_503(settings, monkeypatch):
    settings.IMAGE_DECODE_CONCURRENCY = 1
    settings.IMAGE_DECODE_WAIT_SECONDS = 0.2
    monkeypatch.setattr(services, "_decode_slots", None)
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with services.decode_slot():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        with pytest.raises(ImageRejected) as caught, services.decode_slot():
            pass
        assert (caught.value.status_code, caught.value.code) == (503, "busy")
    finally:
        release.set()
        thread.join(10)
    with services.decode_slot():  # free again once the other decode finished
        pass
    time.sleep(0)
