"""Test inputs: good images of every accepted type and the bad-input corpus."""

from __future__ import annotations

import functools
import io

from PIL import Image as PILImage

from classifier_site.testing.images import image_bytes, jpeg, png

__all__ = ["image_bytes", "jpeg", "png"]


@functools.cache
def bomb_png() -> bytes:
    """10 000 × 10 000 (100 megapixels) of one colour: a ~100 KB file."""
    out = io.BytesIO()
    PILImage.new("L", (10_000, 10_000), 0).save(out, "PNG", compress_level=9)
    return out.getvalue()


def truncated_jpeg() -> bytes:
    data = jpeg(seed=3, size=(256, 256))
    return data[: len(data) // 2]


SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<script>alert(1)</script><rect width="10" height="10"/></svg>'
)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
TEXT = b"These are my holiday notes, not a photo.\nDay 1: beach.\n"
POLYGLOT_TAIL = b"<html><body><script>alert(document.domain)</script></body></html>"


def polyglot() -> bytes:
    return png(seed=5) + POLYGLOT_TAIL


def oversize(limit: int) -> bytes:
    """A valid PNG bigger than ``limit`` bytes (noise does not compress)."""
    side = 64
    while True:
        data = png(seed=9, size=(side, side))
        if len(data) > limit:
            return data
        side *= 2


# name -> (filename, bytes or None for the over-size case, expected status, expected code)
BAD_INPUTS = {
    "empty": ("empty.jpg", b"", 400, "empty_file"),
    "text_named_jpg": ("notes.jpg", TEXT, 415, "unsupported_type"),
    "svg": ("drawing.svg", SVG, 415, "unsupported_type"),
    "html": ("page.png", HTML, 415, "unsupported_type"),
    "truncated_jpeg": ("cut.jpg", None, 400, "corrupt_image"),
    "bomb_png": ("huge.png", None, 400, "too_many_pixels"),
    "oversize": ("big.png", None, 413, "too_large"),
    "polyglot": ("poly.png", None, 400, "trailing_data"),
}
OVERSIZE_LIMIT = 20_000


def bad_input(name: str) -> tuple[str, bytes, int, str]:
    filename, data, status, code = BAD_INPUTS[name]
    if data is None:
        data = {
            "truncated_jpeg": truncated_jpeg,
            "bomb_png": bomb_png,
            "oversize": lambda: oversize(OVERSIZE_LIMIT),
            "polyglot": polyglot,
        }[name]()
    return filename, data, status, code


# Names with odd characters: accepted (valid content) and stored sanitized.
ODD_NAMES = [
    ("../../x.png", "x.png"),
    ("a\x00b.png", "ab.png"),
    ("photo\u202egnp.exe", "photognp.exe"),
]
# Over HTTP a 1000-character name overflows the multipart part-header limit: a 400 with
# a reason. Where it can arrive (direct upload, zip member) it is shortened.
LONG_NAME = ("A" * 1000 + ".png", "A" * 196 + ".png")
