"""Writes for jobs: submit, dispatch, run (worker side), cancel, retry, delete, sweep.

The database is the source of truth. A message carries only a job id; losing one loses
nothing, because ``jobs_sweep`` re-dispatches what no worker holds. Every state change is
a conditional UPDATE on the current status, so concurrent or repeated deliveries can only
move a job forward, and a result row is written at most once (pending -> done).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from categories.models import Category
from classifier_site.core.errors import Conflict, DomainError
from images import services as image_services
from images.models import Image
from inference import selectors as inference_selectors
from inference import services as inference
from inference.labels import LabelError, labels_clean
from inference.models import ModelVersion
from inference.types import ImageInput, ImageOutcome
from jobs import metrics
from jobs.models import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    ItemStatus,
    Job,
    JobImage,
    JobSource,
    JobStatus,
    JobType,
)

logger = logging.getLogger(__name__)

MODEL_KIND = {
    JobType.IMAGE_CLASSIFICATION: "imagenet",
    JobType.CUSTOM_CLASSIFICATION: "zero_shot",
}


# --- submit ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitResult:
    job: Job
    created: bool  # False when an Idempotency-Key matched an earlier job


def _parse_ids(image_ids: Iterable[uuid.UUID | str]) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    seen: set[uuid.UUID] = set()
    for raw in image_ids:
        try:
            value = raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))
        except ValueError:
            raise DomainError(f"“{raw}” is not an image id.", field="image_ids") from None
        if value not in seen:
            seen.add(value)
            ids.append(value)
    return ids


def _owned_images(*, owner, image_ids: Iterable[uuid.UUID | str]) -> list[Image]:
    ids = _parse_ids(image_ids)
    if not ids:
        raise DomainError("Choose at least one image.", field="image_ids")
    if len(ids) > settings.JOB_MAX_IMAGES:
        raise DomainError(f"At most {settings.JOB_MAX_IMAGES} images per job.", field="image_ids")
    found = {img.id: img for img in Image.objects.filter(owner=owner, id__in=ids)}
    # Another user's image is reported exactly like one that does not exist.
    missing = [str(i) for i in ids if i not in found]
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise DomainError(f"Unknown image id(s): {shown}.", field="image_ids")
    return [found[i] for i in ids]


def _clean_options(top_k: int, confidence_threshold: float) -> tuple[int, float]:
    try:
        top_k = int(top_k)
    except (TypeError, ValueError):
        raise DomainError("Must be a whole number between 1 and 10.", field="top_k") from None
    if not 1 <= top_k <= 10:
        raise DomainError("Must be between 1 and 10.", field="top_k")
    try:
        threshold = float(confidence_threshold)
    except (TypeError, ValueError):
        raise DomainError(
            "Must be a number between 0 and 1.", field="confidence_threshold"
        ) from None
    if not 0.0 <= threshold <= 1.0:
        raise DomainError("Must be between 0 and 1.", field="confidence_threshold")
    return top_k, threshold


def _resolve_model(job_type: str, model_version_id: int | None) -> ModelVersion:
    """The version to run: the requested one, or the kind's default. Availability is what
    the workers reported (inference.selectors); a model no worker can run is refused now
    (409) rather than accepted and failed later."""
    kind = MODEL_KIND[JobType(job_type)]
    if model_version_id in (None, ""):
        version = inference_selectors.model_version_default(kind=kind)
        if version is None:
            raise Conflict(
                "No model for this job type is available right now: the workers cannot run "
                "one yet. Try again later or contact the administrator.",
                field="model_version",
            )
        return version
    try:
        version = ModelVersion.objects.get(pk=model_version_id, kind=kind)
    except (ModelVersion.DoesNotExist, ValueError, TypeError):
        raise DomainError(
            "Unknown model version for this job type.", field="model_version"
        ) from None
    if not inference_selectors.model_version_available(model_version=version):
        raise Conflict(
            f"The model {version.name} is not available right now: no worker can run it. "
            "Choose another model or contact the administrator.",
            field="model_version",
        )
    return version


def _resolve_labels(
    *, owner, job_type: str, labels: Sequence[str] | str | None, category_id: int | None
) -> tuple[list[str], Category | None]:
    if job_type != JobType.CUSTOM_CLASSIFICATION:
        return [], None  # the ImageNet model has its own 1000 classes
    category = None
    if category_id not in (None, ""):
        try:
            category = Category.objects.get(owner=owner, pk=int(category_id))  # type: ignore[arg-type]
        except (Category.DoesNotExist, ValueError, TypeError):
            raise DomainError("Unknown category.", field="category_id") from None
    if isinstance(labels, str):
        labels = labels.splitlines()
    labels = [label for label in (labels or []) if str(label).strip()]
    if not labels:
        if category is None:
            raise DomainError(
                "A custom classification needs labels or a category.", field="custom_labels"
            )
        labels = category.labels
    try:
        return labels_clean(list(labels)), category
    except LabelError as exc:
        raise DomainError(str(exc), field="custom_labels") from None


@dataclass(frozen=True)
class JobSpec:
    """A submit request once validated: everything the job's rows are written from."""

    job_type: str
    model_version: ModelVersion
    category: Category | None
    labels: list[str]
    top_k: int
    confidence_threshold: float
    images: list[Image]


def _job_spec_validate(
    *,
    owner,
    job_type: str,
    image_ids: Sequence[uuid.UUID | str],
    top_k: int,
    confidence_threshold: float,
    custom_labels: Sequence[str] | str | None,
    category_id: int | None,
    model_version_id: int | None,
) -> JobSpec:
    """Check a request field by field; raises DomainError naming the first bad field."""
    if job_type not in JobType.values:
        raise DomainError(f"Must be one of: {', '.join(JobType.values)}.", field="job_type")
    top_k, threshold = _clean_options(top_k, confidence_threshold)
    labels, category = _resolve_labels(
        owner=owner, job_type=job_type, labels=custom_labels, category_id=category_id
    )
    return JobSpec(
        job_type=job_type,
        model_version=_resolve_model(job_type, model_version_id),
        category=category,
        labels=labels,
        top_k=top_k,
        confidence_threshold=threshold,
        images=_owned_images(owner=owner, image_ids=image_ids),
    )


def _job_create(
    *, owner, spec: JobSpec, source: str, idempotency_key: str, fingerprint: str
) -> Job:
    """Write the job and one row per image in one transaction; dispatch on commit."""
    with transaction.atomic():
        job = Job.objects.create(
            owner=owner,
            job_type=spec.job_type,
            source=source,
            model_version=spec.model_version,
            category=spec.category,
            labels=spec.labels,
            top_k=spec.top_k,
            confidence_threshold=spec.confidence_threshold,
            total=len(spec.images),
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
        )
        JobImage.objects.bulk_create(
            JobImage(
                job=job,
                image=image,
                position=position,
                filename=image.original_filename or (image.file.name or "").rsplit("/", 1)[-1],
                key=image.file.name or "",
                content_hash=image.sha256,
            )
            for position, image in enumerate(spec.images)
        )
        transaction.on_commit(partial(job_dispatch, job_id=job.id))
    return job


def _job_for_key(*, owner, idempotency_key: str, fingerprint: str) -> Job | None:
    """The job an earlier request with this Idempotency-Key created, if any; 422 when that
    request asked for something else."""
    if not idempotency_key:
        return None
    existing = Job.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    if existing.request_fingerprint and existing.request_fingerprint != fingerprint:
        raise DomainError(
            "This Idempotency-Key was already used for a different request; use a new key.",
            field="idempotency_key",
            status_code=422,
        )
    return existing


def job_submit(
    *,
    owner,
    job_type: str,
    image_ids: Iterable[uuid.UUID | str],
    top_k: int = 5,
    confidence_threshold: float = 0.0,
    custom_labels: Sequence[str] | str | None = None,
    category_id: int | None = None,
    model_version_id: int | None = None,
    idempotency_key: str = "",
    source: str = JobSource.BATCH,
) -> SubmitResult:
    """Validate, write the job and its rows in one transaction, dispatch on commit.

    Idempotent per (owner, idempotency_key): a repeated or concurrent request with the
    same key returns the first job (``created=False``) and creates nothing.
    """
    image_ids = list(image_ids)
    idempotency_key = (idempotency_key or "").strip()
    if len(idempotency_key) > 255:
        raise DomainError("At most 255 characters.", field="idempotency_key")
    fingerprint = (
        _fingerprint(
            job_type,
            sorted(str(i) for i in image_ids),
            top_k,
            confidence_threshold,
            custom_labels,
            category_id,
            model_version_id,
        )
        if idempotency_key
        else ""
    )
    earlier = _job_for_key(owner=owner, idempotency_key=idempotency_key, fingerprint=fingerprint)
    if earlier is not None:
        return SubmitResult(earlier, created=False)
    spec = _job_spec_validate(
        owner=owner,
        job_type=job_type,
        image_ids=image_ids,
        top_k=top_k,
        confidence_threshold=confidence_threshold,
        custom_labels=custom_labels,
        category_id=category_id,
        model_version_id=model_version_id,
    )
    try:
        job = _job_create(
            owner=owner,
            spec=spec,
            source=source,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
    except IntegrityError:
        # A concurrent request with the same key committed first: the unique constraint
        # made this insert wait for it, then fail. Its job is the answer.
        earlier = _job_for_key(
            owner=owner, idempotency_key=idempotency_key, fingerprint=fingerprint
        )
        if earlier is not None:
            return SubmitResult(earlier, created=False)
        # Otherwise an image was deleted between validation and commit (its foreign key
        # no longer holds): nothing was stored, and the person can simply submit again.
        raise Conflict(
            "An image was deleted while the job was being submitted; nothing was created. "
            "Submit again.",
            field="image_ids",
        ) from None
    return SubmitResult(job, created=True)


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


# --- dispatch ----------------------------------------------------------------------------


def job_dispatch(*, job_id: uuid.UUID) -> bool:
    """Send the job's message. Never raises: a failed send leaves the job for the sweeper."""
    from jobs import tasks  # the actors call these services: a cycle, broken here

    job = Job.objects.filter(pk=job_id).only("id", "source", "status").first()
    if job is None or job.status in TERMINAL_STATUSES:
        return False
    actor = tasks.predict_run if job.source == JobSource.PREDICT else tasks.job_run
    try:
        actor.send(str(job_id))
    except Exception:  # any broker/network error: the job stays pending, nothing is lost
        logger.warning("could not enqueue job %s; the sweeper will retry", job_id, exc_info=True)
        return False
    now = timezone.now()
    Job.objects.filter(pk=job_id, status=JobStatus.PENDING).update(
        status=JobStatus.QUEUED, queued_at=now, dispatched_at=now, updated_at=now
    )
    Job.objects.filter(pk=job_id).exclude(status=JobStatus.PENDING).update(dispatched_at=now)
    return True


@dataclass(frozen=True)
class SweepResult:
    redispatched: list[uuid.UUID]
    failed: list[uuid.UUID]


def jobs_sweep() -> SweepResult:
    """Re-dispatch jobs no worker holds; fail those whose workers died too often.

    - pending longer than JOB_PENDING_GRACE_SECONDS (the send failed or never ran);
    - processing with an expired lease (the worker was killed or lost its connection);
    - processing with a released lease (a retry is due) once the longest retry backoff
      has passed without it arriving;
    - queued, unclaimed JOB_QUEUED_RESEND_SECONDS after its last send (the message was
      dead-lettered before any worker could claim it, e.g. while the database was down).
    Safe to run from many processes at once: a duplicate message is harmless.
    """
    now = timezone.now()
    grace = timedelta(seconds=settings.JOB_PENDING_GRACE_SECONDS)
    lease = timedelta(seconds=settings.JOB_LEASE_SECONDS)
    backoff = timedelta(milliseconds=settings.RETRY_MAX_BACKOFF_MS)
    not_recently_sent = Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - grace)
    resend = timedelta(seconds=settings.JOB_QUEUED_RESEND_SECONDS)
    stale = Job.objects.filter(not_recently_sent).filter(
        Q(status=JobStatus.PENDING, created_at__lt=now - grace)
        | Q(status=JobStatus.QUEUED, dispatched_at__lt=now - resend)
        | Q(status=JobStatus.PROCESSING, heartbeat_at__lt=now - lease)
        | Q(
            status=JobStatus.PROCESSING,
            heartbeat_at__isnull=True,
            updated_at__lt=now - backoff - grace,
        )
    )
    redispatched: list[uuid.UUID] = []
    failed: list[uuid.UUID] = []
    for job_id, status, attempts in stale.values_list("id", "status", "attempts"):
        if status == JobStatus.PROCESSING and attempts >= settings.JOB_MAX_ATTEMPTS:
            reason = (
                f"The worker stopped {attempts} times while processing this job "
                "(crashed, killed or out of memory); giving up."
            )
            if _job_fail(job_id, reason, from_statuses=(JobStatus.PROCESSING,)):
                failed.append(job_id)
            continue
        if job_dispatch(job_id=job_id):
            redispatched.append(job_id)
    if redispatched or failed:
        logger.info("sweep: redispatched %d, failed %d", len(redispatched), len(failed))
    return SweepResult(redispatched, failed)


def jobs_recover_on_start() -> list[uuid.UUID]:
    """Embedded mode: the in-memory queue was lost with the last process, re-send all.

    Only for the single-process embedded mode, where no other worker can hold a job.
    """
    now = timezone.now()
    Job.objects.filter(status=JobStatus.PROCESSING).update(heartbeat_at=None, updated_at=now)
    ids = list(Job.objects.filter(status__in=ACTIVE_STATUSES).values_list("id", flat=True))
    for job_id in ids:
        job_dispatch(job_id=job_id)
    return ids


# --- user actions ------------------------------------------------------------------------


def job_cancel(*, job: Job) -> Job:
    now = timezone.now()
    moved = Job.objects.filter(pk=job.pk, status__in=ACTIVE_STATUSES).update(
        status=JobStatus.CANCELED, completed_at=now, updated_at=now, heartbeat_at=None
    )
    job.refresh_from_db()
    if not moved:
        raise Conflict(f"A {job.status} job cannot be canceled.", field="status")
    return job


def job_retry_failed(*, job: Job) -> Job:
    """Run the failed images of a finished job again (done images keep their results)."""
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status not in TERMINAL_STATUSES:
            raise Conflict("Only a finished job can be retried.", field="status")
        retry_items = locked.items.filter(status=ItemStatus.FAILED)
        if not retry_items.exists() and not locked.items.filter(status=ItemStatus.PENDING).exists():
            raise Conflict("This job has no failed images to retry.", field="status")
        retry_items.update(
            status=ItemStatus.PENDING, error="", completed_at=None, processing_ms=None
        )
        now = timezone.now()
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.PENDING,
            attempts=0,
            error_message="",
            completed_at=None,
            heartbeat_at=None,
            dispatched_at=None,
            updated_at=now,
        )
        _recount(job.pk)
        transaction.on_commit(partial(job_dispatch, job_id=job.pk))
    job.refresh_from_db()
    return job


def job_delete(*, job: Job) -> None:
    # Conditional: a retry that re-activated it a moment ago wins.
    deleted, _ = Job.objects.filter(pk=job.pk, status__in=TERMINAL_STATUSES).delete()
    if not deleted:
        raise Conflict("Cancel the job before deleting it.", field="status")


# --- worker side -------------------------------------------------------------------------


def _claim(job_id) -> bool:
    now = timezone.now()
    lease_expired = Q(heartbeat_at__isnull=True) | Q(
        heartbeat_at__lt=now - timedelta(seconds=settings.JOB_LEASE_SECONDS)
    )
    return bool(
        Job.objects.filter(pk=job_id)
        .filter(
            Q(status__in=(JobStatus.PENDING, JobStatus.QUEUED))
            | (Q(status=JobStatus.PROCESSING) & lease_expired)
        )
        .update(
            status=JobStatus.PROCESSING,
            queued_at=Coalesce(F("queued_at"), now),
            started_at=Coalesce(F("started_at"), now),
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    )


def _job_fail(job_id, reason: str, *, from_statuses=ACTIVE_STATUSES) -> bool:
    now = timezone.now()
    _recount(job_id)
    return bool(
        Job.objects.filter(pk=job_id, status__in=from_statuses).update(
            status=JobStatus.FAILED,
            error_message=reason[:5000],
            completed_at=now,
            heartbeat_at=None,
            updated_at=now,
        )
    )


def job_attempt_failed(*, job_id, error: str, final: bool) -> None:
    """An attempt raised. Final: fail the job with the error. Else release the lease so
    the retry (a new message, after a backoff) can claim it at once."""
    if final:
        _job_fail(job_id, error)
        return
    Job.objects.filter(pk=job_id, status=JobStatus.PROCESSING).update(
        heartbeat_at=None, error_message=error[:5000], updated_at=timezone.now()
    )


def _recount(job_id) -> dict[str, int]:
    counts = Counter(
        dict(
            JobImage.objects.filter(job_id=job_id)
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
    )
    values = {
        "classified": counts[ItemStatus.CLASSIFIED],
        "unknown": counts[ItemStatus.UNKNOWN],
        "failed": counts[ItemStatus.FAILED],
    }
    values["processed"] = sum(values.values())
    Job.objects.filter(pk=job_id).update(**values)
    return values


def _open_image(image: Image) -> BinaryIO:
    return image_services.image_open(image)


def _record(job: Job, outcomes: Sequence[ImageOutcome]) -> None:
    now = timezone.now()
    with transaction.atomic():
        for outcome in outcomes:
            fields: dict[str, Any] = {
                "processing_ms": round(outcome.elapsed_ms, 3),
                "from_cache": outcome.from_cache,
                "completed_at": now,
            }
            if outcome.error or not outcome.predictions:
                fields.update(status=ItemStatus.FAILED, error=outcome.error or "no prediction")
            else:
                best = outcome.predictions[0]
                fields.update(
                    status=(
                        ItemStatus.CLASSIFIED
                        if best.score >= job.confidence_threshold
                        else ItemStatus.UNKNOWN
                    ),
                    top_label=best.label[:200],
                    top_score=float(best.score),
                    predictions=[
                        {"label": p.label, "score": round(float(p.score), 6)}
                        for p in outcome.predictions
                    ],
                    error="",
                )
            # Only a pending row is written: a redelivered message never rewrites a result.
            written = JobImage.objects.filter(
                pk=int(outcome.key), job_id=job.pk, status=ItemStatus.PENDING
            ).update(**fields)
            if written:
                metrics.image_done(job.job_type, fields["status"], outcome.elapsed_ms)
        _recount(job.pk)


def _heartbeat(job_id) -> bool:
    """Refresh the lease; False when the job is no longer ours (canceled meanwhile)."""
    now = timezone.now()
    return bool(
        Job.objects.filter(pk=job_id, status=JobStatus.PROCESSING).update(
            heartbeat_at=now, updated_at=now
        )
    )


def job_run(*, job_id) -> str:
    """Process one delivery of a job's message. Safe to call any number of times, also
    concurrently: only the holder of the lease works, done images are skipped."""
    if not _claim(job_id):
        logger.info("job %s: not claimable (finished, canceled or held by a live worker)", job_id)
        return "skipped"
    job = Job.objects.select_related("model_version").get(pk=job_id)
    if job.attempts > settings.JOB_MAX_ATTEMPTS:
        _job_fail(job_id, f"Gave up after {job.attempts - 1} attempts.")
        return "failed"

    items = list(
        job.items.filter(status=ItemStatus.PENDING).select_related("image").order_by("position")
    )
    gone = [item.pk for item in items if item.image is None]
    if gone:
        JobImage.objects.filter(pk__in=gone, status=ItemStatus.PENDING).update(
            status=ItemStatus.FAILED,
            error="The image was deleted before it was classified.",
            completed_at=timezone.now(),
        )
    inputs = [
        ImageInput(
            key=str(item.pk),
            content_hash=item.image.sha256,
            open=partial(_open_image, item.image),
        )
        for item in items
        if item.image is not None
    ]
    if inputs:
        batches = inference.classify(
            model_version=job.model_version,
            inputs=inputs,
            labels=job.labels if job.is_custom else None,
            top_k=job.top_k,
        )
        for outcomes in batches:
            _record(job, outcomes)
            if not _heartbeat(job_id):
                logger.info("job %s: stopped between batches (canceled)", job_id)
                return "canceled"
    _recount(job_id)
    now = timezone.now()
    completed = Job.objects.filter(pk=job_id, status=JobStatus.PROCESSING).update(
        status=JobStatus.COMPLETED, completed_at=now, heartbeat_at=None, updated_at=now
    )
    if completed:
        logger.info("job %s: completed", job_id)
        metrics.job_finished(job.job_type, JobStatus.COMPLETED)
        return "completed"
    return "superseded"


# --- single-image predict -----------------------------------------------------------------


def predict_submit(*, owner, fileobj: BinaryIO, filename: str) -> Job:
    """Store the upload through images intake, then a one-image ImageNet job on the
    high-priority predict queue (dispatched on commit)."""
    image = image_services.image_ingest(owner=owner, fileobj=fileobj, filename=filename).image
    return job_submit(
        owner=owner,
        job_type=JobType.IMAGE_CLASSIFICATION,
        image_ids=[image.id],
        top_k=5,
        source=JobSource.PREDICT,
    ).job
