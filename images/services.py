"""Writes for images: intake, deletion, direct-to-S3 upload. One intake path for every door.

Browser form, API multipart, direct-upload finalize and the import command all end in
``image_ingest``, so a rule added there holds everywhere.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, BinaryIO, cast

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image as PILImage

from classifier_site.core.errors import Conflict, DomainError, NotFound
from images import intake
from images.after_upload import after_upload
from images.intake import ImageRejected, sanitize_filename
from images.models import Image
from images.relations import relations

__all__ = [
    "DirectUpload",
    "ImageRejected",
    "IngestOutcome",
    "IngestResult",
    "direct_upload_create",
    "direct_upload_finalize",
    "image_delete",
    "image_ingest",
    "image_open",
    "image_open_pil",
    "images_delete",
    "images_ingest_many",
    "make_thumbnail",
    "rejected_status",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    image: Image
    duplicate: bool


@dataclass
class IngestOutcome:
    """One file's fate in a batch: ``outcome`` is "stored", "duplicate" or "rejected"."""

    filename: str
    outcome: str
    image: Image | None = None
    error: ImageRejected | None = None


# --- Storage helpers -----------------------------------------------------------------------


def _storage() -> Storage:
    return storages["default"]


def storage_is_s3(storage: Storage | None = None) -> bool:
    storage = storage or _storage()
    return hasattr(storage, "bucket_name") and hasattr(storage, "connection")


def upload_key(*, owner_id: Any, image_id: uuid.UUID, ext: str, when: datetime) -> str:
    return f"uploads/{owner_id}/{when:%Y/%m/%d}/{image_id}.{ext}"


def thumbnail_key(*, owner_id: Any, image_id: uuid.UUID, when: datetime) -> str:
    return f"thumbnails/{owner_id}/{when:%Y/%m/%d}/{image_id}.webp"


def _save_new(storage: Storage, key: str, data: bytes, content_type: str) -> str:
    content = ContentFile(data)
    content.content_type = content_type  # type: ignore[attr-defined]  # S3 reads it
    name = storage.save(key, content)
    if name != key:
        # Keys hold a fresh UUID; a different name means something already sat there.
        # It is kept (never overwrite) and ours is removed.
        storage.delete(name)
        raise RuntimeError(f"storage key {key!r} already existed")
    return name


def _delete_files(names: Iterable[str]) -> None:
    names = [n for n in names if n]
    if not names:
        return
    storage = _storage()
    if storage_is_s3(storage):
        bucket = storage.bucket  # type: ignore[attr-defined]
        for start in range(0, len(names), 1000):  # S3's batch limit
            bucket.delete_objects(
                Delete={"Objects": [{"Key": n} for n in names[start : start + 1000]], "Quiet": True}
            )
        return
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            log.warning("could not delete stored file %s", name, exc_info=True)


# --- Intake -----------------------------------------------------------------------------------


def _read_limited(fileobj: IO[bytes], max_bytes: int) -> bytes:
    declared = getattr(fileobj, "size", None)
    if isinstance(declared, int) and declared > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = fileobj.read(min(1024 * 1024, max_bytes + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise _too_large(max_bytes)
    return b"".join(chunks)


def _too_large(max_bytes: int) -> ImageRejected:
    return ImageRejected(
        f"The file is larger than the {_human_bytes(max_bytes)} limit.",
        code="too_large",
        status_code=413,
    )


def _human_bytes(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


def image_ingest(*, owner, fileobj: IO[bytes], filename: str) -> IngestResult:
    """Check, store and register one upload; the same bytes again return the existing row.

    Raises ImageRejected (nothing stored, no row) with a reason a person can act on.
    Reads at most IMAGE_MAX_BYTES + 1 bytes from ``fileobj``.
    """
    display_name = sanitize_filename(filename)
    data = _read_limited(fileobj, settings.IMAGE_MAX_BYTES)
    sha256 = hashlib.sha256(data).hexdigest()
    # Only a valid image can be a duplicate, so a hit needs no decoding (cheap re-imports).
    existing = Image.objects.filter(owner=owner, sha256=sha256).first()
    if existing is not None:
        return IngestResult(image=existing, duplicate=True)

    probed = intake.probe(
        data,
        max_pixels=settings.IMAGE_MAX_PIXELS,
        strip_location=settings.IMAGE_STRIP_LOCATION,
        thumb_px=settings.IMAGE_THUMBNAIL_PX,
    )
    image_id = uuid.uuid4()
    now = timezone.now()
    storage = _storage()
    stored: list[str] = []
    try:
        stored.append(
            _save_new(
                storage,
                upload_key(owner_id=owner.pk, image_id=image_id, ext=probed.ext, when=now),
                probed.data,
                probed.mime_type,
            )
        )
        stored.append(
            _save_new(
                storage,
                thumbnail_key(owner_id=owner.pk, image_id=image_id, when=now),
                probed.thumbnail,
                "image/webp",
            )
        )
        with transaction.atomic():
            image = Image.objects.create(
                id=image_id,
                owner=owner,
                file=stored[0],
                thumbnail=stored[1],
                original_filename=display_name,
                format=probed.format,
                mime_type=probed.mime_type,
                size_bytes=len(probed.data),
                width=probed.width,
                height=probed.height,
                sha256=sha256,
            )
    except IntegrityError:
        # The same bytes arrived concurrently and the other request won the unique index.
        _delete_files(stored)
        existing = Image.objects.filter(owner=owner, sha256=sha256).first()
        if existing is None:
            raise
        return IngestResult(image=existing, duplicate=True)
    except BaseException:
        _delete_files(stored)
        raise
    return IngestResult(image=image, duplicate=False)


def images_ingest_many(*, owner, files: Iterable[tuple[IO[bytes], str]]) -> list[IngestOutcome]:
    """``image_ingest`` for each (fileobj, filename); one file's rejection spares the rest."""
    outcomes: list[IngestOutcome] = []
    for fileobj, filename in files:
        name = sanitize_filename(filename)
        try:
            result = image_ingest(owner=owner, fileobj=fileobj, filename=filename)
        except ImageRejected as exc:
            outcomes.append(IngestOutcome(filename=name, outcome="rejected", error=exc))
        else:
            outcomes.append(
                IngestOutcome(
                    filename=name,
                    outcome="duplicate" if result.duplicate else "stored",
                    image=result.image,
                )
            )
    # Duplicates were there before: only new photos are handed on (auto-classify).
    after_upload(
        owner=owner,
        image_ids=[o.image.pk for o in outcomes if o.outcome == "stored" and o.image is not None],
    )
    return outcomes


def rejected_status(outcomes: list[IngestOutcome]) -> int | None:
    """When every file was rejected, the status that says so (their shared one, else 400)."""
    if not outcomes or any(o.error is None for o in outcomes):
        return None
    codes = {o.error.status_code for o in outcomes if o.error}
    return codes.pop() if len(codes) == 1 else 400


def image_open(image: Image) -> BinaryIO:
    """The stored bytes (local file or S3 object), opened for reading. Caller closes."""
    return cast(BinaryIO, _storage().open(image.file.name or "", "rb"))


def image_open_pil(image: Image) -> PILImage.Image:
    """The stored picture decoded, EXIF orientation applied, first frame, RGB.

    What inference should look at. The pixel cap was enforced at intake.
    """
    with image_open(image) as fh, PILImage.open(fh) as im:
        im.load()
        return intake._rgb(intake._transpose(im)).convert("RGB")


def make_thumbnail(data: bytes, *, px: int | None = None) -> bytes:
    """A WebP thumbnail (longest side ``px``) of image bytes, orientation applied."""
    px = px or settings.IMAGE_THUMBNAIL_PX
    with PILImage.open(io.BytesIO(data)) as im:
        im.draft("RGB", (px * 2, px * 2))
        im.load()
        return intake._thumbnail(intake._transpose(im), px)


# --- Deletion ---------------------------------------------------------------------------------


def image_delete(*, user, image: Image) -> None:
    """Delete one of ``user``'s images: the row now, its files once the transaction commits."""
    if image.owner_id != user.pk:
        raise NotFound("Image not found.")
    images_delete(user=user, ids=[image.pk])


def images_delete(*, user, ids: Iterable[Any]) -> int:
    """Delete the given images of ``user``; all or nothing.

    Any id that is not one of the user's images makes it raise NotFound and delete none,
    so a request naming someone else's image changes nothing.
    """
    wanted = {_as_uuid(i) for i in ids}
    if not wanted:
        return 0
    with transaction.atomic():
        rows: list[tuple[Any, str, str]] = []
        id_list = list(wanted)
        for start in range(0, len(id_list), 1000):
            rows.extend(
                Image.objects.select_for_update()
                .filter(owner=user, id__in=id_list[start : start + 1000])
                .values_list("id", "file", "thumbnail")
            )
        if len(rows) != len(wanted):
            raise NotFound("Image not found.")
        busy = relations().image_ids_in_use(image_ids=id_list)
        if busy:
            raise Conflict(
                f"{len(busy)} of these image(s) are in a job that has not finished; cancel "
                "the job or wait for it to finish, then delete.",
                field="ids",
            )
        for start in range(0, len(id_list), 1000):
            Image.objects.filter(owner=user, id__in=id_list[start : start + 1000]).delete()
        names = [name for _, file, thumb in rows for name in (file, thumb)]
        transaction.on_commit(lambda: _delete_files(names))
    return len(rows)


def _as_uuid(value: Any) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise NotFound("Image not found.") from None


# --- Direct upload to S3 --------------------------------------------------------------------

_INCOMING = re.compile(r"^incoming/(?P<owner>[^/]+)/(?P<token>[0-9a-f]{32})$")


@dataclass(frozen=True)
class DirectUpload:
    url: str
    fields: dict[str, str]
    key: str
    expires_in: int
    max_bytes: int
    extra: dict[str, Any] = field(default_factory=dict)


def direct_upload_create(*, user) -> DirectUpload:
    """A presigned S3 POST for exactly one new key under ``incoming/<user>/``.

    The browser or script POSTs the file straight to S3 and then calls
    ``direct_upload_finalize``; the object is only staging until then (a lifecycle rule
    on ``incoming/`` should expire leftovers).
    """
    storage = _storage()
    if not storage_is_s3(storage):
        raise DomainError(
            "Direct upload needs S3 storage; use POST /api/v1/images with the files instead.",
            code="direct_upload_unavailable",
        )
    key = f"incoming/{user.pk}/{uuid.uuid4().hex}"
    expires = settings.IMAGE_UPLOAD_URL_EXPIRY_SECONDS
    max_bytes = settings.IMAGE_MAX_BYTES
    client = storage.bucket.meta.client  # type: ignore[attr-defined]
    post = client.generate_presigned_post(
        Bucket=storage.bucket_name,  # type: ignore[attr-defined]
        Key=key,
        Fields={},
        Conditions=[["content-length-range", 1, max_bytes]],
        ExpiresIn=expires,
    )
    return DirectUpload(
        url=post["url"], fields=post["fields"], key=key, expires_in=expires, max_bytes=max_bytes
    )


def direct_upload_finalize(*, user, key: str, filename: str) -> IngestResult:
    """Run intake on an object the user uploaded with ``direct_upload_create``'s form.

    The staging object is deleted afterwards whatever the outcome.
    """
    storage = _storage()
    if not storage_is_s3(storage):
        raise DomainError(
            "Direct upload needs S3 storage; use POST /api/v1/images with the files instead.",
            code="direct_upload_unavailable",
        )
    match = _INCOMING.match(key or "")
    if not match or match["owner"] != str(user.pk):
        raise NotFound("No upload with that key.", field="key")
    try:
        size = storage.size(key)
    except Exception:
        raise NotFound(
            "No upload with that key: POST the file to the upload URL first.", field="key"
        ) from None
    try:
        if size > settings.IMAGE_MAX_BYTES:
            raise _too_large(settings.IMAGE_MAX_BYTES)
        with storage.open(key, "rb") as fh:
            return image_ingest(owner=user, fileobj=fh, filename=filename or key)
    finally:
        storage.delete(key)
