"""The one upload handler (FILE_UPLOAD_HANDLERS): files are capped while they stream in.

Django's default handlers write each file to memory or a temporary file as it arrives;
a 5 GB body would land on disk before any view could say no, and a file refused later
leaves its temporary file behind until the request object is collected. This handler
keeps a file in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, then in a temporary file; once
it passes IMAGE_MAX_BYTES the temporary file is deleted at once and the rest of that file
is read off the socket and dropped. The view gets an ``OversizeUpload`` whose ``size``
makes intake answer 413. An interrupted upload deletes its temporary file too.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.core.files.uploadedfile import (
    InMemoryUploadedFile,
    TemporaryUploadedFile,
    UploadedFile,
)
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
        self.buffer = io.BytesIO()
        self.spool: TemporaryUploadedFile | None = None
        self.oversize = False
        # Every temporary file this handler made, so the request's end can delete them all
        # (also those of a batch Django's parser gave up on half-way, which nothing closes).
        self.temporary_files: list[TemporaryUploadedFile] = []

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0
        self.buffer = io.BytesIO()
        self.spool = None
        self.oversize = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if self.oversize:
            return None
        self.received += len(raw_data)
        if self.received > self.limit:
            self.oversize = True
            self._discard()
            return None
        if self.spool is None and self.received > settings.FILE_UPLOAD_MAX_MEMORY_SIZE:
            self.spool = TemporaryUploadedFile(
                self.file_name or "upload",
                self.content_type,
                0,
                self.charset,
                self.content_type_extra,
            )
            self.temporary_files.append(self.spool)
            self.spool.write(self.buffer.getvalue())
            self.buffer = io.BytesIO()
        (self.spool if self.spool is not None else self.buffer).write(raw_data)
        return None

    def file_complete(self, file_size: int) -> UploadedFile:
        if self.oversize:
            return OversizeUpload(
                name=self.file_name or "", size=self.received, content_type=self.content_type
            )
        if self.spool is not None:
            self.spool.seek(0)
            self.spool.size = file_size
            upload: UploadedFile = self.spool
            self.spool = None  # the request owns it now and deletes it when it closes
            return upload
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )

    def upload_interrupted(self) -> None:
        self._discard()

    def close_temporary_files(self) -> None:
        """Delete every temporary file made for this request (RequestBodyLimitMiddleware)."""
        for spool in self.temporary_files:
            spool.close()
        self.temporary_files.clear()
        self.spool = None

    def _discard(self) -> None:
        if self.spool is not None:
            self.spool.close()  # a NamedTemporaryFile: closing deletes it
            self.spool = None
        self.buffer = io.BytesIO()


def limit_upload_size(request: HttpRequest) -> None:
    """Make sure the limiting handler is in place (it is by default: FILE_UPLOAD_HANDLERS).

    Call before anything reads ``request.POST``/``FILES``.
    """
    if not any(isinstance(h, LimitedUploadHandler) for h in request.upload_handlers):
        request.upload_handlers = [LimitedUploadHandler(request)]
