from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from images.intake import ImageRejected, probe, sanitize_filename, strip_location_metadata


def _probe(data, **kw):
    return probe(
        data,
        max_pixels=kw.get("max_pixels", 50_000_000),
        strip_location=kw.get("strip_location", True),
        thumb_px=64,
    )


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("WEBP", "image/webp"),
        ("GIF", "image/gif"),
    ],
)
def test_accepted_formats_are_stored_as_sent(fmt, mime):
    out = io.BytesIO()
    PILImage.new("RGB", (30, 20), (1, 2, 3)).save(out, fmt)

    probed = _probe(out.getvalue())

    assert (probed.format, probed.mime_type, probed.width, probed.height) == (fmt, mime, 30, 20)
    assert probed.data == out.getvalue()
    with PILImage.open(io.BytesIO(probed.thumbnail)) as thumb:
        assert (thumb.format, thumb.size) == ("WEBP", (30, 20))


def test_animated_gif_uses_the_first_frame():
    frames = [PILImage.new("RGB", (20, 10), c) for c in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])

    probed = _probe(out.getvalue())

    with PILImage.open(io.BytesIO(probed.thumbnail)) as thumb:
        r, g, b = thumb.convert("RGB").getpixel((5, 5))
    assert r > 200 and b < 50


def test_exif_orientation_turns_dimensions_and_thumbnail():
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = io.BytesIO()
    PILImage.new("RGB", (40, 20), (9, 9, 9)).save(out, "JPEG", exif=exif.tobytes())

    probed = _probe(out.getvalue())

    assert (probed.width, probed.height) == (20, 40)
    with PILImage.open(io.BytesIO(probed.thumbnail)) as thumb:
        assert thumb.size == (20, 40)


def _jpeg_with_gps() -> bytes:
    exif = PILImage.Exif()
    exif[0x0112] = 1
    exif[0x010F] = "CameraMaker"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 29.0)
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.0)
    out = io.BytesIO()
    PILImage.new("RGB", (16, 16)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_location_is_blanked_in_place_and_the_rest_kept():
    data = _jpeg_with_gps()
    with PILImage.open(io.BytesIO(data)) as im:
        assert im.getexif().get_ifd(0x8825)[2] == (48.0, 51.0, 29.0)

    probed = _probe(data)

    assert probed.location_stripped is True
    assert len(probed.data) == len(data)
    with PILImage.open(io.BytesIO(probed.data)) as im:
        im.load()
        assert dict(im.getexif().get_ifd(0x8825)) == {}
        assert im.getexif()[0x010F] == "CameraMaker"


def test_location_kept_when_stripping_is_off():
    data = _jpeg_with_gps()

    assert _probe(data, strip_location=False).data == data
    assert strip_location_metadata(data, "JPEG")[1] is True


def test_binary_trailer_is_cut_off_markup_trailer_refused():
    out = io.BytesIO()
    PILImage.new("RGB", (8, 8)).save(out, "JPEG")
    clean = out.getvalue()

    assert _probe(clean + b"\x00\x01ftypmp42" * 10).data == clean
    with pytest.raises(ImageRejected) as caught:
        _probe(clean + b"\x00<script>alert(1)</script>")
    assert caught.value.code == "trailing_data"


def test_pixel_limit_is_configurable():
    out = io.BytesIO()
    PILImage.new("RGB", (100, 100)).save(out, "PNG")

    with pytest.raises(ImageRejected) as caught:
        _probe(out.getvalue(), max_pixels=9_999)

    assert caught.value.message == (
        "The image is 100 × 100 pixels (0.0 megapixels); the limit is 0.009999 megapixels."
    )


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\cat.jpg", "cat.jpg"),
        ("a\x00b\u202e\u200bc.png", "abc.png"),
        ("  ..hidden.png  ", "hidden.png"),
        ("", "unnamed"),
        ("x" * 300, "x" * 200),
    ],
)
def test_sanitize_filename(raw, clean):
    assert sanitize_filename(raw) == clean
