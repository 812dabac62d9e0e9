"""Natural photos for accuracy gates, built offline from the photos installed packages ship.

scikit-image (in the worker extra) ships a dozen real colour photos (a cat, coffee, a
rocket, an astronaut, a horse, a retina, the Hubble deep field, ...). Random crops, flips,
rotations and colour changes turn them into several hundred distinct inputs: enough to
measure whether int8 keeps fp32's top-1 on natural image statistics, which random tensors
(what a quantizer usually sees) do not have.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

PHOTO_FILES = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "color.png",
    "immunohistochemistry.png",
    "ihc.png",
    "camera.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "moon.png",
)


def photo_sources() -> list[Image.Image]:
    """The shipped photos as RGB images ([] when scikit-image is not installed)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return []
    data_dir = Path(next(iter(spec.submodule_search_locations))) / "data"
    photos = []
    for name in PHOTO_FILES:
        path = data_dir / name
        if path.is_file():
            with Image.open(path) as img:
                photos.append(img.convert("RGB"))
    return photos


def natural_photos(count: int, *, seed: int = 0, min_side: int = 160) -> list[Image.Image]:
    """``count`` distinct RGB images: random crops (15–100 % of the area) of the shipped
    photos, flipped / rotated / recoloured, each at least ``min_side`` on its shorter side."""
    sources = photo_sources()
    if not sources:
        return []
    rng = np.random.default_rng(seed)
    images = []
    for i in range(count):
        src = sources[i % len(sources)]
        w, h = src.size
        area = rng.uniform(0.15, 1.0) * w * h
        aspect = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
        cw = int(min(w, max(min_side, round((area * aspect) ** 0.5))))
        ch = int(min(h, max(min_side, round((area / aspect) ** 0.5))))
        left = int(rng.integers(0, w - cw + 1))
        top = int(rng.integers(0, h - ch + 1))
        img = src.crop((left, top, left + cw, top + ch))
        if rng.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if rng.random() < 0.2:
            img = img.rotate(float(rng.choice([90, 180, 270])), expand=True)
        img = ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.7, 1.3)))
        img = ImageEnhance.Color(img).enhance(float(rng.uniform(0.6, 1.4)))
        images.append(img)
    return images
