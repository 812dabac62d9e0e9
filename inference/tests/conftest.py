from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from classifier_site.testing.images import encode, gradient
from inference.types import ImageInput


def image_input(key: str, data: bytes) -> ImageInput:
    return ImageInput(
        key=key,
        content_hash=hashlib.sha256(data).hexdigest(),
        open=lambda: io.BytesIO(data),
    )


@pytest.fixture
def pngs() -> list[bytes]:
    return [encode(gradient(seed=s)) for s in range(3)]


@pytest.fixture
def weights_dir(tmp_path) -> Path:
    return tmp_path / "weights"
