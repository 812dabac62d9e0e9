"""Handing stored bytes to their owner: streamed from the local folder, or a redirect to a
short-lived presigned S3 URL. Callers have already checked ownership (selectors)."""

from __future__ import annotations

from django.core.files.storage import storages
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header

from images.models import Image
from images.services import storage_is_s3

# Stored files are images whose type we detected, but a browser told "sandbox" and
# nosniff will not run anything even if one were mislabelled.
_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def image_file_response(
    image: Image, *, thumbnail: bool = False, download: bool = False
) -> HttpResponseBase:
    name = image.thumbnail.name if thumbnail else image.file.name
    if not name:
        raise Http404("No thumbnail for this image.")
    content_type = "image/webp" if thumbnail else image.mime_type
    filename = image.original_filename or name.rsplit("/", 1)[-1]
    if not thumbnail and "." in name:
        # The stored type decides the extension a download gets (BMP/TIFF are kept as PNG).
        filename = f"{filename.rsplit('.', 1)[0]}.{name.rsplit('.', 1)[-1]}"
    disposition = content_disposition_header(download, filename) or "inline"
    storage = storages["default"]
    if storage_is_s3(storage):
        url = storage.url(  # type: ignore[call-arg]
            name,
            parameters={
                "ResponseContentType": content_type,
                "ResponseContentDisposition": disposition,
                "ResponseCacheControl": "private, max-age=300",
            },
        )  # expiry: the storage's querystring_expire (S3_URL_EXPIRY_SECONDS)
        response: HttpResponseBase = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, max-age=60"
        return response
    try:
        handle = storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404("The stored file is missing.") from None
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = disposition
    # An id's bytes never change, so the browser may keep them.
    response["Cache-Control"] = "private, max-age=86400, immutable"
    response["Content-Security-Policy"] = _CSP
    return response
