"""The checks every upload passes, whatever door it came in by.

Pure functions over bytes: no models, no storage, no request. ``probe`` decides from the
content alone (never the name or the client's Content-Type) whether the bytes are one of
the accepted image types, decodes them fully under a pixel cap, and returns exactly what
to store: the image bytes without anything appended after the image's end (a polyglot
carrying HTML is refused), location metadata blanked in place when asked, BMP and TIFF as
a lossless PNG re-encode (TIFF offsets can point anywhere in the file, so "the image's own
bytes" is not a thing one can cut out safely), and a small WebP thumbnail.
"""

from __future__ import annotations

import io
import re
import struct
import unicodedata
import warnings
import zlib
from dataclasses import dataclass

from PIL import Image as PILImage
from PIL import ImageOps

from classifier_site.core.errors import DomainError


class ImageRejected(DomainError):
    """An upload that will not be stored. ``message`` says why, for a person to read."""

    status_code = 400
    code = "image_rejected"


# Detected format -> (MIME type, extension). Pillow names.
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
    "BMP": ("image/bmp", "bmp"),
    "TIFF": ("image/tiff", "tif"),
}
ACCEPTED_TEXT = "JPEG, PNG, WebP, GIF, BMP or TIFF"
REENCODED = {"BMP", "TIFF"}  # stored as PNG
MAX_FILENAME = 200


@dataclass(frozen=True)
class Probed:
    format: str  # detected source format (a FORMATS key)
    data: bytes  # what to store
    mime_type: str  # of ``data``
    ext: str  # of ``data``
    width: int  # as displayed, EXIF orientation applied
    height: int
    thumbnail: bytes  # WebP
    location_stripped: bool


def sniff_format(head: bytes) -> str | None:
    """The accepted format the magic bytes announce, or None."""
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:2] == b"BM":
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    return None


def _describe_non_image(data: bytes) -> str:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in data[:4096].lower()):
        return f"SVG drawings are not accepted (they can carry scripts). Upload {ACCEPTED_TEXT}."
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        return f"This is an HTML page, not an image. Upload {ACCEPTED_TEXT}."
    try:
        text = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return f"This is a text file, not an image, whatever its name says. Upload {ACCEPTED_TEXT}."
    return f"This is not an image type we accept. Upload {ACCEPTED_TEXT}."


# Peak memory of a full-size decode plus the thumbnail, in bytes per pixel, measured for
# the worst mode of each format (RGBA; WebP's decoder keeps its own canvas and hands over a
# copy). JPEG is absent: it is decoded at 1/8 scale for the thumbnail (draft), so its cost
# hardly depends on its size. ``probe`` turns a memory budget into a pixel cap with these.
FULL_DECODE_BYTES_PER_PIXEL = {"PNG": 4.5, "GIF": 4.5, "BMP": 4.5, "TIFF": 4.5, "WEBP": 17.0}


def pixel_cap(fmt: str, *, max_pixels: int, max_decode_bytes: int | None) -> int:
    """Most pixels a ``fmt`` image may have: ``max_pixels``, lower where decoding costs more
    than ``max_decode_bytes``."""
    per_pixel = FULL_DECODE_BYTES_PER_PIXEL.get(fmt)
    if not per_pixel or not max_decode_bytes:
        return max_pixels
    # Whole tenths of a megapixel, so the limit reads well in the rejection message.
    return min(max_pixels, int(max_decode_bytes / per_pixel) // 100_000 * 100_000)


def probe(
    data: bytes,
    *,
    max_pixels: int,
    strip_location: bool,
    thumb_px: int,
    max_decode_bytes: int | None = None,
) -> Probed:
    """``max_pixels`` bounds every image; ``max_decode_bytes`` (optional) bounds the memory
    of decoding one, which lowers the cap for formats decoded at full size."""
    # Pillow only *warns* between its limit and twice its limit; an error is what we want.
    # Scoped here rather than set process-wide at import (test runners and other code
    # reset or rely on the global filters).
    with warnings.catch_warnings():
        warnings.simplefilter("error", PILImage.DecompressionBombWarning)
        return _probe(
            data,
            max_pixels=max_pixels,
            max_decode_bytes=max_decode_bytes,
            strip_location=strip_location,
            thumb_px=thumb_px,
        )


def _probe(
    data: bytes,
    *,
    max_pixels: int,
    max_decode_bytes: int | None,
    strip_location: bool,
    thumb_px: int,
) -> Probed:
    if not data:
        raise ImageRejected("The file is empty (0 bytes).", code="empty_file")
    fmt = sniff_format(data[:16])
    if fmt is None:
        raise ImageRejected(_describe_non_image(data), code="unsupported_type", status_code=415)
    try:
        im = PILImage.open(io.BytesIO(data), formats=[fmt])
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise _too_many_pixels(None, max_pixels) from None
    except Exception as exc:
        raise ImageRejected(
            f"The file starts like a {fmt} image but cannot be read as one ({_short(exc)}).",
            code="corrupt_image",
        ) from None
    with im:
        width, height = im.size
        if width * height > max_pixels:
            raise _too_many_pixels(im.size, max_pixels)
        cap = pixel_cap(fmt, max_pixels=max_pixels, max_decode_bytes=max_decode_bytes)
        if width * height > cap:
            raise _too_many_pixels(im.size, cap, fmt=fmt, jpeg_cap=max_pixels)
        orientation = _orientation(im)
        if fmt == "JPEG":
            # DCT-domain downscaling still Huffman-decodes every block of every scan, so a
            # truncated or damaged stream fails exactly as a full-size decode would; it only
            # skips the inverse transform we would throw away for the thumbnail.
            im.draft("RGB", (thumb_px * 2, thumb_px * 2))
        try:
            im.load()
        except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
            raise _too_many_pixels(im.size, max_pixels) from None
        except Exception as exc:
            raise ImageRejected(
                f"The image data is damaged or incomplete ({_short(exc)}).", code="corrupt_image"
            ) from None
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        # The thumbnail is made from a band-by-band reduced copy and oriented once small:
        # no full-size converted or rotated copy next to the decoded image.
        thumbnail = _thumbnail(im, thumb_px, orientation=orientation)
        if fmt in REENCODED:
            stored, stripped = _reencode_png(_transpose(im)), True
            mime, ext = FORMATS["PNG"]
        else:
            stored = _without_trailer(data, fmt)
            stripped = False
            if strip_location:
                stored, stripped = strip_location_metadata(stored, fmt)
            mime, ext = FORMATS[fmt]
    return Probed(
        format=fmt,
        data=stored,
        mime_type=mime,
        ext=ext,
        width=width,
        height=height,
        thumbnail=thumbnail,
        location_stripped=stripped,
    )


def _too_many_pixels(
    size: tuple[int, int] | None,
    max_pixels: int,
    *,
    fmt: str | None = None,
    jpeg_cap: int | None = None,
) -> ImageRejected:
    limit = f"{max_pixels / 1_000_000:g} megapixels"
    if fmt and jpeg_cap and jpeg_cap != max_pixels:
        limit += f" for {fmt} images ({jpeg_cap / 1_000_000:g} for JPEG)"
    if size:
        w, h = size
        msg = (
            f"The image is {w} × {h} pixels ({w * h / 1_000_000:.1f} megapixels); "
            f"the limit is {limit}."
        )
    else:
        msg = f"The image has more pixels than the {limit} limit."
    return ImageRejected(msg, code="too_many_pixels")


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text[:120]


def _orientation(im: PILImage.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:
        return 1


def _transpose(im: PILImage.Image) -> PILImage.Image:
    try:
        return ImageOps.exif_transpose(im) or im
    except Exception:
        return im  # a broken EXIF block is not a broken image


def _rgb(im: PILImage.Image) -> PILImage.Image:
    if im.mode in ("RGB", "RGBA", "L", "LA"):
        return im
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        return im.convert("F").point(lambda v: v / 256).convert("L")
    has_alpha = "A" in im.getbands() or "transparency" in im.info
    return im.convert("RGBA" if has_alpha else "RGB")


_TRANSPOSE = {
    2: PILImage.Transpose.FLIP_LEFT_RIGHT,
    3: PILImage.Transpose.ROTATE_180,
    4: PILImage.Transpose.FLIP_TOP_BOTTOM,
    5: PILImage.Transpose.TRANSPOSE,
    6: PILImage.Transpose.ROTATE_270,
    7: PILImage.Transpose.TRANSVERSE,
    8: PILImage.Transpose.ROTATE_90,
}
_BAND_ROWS = 32  # output rows converted at a time by _reduced


def _reduced(im: PILImage.Image, px: int) -> PILImage.Image:
    """``im`` in a displayable mode, shrunk by a whole factor to about 2×``px``.

    Works through horizontal bands so the mode conversion (palette or 16-bit to RGB/L,
    premultiplied alpha) never makes a full-size copy: for a 7000×7000 PNG that copy
    alone is 150-200 MB.
    """
    width, height = im.size
    factor = max(1, max(width, height) // (px * 2))
    if factor == 1:
        return _rgb(im).copy()
    out_w, out_h = -(-width // factor), -(-height // factor)
    out: PILImage.Image | None = None
    step = _BAND_ROWS * factor
    for top in range(0, height, step):
        band = _rgb(im.crop((0, top, width, min(top + step, height)))).reduce(factor)
        if out is None:
            out = PILImage.new(band.mode, (out_w, out_h))
        out.paste(band, (0, top // factor))
    assert out is not None
    return out


def _thumbnail(im: PILImage.Image, px: int, *, orientation: int = 1) -> bytes:
    thumb = _reduced(im, px)
    thumb.thumbnail((px, px), PILImage.Resampling.BICUBIC, reducing_gap=2.0)
    if orientation in _TRANSPOSE:
        thumb = thumb.transpose(_TRANSPOSE[orientation])
    out = io.BytesIO()
    thumb.save(out, "WEBP", quality=75, method=4)
    return out.getvalue()


def _reencode_png(im: PILImage.Image) -> bytes:
    if im.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
        im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
    out = io.BytesIO()
    im.save(out, "PNG", compress_level=6)
    return out.getvalue()


# --- Where the image ends ------------------------------------------------------------------

_MARKUP = re.compile(
    rb"<\s*(?:!doctype|html|head|body|script|svg|iframe|object|embed|img|a\s|meta|style|"
    rb"\?php|\?xml)|javascript:",
    re.IGNORECASE,
)


def _without_trailer(data: bytes, fmt: str) -> bytes:
    """The image's own bytes. Markup after the end is refused; other trailers are cut off.

    Phones append things after a JPEG's end (motion-photo video, depth maps, padding);
    those are dropped rather than refused. Anything that looks like HTML or script is a
    polyglot meant to be served as a page, and the uploader should hear about it.
    """
    try:
        end = image_end(data, fmt)
    except (ValueError, IndexError, struct.error):
        raise ImageRejected(f"The {fmt} file structure is damaged.", code="corrupt_image") from None
    trailer = data[end:]
    if not trailer:
        return data
    if _MARKUP.search(trailer):
        raise ImageRejected(
            f"The file has {len(trailer)} bytes of HTML or script after the end of the image. "
            "Save the picture again with an image editor and upload that.",
            code="trailing_data",
        )
    return data[:end]


def image_end(data: bytes, fmt: str) -> int:
    """Offset just past the image in ``data`` (raises ValueError on a broken structure)."""
    if fmt == "JPEG":
        return _jpeg_walk(data)[0]
    if fmt == "PNG":
        return _png_walk(data)[0]
    if fmt == "GIF":
        return _gif_end(data)
    if fmt == "WEBP":
        return _webp_walk(data)[0]
    return len(data)


def _jpeg_walk(data: bytes) -> tuple[int, list[tuple[int, int, int]]]:
    """(end offset, [(marker, payload start, payload end)] of the header segments)."""
    n = len(data)
    if data[:2] != b"\xff\xd8":
        raise ValueError("no SOI")
    segments: list[tuple[int, int, int]] = []
    i = 2
    while i < n:
        if data[i] != 0xFF:
            raise ValueError("marker expected")
        while i < n and data[i] == 0xFF:
            i += 1
        marker = data[i]
        i += 1
        if marker == 0xD9:
            return i, segments
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        (length,) = struct.unpack(">H", data[i : i + 2])
        if length < 2 or i + length > n:
            raise ValueError("segment overruns the file")
        segments.append((marker, i + 2, i + length))
        i += length
        if marker == 0xDA:  # entropy-coded data runs to the next real marker
            while True:
                j = data.find(b"\xff", i)
                if j < 0 or j + 1 >= n:
                    raise ValueError("no EOI")
                following = data[j + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    i = j + 1
                    continue
                i = j
                break
    raise ValueError("no EOI")


def _png_walk(data: bytes) -> tuple[int, list[tuple[bytes, int, int]]]:
    chunks: list[tuple[bytes, int, int]] = []
    i = 8
    while True:
        length, ctype = struct.unpack(">I4s", data[i : i + 8])
        start, end = i + 8, i + 8 + length
        if end + 4 > len(data):
            raise ValueError("chunk overruns the file")
        chunks.append((ctype, start, end))
        i = end + 4
        if ctype == b"IEND":
            return i, chunks


def _gif_end(data: bytes) -> int:
    flags = data[10]
    i = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)

    def skip_sub_blocks(pos: int) -> int:
        while True:
            size = data[pos]
            pos += 1
            if size == 0:
                return pos
            pos += size

    while True:
        block = data[i]
        if block == 0x3B:
            return i + 1
        if block == 0x21:
            i = skip_sub_blocks(i + 2)
        elif block == 0x2C:
            flags = data[i + 9]
            i += 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
            i = skip_sub_blocks(i + 1)  # +1: LZW minimum code size
        else:
            raise ValueError("unknown GIF block")


def _webp_walk(data: bytes) -> tuple[int, list[tuple[bytes, int, int]]]:
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = 8 + riff_size
    if end > len(data):
        raise ValueError("RIFF overruns the file")
    chunks: list[tuple[bytes, int, int]] = []
    i = 12
    while i + 8 <= end:
        fourcc, size = struct.unpack("<4sI", data[i : i + 8])
        chunks.append((fourcc, i + 8, min(i + 8 + size, end)))
        i += 8 + size + (size & 1)
    return end, chunks


# --- Location metadata ----------------------------------------------------------------------

_XMP_GPS = re.compile(rb"GPS(?:Latitude|Longitude|Altitude|Position)", re.IGNORECASE)
_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}


def strip_location_metadata(data: bytes, fmt: str) -> tuple[bytes, bool]:
    """Blank the EXIF GPS directory and any XMP packet naming a position, in place.

    Nothing moves, so offsets elsewhere in the file stay valid and the picture is not
    re-encoded. Returns (bytes, whether anything was blanked).
    """
    buf = bytearray(data)
    changed = False
    if fmt == "JPEG":
        for marker, start, end in _jpeg_walk(data)[1]:
            if marker != 0xE1:
                continue
            if buf[start : start + 6] == b"Exif\x00\x00":
                changed |= _blank_gps(buf, start + 6, end)
            elif _XMP_GPS.search(buf, start, end):
                buf[start + 29 : end] = b" " * (end - start - 29)  # keep the XMP namespace id
                changed = True
    elif fmt == "PNG":
        for ctype, start, end in _png_walk(data)[1]:
            hit = False
            if ctype == b"eXIf":
                hit = _blank_gps(buf, start, end)
            elif ctype in (b"iTXt", b"tEXt", b"zTXt") and _XMP_GPS.search(buf, start, end):
                # Becomes a plain tEXt chunk "x" of spaces: well-formed, says nothing.
                buf[start - 4 : start] = b"tEXt"
                buf[start:end] = b"x\x00" + b" " * (end - start - 2)
                hit = True
            if hit:
                struct.pack_into(">I", buf, end, zlib.crc32(bytes(buf[start - 4 : end])))
                changed = True
    elif fmt == "WEBP":
        for fourcc, start, end in _webp_walk(data)[1]:
            if fourcc == b"EXIF":
                offset = 6 if buf[start : start + 6] == b"Exif\x00\x00" else 0
                changed |= _blank_gps(buf, start + offset, end)
            elif fourcc == b"XMP " and _XMP_GPS.search(buf, start, end):
                buf[start:end] = b" " * (end - start)
                changed = True
    return bytes(buf), changed


def _blank_gps(buf: bytearray, base: int, end: int) -> bool:
    """Zero the GPS IFD of the TIFF structure at ``buf[base:end]``.

    An EXIF block we cannot parse is blanked whole: better lose the orientation than
    leak a position.
    """
    try:
        order = {b"II": "<", b"MM": ">"}[bytes(buf[base : base + 2])]
        (ifd0,) = struct.unpack_from(order + "I", buf, base + 4)
        (count,) = struct.unpack_from(order + "H", buf, base + ifd0)
        gps = None
        for k in range(count):
            tag, _typ, _n, value = struct.unpack_from(order + "HHII", buf, base + ifd0 + 2 + 12 * k)
            if tag == 0x8825:
                gps = value
        if gps is None:
            return False
        pos = base + gps
        (count,) = struct.unpack_from(order + "H", buf, pos)
        if pos + 2 + 12 * count > end:
            raise ValueError("GPS IFD overruns")
        for k in range(count):
            _tag, typ, n, value = struct.unpack_from(order + "HHII", buf, pos + 2 + 12 * k)
            size = _TIFF_TYPE_SIZES.get(typ, 1) * n
            if size > 4 and base + value + size <= end:
                buf[base + value : base + value + size] = bytes(size)
        buf[pos : pos + 2 + 12 * count + 4] = bytes(2 + 12 * count + 4)
        return True
    except (KeyError, struct.error, ValueError, IndexError):
        buf[base:end] = bytes(end - base)
        return True


# --- Names ------------------------------------------------------------------------------------


def sanitize_filename(name: str | None) -> str:
    """A display name: last path component, no control or bidi characters, bounded length.

    It is metadata only; storage keys are generated, never derived from it.
    """
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc: NUL and other controls. Cf: right-to-left override, zero-width joiners, ...
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    name = " ".join(name.split()).strip(" .")
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_FILENAME].rstrip(" .")
    return name or "unnamed"
