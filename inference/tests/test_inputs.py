"""Odd but valid inputs classify; broken ones give an outcome with an error."""

import io

import numpy as np
import pytest
from PIL import Image

from classifier_site.testing.images import encode, gradient
from inference.backends.preprocess import image_open, preprocess_image
from inference.services import classify, model_version_active
from inference.tests.conftest import image_input


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    return encode(gradient(80, 40), "JPEG", exif=exif.tobytes())


def _sixteen_bit_png() -> bytes:
    return encode(Image.fromarray(np.full((30, 50), 32896, dtype=np.uint16)))


def _palette_png() -> bytes:
    img = Image.new("P", (20, 20), 1)
    img.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    return encode(img)


ODD = {
    "exif-rotated": _exif_rotated_jpeg,
    "cmyk-jpeg": lambda: encode(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG"),
    "16-bit-png": _sixteen_bit_png,
    "alpha-png": lambda: encode(Image.new("RGBA", (30, 30), (255, 0, 0, 0))),
    "palette-png": _palette_png,
    "grey-jpeg": lambda: encode(Image.new("L", (30, 30), 90), "JPEG"),
    "one-pixel": lambda: encode(Image.new("RGB", (1, 1), (0, 0, 255))),
    "panorama": lambda: encode(Image.new("RGB", (10000, 100), (0, 90, 0)), "JPEG"),
    "12mp-jpeg": lambda: encode(gradient(64, 48).resize((4000, 3000)), "JPEG"),
}


@pytest.mark.parametrize("kind", ["imagenet", "zero_shot"])
def test_odd_inputs_classify_and_broken_ones_report_an_error(db, inference_weights, kind):
    version = model_version_active(kind=kind)
    inputs = [image_input(name, make()) for name, make in ODD.items()]
    inputs.insert(2, image_input("not-an-image", b"this is text, not an image"))
    truncated = encode(gradient(), "JPEG")[:300]
    inputs.append(image_input("truncated-jpeg", truncated))

    outcomes = [
        o
        for batch in classify(
            model_version=version, inputs=inputs, labels=["cat", "dog"], top_k=2, batch_size=4
        )
        for o in batch
    ]

    assert [o.key for o in outcomes] == [i.key for i in inputs]
    failed = {o.key: o.error for o in outcomes if o.error}
    assert sorted(failed) == ["not-an-image", "truncated-jpeg"]
    assert failed["not-an-image"].startswith("Could not read the image: cannot identify image file")
    assert [len(o.predictions) for o in outcomes if not o.error] == [2] * len(ODD)


def _open(data: bytes, short_side: int) -> Image.Image:
    return image_open(io.BytesIO(data), short_side=short_side)


def test_conversions_give_the_expected_pixels():
    assert _open(_exif_rotated_jpeg(), 40).size == (40, 80)  # upright: portrait
    assert _open(_sixteen_bit_png(), 30).getpixel((0, 0)) == (128, 128, 128)
    assert _open(ODD["alpha-png"](), 30).getpixel((0, 0)) == (255, 255, 255)  # on white
    assert _open(_palette_png(), 20).getpixel((0, 0)) == (10, 200, 30)
    red = _open(ODD["cmyk-jpeg"](), 30).getpixel((5, 5))
    assert red[0] > 240 and red[1] < 15 and red[2] < 15
    assert _open(ODD["grey-jpeg"](), 30).mode == "RGB"


def test_a_12mp_jpeg_is_decoded_at_draft_scale():
    img = _open(ODD["12mp-jpeg"](), 232)
    assert img.size == (500, 375)  # 1/8 scale, still ≥ 232 on the short side


def test_preprocessing_output_shape_and_normalisation():
    cfg = {
        "resize": 232,
        "crop": 224,
        "interpolation": "bilinear",
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
    }
    array = preprocess_image(io.BytesIO(ODD["panorama"]()), cfg=cfg)
    assert array.shape == (3, 224, 224)
    assert array.dtype == np.float32
    white = preprocess_image(io.BytesIO(ODD["alpha-png"]()), cfg=cfg)
    assert float(white.min()) == 1.0 and float(white.max()) == 1.0
