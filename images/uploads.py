"""An upload handler that stops keeping a file's bytes once it passes IMAGE_MAX_BYTES.

Django writes multipart files to memory or a temporary file as they stream in; without
this, a 5 GB body would land on disk before any view could say no. Past the limit the
rest of that file is read off the socket and dropped, and the view gets an
``OversizeUpload`` whose ``size`` makes intake answer 413.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest


class OversizeUpload(UploadedFile):
    """Stands in for a file that was too big: no content, the size that was sent."""

    def __init__(self, *, name: str, size: int, content_type: str | None) -> None:
        super().__init__(io.BytesIO(b""), name=name, content_type=content_type, size=size)


class LimitedUploadHandler(FileUploadHandler):
    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit = settings.IMAGE_MAX_BYTES
        self.received = 0

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            return None  # later handlers never see it: nothing more is kept
        return raw_data

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.received > self.limit:
            return OversizeUpload(
                name=self.file_name or "", size=self.received, content_type=self.content_type
            )
        return None  # let the memory/temporary-file handler hand over the file


def limit_upload_size(request: HttpRequest) -> None:
    """Install the handler; call before anything reads ``request.POST``/``FILES``."""
    request.upload_handlers.insert(0, LimitedUploadHandler(request))
