"""Writes for images: intake, deletion, direct-to-S3 upload. One intake path for every door.

Browser form, API multipart, direct-upload finalize and the import command all end in
``image_ingest``, so a rule added there holds everywhere.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any, BinaryIO, cast

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image as PILImage

from classifier_site.core.errors import Conflict, DomainError, NotFound
from images import intake
from images.after_upload import after_upload
from images.intake import ImageRejected, sanitize_filename
from images.models import Image, StagedUpload
from images.relations import relations

__all__ = [
    "DirectUpload",
    "ImageRejected",
    "IngestOutcome",
    "IngestResult",
    "direct_upload_create",
    "direct_upload_finalize",
    "direct_upload_receive",
    "image_for_reference",
    "images_for_references",
    "staged_upload_ingest",
    "staged_uploads_collect",
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


_decode_slots: threading.BoundedSemaphore | None = None
_decode_slots_lock = threading.Lock()


@contextmanager
def decode_slot() -> Iterator[None]:
    """One of IMAGE_DECODE_CONCURRENCY process-wide decode slots, for the block's duration.

    The per-image budget (IMAGE_DECODE_MAX_MB) bounds one decode; this bounds how many run
    at once, so a burst of large uploads queues instead of multiplying the peak. Waiting
    longer than IMAGE_DECODE_WAIT_SECONDS answers 503 with a retry hint.
    """
    global _decode_slots
    with _decode_slots_lock:
        if _decode_slots is None:
            _decode_slots = threading.BoundedSemaphore(settings.IMAGE_DECODE_CONCURRENCY)
    slots = _decode_slots
    if not slots.acquire(timeout=settings.IMAGE_DECODE_WAIT_SECONDS):
        raise ImageRejected(
            "The server is busy checking other images. Try this one again in a minute.",
            code="busy",
            status_code=503,
        )
    try:
        yield
    finally:
        slots.release()


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

    with decode_slot():
        probed = intake.probe(
            data,
            max_pixels=settings.IMAGE_MAX_PIXELS,
            max_decode_bytes=settings.IMAGE_DECODE_MAX_MB * 1024 * 1024,
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


# --- Direct upload: the seed's upload URL (PUT), and a size-limited S3 POST form -----------

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_UPLOAD_SALT = "images.upload-url"
# Waiting uploads older than this are not looked for any more (their URL expired long ago;
# a lifecycle rule on incoming/ removes leftover bytes).
STAGED_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class DirectUpload:
    """A grant to upload one file. ``put_url`` is the seed's ``upload_url`` (S3's presigned
    PUT, or None on local storage: the API then serves the signed ``token``); on S3 the
    ``post_url``/``fields`` form also works and limits the size at S3."""

    key: str
    staging_key: str
    expires_in: int
    max_bytes: int
    put_url: str | None
    token: str
    post_url: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


def _client_key(user: Any, token: str, filename: str) -> str:
    # The client's name, made URL- and key-safe, so the key still says what the file was.
    safe = _SAFE_NAME.sub("_", sanitize_filename(filename)).strip("._")[:80] or "image"
    return f"uploads/{user.pk}/{token}-{safe}"


def direct_upload_create(*, user, filename: str = "", content_type: str = "") -> DirectUpload:
    """Grant one upload: a new key the client can PUT its bytes to within the expiry.

    Nothing is stored yet; intake runs when the bytes arrive (local storage: the signed
    upload URL this app serves) or when the key is next used (S3).
    """
    del content_type  # the type is read from the bytes at intake, never trusted
    token = uuid.uuid4().hex
    staged = StagedUpload.objects.create(
        owner=user,
        key=_client_key(user, token, filename),
        staging_key=f"incoming/{user.pk}/{token}",
        filename=sanitize_filename(filename) if filename else "",
    )
    expires = settings.IMAGE_UPLOAD_URL_EXPIRY_SECONDS
    max_bytes = settings.IMAGE_MAX_BYTES
    signed = signing.dumps(str(staged.pk), salt=_UPLOAD_SALT)
    storage = _storage()
    if not storage_is_s3(storage):
        return DirectUpload(
            key=staged.key,
            staging_key=staged.staging_key,
            expires_in=expires,
            max_bytes=max_bytes,
            put_url=None,
            token=signed,
        )
    client = storage.bucket.meta.client  # type: ignore[attr-defined]
    bucket = storage.bucket_name  # type: ignore[attr-defined]
    put_url = client.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": staged.staging_key},
        ExpiresIn=expires,
        HttpMethod="PUT",
    )
    post = client.generate_presigned_post(
        Bucket=bucket,
        Key=staged.staging_key,
        Fields={},
        Conditions=[["content-length-range", 1, max_bytes]],
        ExpiresIn=expires,
    )
    return DirectUpload(
        key=staged.key,
        staging_key=staged.staging_key,
        expires_in=expires,
        max_bytes=max_bytes,
        put_url=put_url,
        token=signed,
        post_url=post["url"],
        fields=post["fields"],
    )


def direct_upload_receive(*, token: str, fileobj: IO[bytes]) -> tuple[str, IngestResult]:
    """The bytes PUT to a local upload URL: intake at once (there is no S3 to hold them).

    ``token`` is the signed, short-lived id from ``direct_upload_create``; an expired,
    forged or used one is NotFound. Raises ImageRejected (the upload is marked rejected).
    Returns the upload's key and the intake result."""
    try:
        staged_id = signing.loads(
            token, salt=_UPLOAD_SALT, max_age=settings.IMAGE_UPLOAD_URL_EXPIRY_SECONDS
        )
    except signing.BadSignature:
        raise NotFound("This upload URL is invalid or has expired; ask for a new one.") from None
    with transaction.atomic():
        staged = (
            StagedUpload.objects.select_for_update(of=("self",))
            .select_related("owner")
            .filter(pk=staged_id, state=StagedUpload.State.WAITING)
            .first()
        )
        if staged is None:
            raise NotFound("This upload URL was already used; ask for a new one.")
        outcome = _staged_ingest(staged, fileobj)
    if isinstance(outcome, ImageRejected):
        raise outcome
    return staged.key, outcome


def _staged_ingest(staged: StagedUpload, fileobj: IO[bytes]) -> IngestResult | ImageRejected:
    """Intake for a locked waiting upload; the rejection is returned, not raised, so the
    caller's transaction keeps the "rejected" mark."""
    try:
        result = image_ingest(
            owner=staged.owner, fileobj=fileobj, filename=staged.filename or staged.key
        )
    except ImageRejected as exc:
        StagedUpload.objects.filter(pk=staged.pk).update(
            state=StagedUpload.State.REJECTED, error=exc.message[:2000]
        )
        return exc
    StagedUpload.objects.filter(pk=staged.pk).update(
        state=StagedUpload.State.INGESTED, image=result.image
    )
    return result


def staged_upload_ingest(*, staged: StagedUpload) -> IngestResult | None:
    """Run intake on a waiting upload's bytes in storage; None when none arrived yet.

    Raises ImageRejected (the upload is then marked rejected). The staging object is
    removed once intake has decided, whatever it decided."""
    storage = _storage()
    with transaction.atomic():
        locked = (
            StagedUpload.objects.select_for_update(of=("self",))
            .select_related("owner", "image")
            .filter(pk=staged.pk)
            .first()
        )
        if locked is None:
            return None
        if locked.state == StagedUpload.State.INGESTED and locked.image is not None:
            return IngestResult(image=locked.image, duplicate=True)
        if locked.state == StagedUpload.State.REJECTED:
            raise ImageRejected(locked.error or "This upload was rejected.")
        try:
            size = storage.size(locked.staging_key)
        except Exception:  # no object yet: S3 answers 404, the file system FileNotFoundError
            return None
        outcome: IngestResult | ImageRejected
        if size > settings.IMAGE_MAX_BYTES:
            outcome = _too_large(settings.IMAGE_MAX_BYTES)
            StagedUpload.objects.filter(pk=locked.pk).update(
                state=StagedUpload.State.REJECTED, error=outcome.message
            )
        else:
            with storage.open(locked.staging_key, "rb") as fh:
                outcome = _staged_ingest(locked, fh)
    # Intake has decided and the decision is committed: the raw bytes are not needed.
    _delete_files([locked.staging_key])
    if isinstance(outcome, ImageRejected):
        raise outcome
    return outcome


def staged_uploads_collect(*, user, limit: int = 50) -> int:
    """Intake for the user's waiting uploads whose bytes have arrived (the list calls this,
    so what was PUT shows up). Bounded per call; rejections are recorded, not raised.
    Returns how many became images."""
    waiting = StagedUpload.objects.filter(
        owner=user,
        state=StagedUpload.State.WAITING,
        created_at__gte=timezone.now() - STAGED_LOOKBACK,
    ).order_by("created_at")[:limit]
    stored = 0
    for staged in waiting:
        try:
            if staged_upload_ingest(staged=staged) is not None:
                stored += 1
        except ImageRejected:
            continue
    return stored


def image_for_reference(*, user, ref: str) -> Image:
    """One of ``user``'s images named by its id or by a key: an upload-url key (running
    intake if its bytes are waiting), or the stored object's key. NotFound otherwise;
    ImageRejected when the bytes under an upload key are not an acceptable image."""
    try:
        image_id = uuid.UUID(str(ref))
    except ValueError:
        pass
    else:
        image = Image.objects.filter(owner=user, id=image_id).first()
        if image is None:
            raise NotFound("Image not found.")
        return image
    staged = StagedUpload.objects.filter(owner=user, key=ref).select_related("image").first()
    if staged is not None:
        if staged.image is not None:
            return staged.image
        result = staged_upload_ingest(staged=staged)
        if result is None:
            raise NotFound(
                f"Nothing was uploaded to {ref} yet: PUT the file to its upload_url first."
            )
        return result.image
    image = Image.objects.filter(owner=user, file=ref).first()
    if image is None:
        raise NotFound("Image not found.")
    return image


def images_for_references(*, user, refs: Iterable[str], field_name: str) -> list[Image]:
    """The user's images named by ids or keys (see ``image_for_reference``), in order, in
    a few queries. Unknown ones raise a 400 naming ``field_name`` and them (another user's
    are unknown too); a waiting upload is taken in now, and its rejection raised."""
    refs = list(dict.fromkeys(str(r) for r in refs))
    found: dict[str, Image] = {}
    ids: dict[uuid.UUID, str] = {}
    keys: list[str] = []
    for ref in refs:
        try:
            ids[uuid.UUID(ref)] = ref
        except ValueError:
            keys.append(ref)
    for image in Image.objects.filter(owner=user, id__in=list(ids)):
        found[ids[image.pk]] = image
    waiting: list[StagedUpload] = []
    for staged in StagedUpload.objects.filter(owner=user, key__in=keys).select_related("image"):
        if staged.image is not None:
            found[staged.key] = staged.image
        else:
            waiting.append(staged)
    for image in Image.objects.filter(owner=user, file__in=[k for k in keys if k not in found]):
        found.setdefault(image.file.name or "", image)
    for staged in waiting:
        try:
            result = staged_upload_ingest(staged=staged)
        except ImageRejected as exc:
            raise ImageRejected(
                f"{staged.key}: {exc.message}",
                field=field_name,
                code=exc.code,
                status_code=exc.status_code,
            ) from None
        if result is not None:
            found[staged.key] = result.image
    missing = [ref for ref in refs if ref not in found]
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise DomainError(
            f"Unknown image id(s): {shown}. (A key from /upload-url is known once its file "
            "was PUT to the upload_url.)"
            if waiting
            else f"Unknown image id(s): {shown}.",
            field=field_name,
        )
    return [found[ref] for ref in refs]


def direct_upload_finalize(*, user, key: str, filename: str) -> IngestResult:
    """Run intake now on a file uploaded to a grant's URL (PUT, or the S3 POST form).

    ``key`` is the grant's ``s3_key``. The staging object is deleted whatever the outcome."""
    staged = StagedUpload.objects.filter(owner=user, key=key or "").first()
    if staged is None:
        raise NotFound("No upload with that key.", field="key")
    if filename and staged.state == StagedUpload.State.WAITING:
        staged.filename = sanitize_filename(filename)
        StagedUpload.objects.filter(pk=staged.pk).update(filename=staged.filename)
    result = staged_upload_ingest(staged=staged)
    if result is None:
        raise NotFound(
            "No upload with that key: send the file to the upload URL first.", field="key"
        )
    return result
