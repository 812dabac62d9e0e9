"""The one way tests make images: deterministic pictures and their encoded bytes."""

from __future__ import annotations

import io
import random

from PIL import Image as PILImage


def gradient(width: int = 64, height: int = 48, seed: int = 0) -> PILImage.Image:
    """A smooth colourful picture (different seeds give different pictures)."""
    img = PILImage.new("RGB", (width, height))
    img.putdata(
        [
            ((x * 4 + seed * 37) % 256, (y * 5 + seed * 11) % 256, ((x + y) * 3 + seed) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    return img


def noise(size: tuple[int, int] = (64, 48), seed: int = 0) -> PILImage.Image:
    """Random pixels: every seed gives a distinct file (and content hash)."""
    rnd = random.Random(seed)
    return PILImage.frombytes("RGB", size, rnd.randbytes(size[0] * size[1] * 3))


def encode(img: PILImage.Image, fmt: str = "PNG", **save) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **save)
    return out.getvalue()


def image_bytes(
    fmt: str = "PNG",
    size: tuple[int, int] = (64, 48),
    *,
    color: tuple[int, int, int] = (200, 30, 30),
    seed: int | None = None,
    **save,
) -> bytes:
    """A file of ``fmt``: random pixels for a seed, else one flat colour."""
    img = noise(size, seed) if seed is not None else PILImage.new("RGB", size, color)
    return encode(img, fmt, **save)


def png(seed: int = 1, size: tuple[int, int] = (64, 48)) -> bytes:
    return image_bytes("PNG", size, seed=seed)


def jpeg(seed: int = 1, size: tuple[int, int] = (64, 48), **save) -> bytes:
    return image_bytes("JPEG", size, seed=seed, quality=90, **save)
