from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from inference.types import ImageInput


def image_bytes(img: Image.Image, fmt: str = "PNG", **save_kwargs) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **save_kwargs)
    return buffer.getvalue()


def image_input(key: str, data: bytes) -> ImageInput:
    return ImageInput(
        key=key,
        content_hash=hashlib.sha256(data).hexdigest(),
        open=lambda: io.BytesIO(data),
    )


def gradient(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    """A deterministic colourful image (different seeds give different images)."""
    img = Image.new("RGB", (width, height))
    img.putdata(
        [
            ((x * 4 + seed * 37) % 256, (y * 5 + seed * 11) % 256, ((x + y) * 3 + seed) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    return img


@pytest.fixture
def pngs() -> list[bytes]:
    return [image_bytes(gradient(seed=s)) for s in range(3)]


@pytest.fixture
def weights_dir(tmp_path) -> Path:
    return tmp_path / "weights"
