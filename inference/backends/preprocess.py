"""Decoding and preprocessing with Pillow and numpy (runs in the decode threads).

Matches torchvision's Resize(int) + CenterCrop + ToTensor + Normalize on PIL images, so
the scores equal a direct torchvision/open_clip computation (within float rounding),
except for JPEG draft decoding, which is the point: a 12 MP photo is decoded at 1/2–1/8
scale, still at least the size the resize needs.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps

_RESAMPLE = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
}
_WHITE = (255, 255, 255)


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB: alpha composited on white, 16-bit scaled, CMYK/P/L."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if mode.startswith("I"):
        # 16-bit (I;16*) and 32-bit integer greyscale hold 0–65535 from PNG/TIFF; Pillow's
        # own convert("L") would clip them to 255 instead of scaling.
        arr = np.asarray(img, dtype=np.float32) / 257.0
        grey = np.clip(arr, 0, 255).round().astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "F":
        grey = np.clip(np.asarray(img, dtype=np.float32), 0, 255).round().astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    return img.convert("RGB")  # L, 1, CMYK (Adobe inversion handled by Pillow), YCbCr, LAB


def resized_size(width: int, height: int, size: int) -> tuple[int, int]:
    """torchvision's Resize(size) output (shorter side to ``size``, truncating the long side)."""
    if width <= height:
        return size, max(1, int(size * height / width))
    return max(1, int(size * width / height)), size


def image_open(fh: BinaryIO, *, short_side: int, draft: bool = True) -> Image.Image:
    """Decode an image at no less than ``short_side`` on its shorter side, upright, RGB.

    ``draft=False`` decodes at full size, as the reference pipelines (torchvision, timm,
    open_clip on a PIL image) do.
    """
    img: Image.Image = Image.open(fh)
    if draft and img.format == "JPEG":
        # DCT scaling: decode at the smallest 1/2..1/8 scale that keeps both sides ≥ target.
        w, h = img.size
        short = min(w, h)
        img.draft("RGB", (max(1, w * short_side // short), max(1, h * short_side // short)))
    img.load()
    img = ImageOps.exif_transpose(img)
    return to_rgb(img)


def preprocess_image(fh: BinaryIO, *, cfg: dict[str, Any]) -> np.ndarray:
    """One image file → float32 (3, crop, crop), normalised as the model expects.

    ``cfg["decode"]`` is "draft" (default: JPEGs decoded at 1/2–1/8 scale by the DCT, then
    resized; on photos over 2000 px this moves ImageNet scores by up to ~0.1–0.3 and can
    flip a close top-1, measured in issue 11 and tested in test_decoding.py) or "exact"
    (full-size decode: the same float32 values as torchvision's Resize + CenterCrop +
    ToTensor + Normalize, bit for bit).
    """
    resize = int(cfg["resize"])
    img = image_open(fh, short_side=resize, draft=cfg.get("decode", "draft") != "exact")
    return preprocess_pil(img, cfg=cfg)


def preprocess_pil(img: Image.Image, *, cfg: dict[str, Any]) -> np.ndarray:
    """An RGB PIL image → float32 (3, crop, crop), as torchvision's transforms compute it."""
    resize, crop = int(cfg["resize"]), int(cfg["crop"])
    new_w, new_h = resized_size(*img.size, resize)
    if (new_w, new_h) != img.size:
        img = img.resize((new_w, new_h), _RESAMPLE[cfg["interpolation"]])
    left = int(round((new_w - crop) / 2.0))
    top = int(round((new_h - crop) / 2.0))
    img = img.crop((left, top, left + crop, top + crop))
    arr = np.asarray(img, dtype=np.float32)
    arr /= 255.0  # a division, as ToTensor does: multiplying by 1/255 rounds differently
    mean = np.asarray(cfg["mean"], dtype=np.float32)
    std = np.asarray(cfg["std"], dtype=np.float32)
    arr -= mean
    arr /= std
    return np.ascontiguousarray(arr.transpose(2, 0, 1))
