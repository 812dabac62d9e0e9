"""Writes for jobs: submit, cancel, retry, delete; dispatch, run and sweep live in
``jobs.runs`` and are re-exported here.

The database is the source of truth. A message carries only a shard id; losing one loses
nothing, because ``jobs_sweep`` re-sends what no worker holds. Every state change is a
conditional UPDATE on the current status, so concurrent or repeated deliveries can only
move a job forward, and a result row is written at most once (pending -> done).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from categories.models import Category
from classifier_site.core.errors import Conflict, DomainError
from images import services as image_services
from images.models import Image
from images.selectors import ImageFilters, image_list
from inference import selectors as inference_selectors
from inference.labels import LabelError, labels_clean
from inference.models import ModelVersion
from jobs.label_checks import LabelWarning, labels_check
from jobs.models import (
    ACTIVE_STATUSES,
    NAME_MAX,
    SHARD_ACTIVE,
    TERMINAL_STATUSES,
    ItemStatus,
    Job,
    JobImage,
    JobShard,
    JobSource,
    JobStatus,
    JobType,
    ShardStatus,
)
from jobs.runs import (  # noqa: F401 - the worker side, re-exported as part of the services
    SweepResult,
    TransientError,
    is_transient,
    job_dispatch,
    job_dispatch_soon,
    job_finish_if_done,
    job_run,
    jobs_recover_on_start,
    jobs_sweep,
    recount,
    shard_attempt_failed,
    shard_fail,
    shard_run,
    shard_transient_failure,
    shards_create,
    user_error,
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
    warnings: tuple[LabelWarning, ...] = ()  # label-set checks; the job runs regardless


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


# What a job's rows are written from: reading only these keeps a 10 000-image selection
# cheap (no thumbnails, metadata or user-label join).
SELECTION_FIELDS = ("id", "owner_id", "sha256", "original_filename", "file")


def _owned_images(
    *,
    owner,
    image_ids: Iterable[uuid.UUID | str] = (),
    selection: ImageFilters | None = None,
    annotate: dict[str, Any] | None = None,
) -> list[Image]:
    """The images a job is for, in one query joined on the owner.

    ``selection`` (the gallery's "all matching" filters) is read as a query, so no id list
    travels to the database; otherwise ``image_ids`` in the order given. ``annotate``
    adds per-image columns to that same read (preview: the stored vector, the last result)
    and then returns named rows with the same attribute names instead of Image instances.
    """
    ids: list[uuid.UUID] = []
    if selection is not None:
        qs = image_list(user=owner, filters=selection).select_related(None)
    else:
        ids = _parse_ids(image_ids)
        if not ids:
            raise DomainError("Choose at least one image.", field="image_ids")
        if len(ids) > settings.JOB_MAX_IMAGES:
            raise DomainError(
                f"At most {settings.JOB_MAX_IMAGES} images per job.", field="image_ids"
            )
        qs = Image.objects.filter(owner=owner, id__in=ids)
    qs = qs.only(*SELECTION_FIELDS)
    if annotate:
        # Named rows, not model instances: building 10 000 instances cost as much as the
        # read itself, and a preview writes nothing.
        qs = qs.annotate(**annotate).values_list(  # type: ignore[assignment]
            *SELECTION_FIELDS, *annotate, named=True
        )
    if selection is not None:
        images = list(qs[: settings.JOB_MAX_IMAGES + 1])
        if not images:
            raise DomainError("No image matches this selection.", field="image_ids")
        if len(images) > settings.JOB_MAX_IMAGES:
            raise DomainError(
                f"At most {settings.JOB_MAX_IMAGES} images per job.", field="image_ids"
            )
        return images
    found = {img.id: img for img in qs}
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


@dataclass(frozen=True)
class JobRequest:
    """A submit as asked (form, API, predict), before validation."""

    job_type: str
    image_ids: list[uuid.UUID | str]
    top_k: int = 5
    confidence_threshold: float = 0.0
    custom_labels: Sequence[str] | str | None = None
    category_id: int | None = None
    model_version_id: int | None = None
    selection: ImageFilters | None = None  # "all matching" these filters, instead of ids

    def fingerprint(self) -> str:
        """Equal for equal requests (image order aside): binds an Idempotency-Key."""
        parts = (
            self.job_type,
            sorted(str(i) for i in self.image_ids),
            self.top_k,
            self.confidence_threshold,
            self.custom_labels,
            self.category_id,
            self.model_version_id,
            self.selection.to_params() if self.selection is not None else None,
        )
        return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _job_spec_validate(
    *,
    owner,
    request: JobRequest,
    annotate: Callable[[ModelVersion], dict[str, Any]] | None = None,
) -> JobSpec:
    """Check a request field by field; raises DomainError naming the first bad field.

    ``annotate(model_version)`` names per-image columns read with the images (preview).
    """
    job_type = request.job_type
    if job_type not in JobType.values:
        raise DomainError(f"Must be one of: {', '.join(JobType.values)}.", field="job_type")
    top_k, threshold = _clean_options(request.top_k, request.confidence_threshold)
    labels, category = _resolve_labels(
        owner=owner,
        job_type=job_type,
        labels=request.custom_labels,
        category_id=request.category_id,
    )
    model_version = _resolve_model(job_type, request.model_version_id)
    return JobSpec(
        job_type=job_type,
        model_version=model_version,
        category=category,
        labels=labels,
        top_k=top_k,
        confidence_threshold=threshold,
        images=_owned_images(
            owner=owner,
            image_ids=request.image_ids,
            selection=request.selection,
            annotate=annotate(model_version) if annotate else None,
        ),
    )


def _labels_warnings(*, request: JobRequest, spec: JobSpec) -> list[LabelWarning]:
    return labels_check(
        job_type=spec.job_type,
        model_version=spec.model_version,
        asked=request.custom_labels,
        labels=spec.labels,
    )


def job_labels_check(*, owner, request: JobRequest) -> list[LabelWarning]:
    """The label-set warnings a submit would return, without reading the images (the job
    form shows them before starting; raises the same DomainErrors as a submit would for
    the labels, category or model)."""
    labels, _ = _resolve_labels(
        owner=owner,
        job_type=request.job_type,
        labels=request.custom_labels,
        category_id=request.category_id,
    )
    return labels_check(
        job_type=request.job_type,
        model_version=_resolve_model(request.job_type, request.model_version_id),
        asked=request.custom_labels,
        labels=labels,
    )


def job_default_name(*, spec: JobSpec) -> str:
    """A name from what the job asks: the category, else the first labels, else the
    model; with the image count, so two runs over different photos tell apart."""
    count = f"{len(spec.images)} image{'s' if len(spec.images) != 1 else ''}"
    if spec.category is not None:
        what = spec.category.name
    elif spec.labels:
        what = ", ".join(spec.labels[:3]) + (
            f" +{len(spec.labels) - 3}" if len(spec.labels) > 3 else ""
        )
    else:
        what = spec.model_version.name
    suffix = f" · {count}"
    return what[: NAME_MAX - len(suffix)] + suffix


def _job_create(
    *, owner, spec: JobSpec, source: str, idempotency_key: str, fingerprint: str, name: str
) -> Job:
    """Write the job, one row per image and its shards in one transaction; dispatch after
    commit, outside the request."""
    with transaction.atomic():
        job = Job.objects.create(
            owner=owner,
            name=name,
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
        items = JobImage.objects.bulk_create(
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
        shards_create(job=job, item_ids=[item.pk for item in items])
        transaction.on_commit(partial(job_dispatch_soon, job.id))
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
    name: str = "",
    selection: ImageFilters | None = None,
) -> SubmitResult:
    """Validate, write the job and its rows in one transaction, dispatch on commit.

    Idempotent per (owner, idempotency_key): a repeated or concurrent request with the
    same key returns the first job (``created=False``) and creates nothing.
    """
    request = JobRequest(
        job_type=job_type,
        image_ids=list(image_ids),
        top_k=top_k,
        confidence_threshold=confidence_threshold,
        custom_labels=custom_labels,
        category_id=category_id,
        model_version_id=model_version_id,
        selection=selection,
    )
    key = (idempotency_key or "").strip()
    if len(key) > 255:
        raise DomainError("At most 255 characters.", field="idempotency_key")
    fingerprint = request.fingerprint() if key else ""
    earlier = _job_for_key(owner=owner, idempotency_key=key, fingerprint=fingerprint)
    if earlier is not None:
        return SubmitResult(earlier, created=False)
    spec = _job_spec_validate(owner=owner, request=request)
    # The name is a label for people, not part of the request's meaning: it stays out of
    # the Idempotency-Key fingerprint.
    name = " ".join((name or "").split())
    if len(name) > NAME_MAX:
        raise DomainError(f"At most {NAME_MAX} characters.", field="name")
    warnings = _labels_warnings(request=request, spec=spec)
    try:
        job = _job_create(
            owner=owner,
            spec=spec,
            source=source,
            idempotency_key=key,
            fingerprint=fingerprint,
            name=name or job_default_name(spec=spec),
        )
    except IntegrityError:
        # A concurrent request with the same key committed first: the unique constraint
        # made this insert wait for it, then fail. Its job is the answer.
        earlier = _job_for_key(owner=owner, idempotency_key=key, fingerprint=fingerprint)
        if earlier is not None:
            return SubmitResult(earlier, created=False)
        # Otherwise an image was deleted between validation and commit (its foreign key
        # no longer holds): nothing was stored, and the person can simply submit again.
        raise Conflict(
            "An image was deleted while the job was being submitted; nothing was created. "
            "Submit again.",
            field="image_ids",
        ) from None
    return SubmitResult(job, created=True, warnings=tuple(warnings))


# --- user actions ------------------------------------------------------------------------


def job_cancel(*, job: Job) -> Job:
    """Stop the job: workers stop between batches; images not yet classified are marked
    canceled, so processed + canceled == total."""
    now = timezone.now()
    with transaction.atomic():
        moved = Job.objects.filter(pk=job.pk, status__in=ACTIVE_STATUSES).update(
            status=JobStatus.CANCELED, completed_at=now, updated_at=now
        )
        if moved:
            JobShard.objects.filter(job_id=job.pk, status__in=SHARD_ACTIVE).update(
                status=ShardStatus.CANCELED,
                lease_token=None,
                heartbeat_at=None,
                completed_at=now,
                updated_at=now,
            )
            JobImage.objects.filter(job_id=job.pk, status=ItemStatus.PENDING).update(
                status=ItemStatus.CANCELED, completed_at=now
            )
            recount(job.pk)
    job.refresh_from_db()
    if not moved:
        raise Conflict(f"A {job.status} job cannot be canceled.", field="status")
    return job


def job_retry_failed(*, job: Job) -> Job:
    """Run the failed images of a finished job again (done images keep their results,
    canceled ones stay canceled); only the shards holding them are sent."""
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status not in TERMINAL_STATUSES:
            raise Conflict("Only a finished job can be retried.", field="status")
        retry_items = locked.items.filter(status__in=(ItemStatus.FAILED, ItemStatus.PENDING))
        shard_ids = set(retry_items.values_list("shard_id", flat=True))
        if not shard_ids:
            raise Conflict("This job has no failed images to retry.", field="status")
        retry_items.update(
            status=ItemStatus.PENDING, error="", completed_at=None, processing_ms=None
        )
        now = timezone.now()
        JobShard.objects.filter(pk__in=shard_ids).update(
            status=ShardStatus.PENDING,
            attempts=0,
            lease_token=None,
            heartbeat_at=None,
            dispatched_at=None,
            completed_at=None,
            error_message="",
            updated_at=now,
        )
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.PENDING,
            attempts=0,
            error_message="",
            started_at=None,  # the retry's first claim starts its own clock
            completed_at=None,
            dispatched_at=None,
            updated_at=now,
        )
        recount(job.pk)
        Job.objects.filter(pk=job.pk).update(done_before_run=F("processed"))
        transaction.on_commit(partial(job_dispatch_soon, job.pk))
    job.refresh_from_db()
    return job


def job_delete(*, job: Job) -> None:
    # Conditional: a retry that re-activated it a moment ago wins.
    deleted, _ = Job.objects.filter(pk=job.pk, status__in=TERMINAL_STATUSES).delete()
    if not deleted:
        raise Conflict("Cancel the job before deleting it.", field="status")


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


def images_auto_classify(*, owner, image_ids: list[uuid.UUID]) -> Job | None:
    """After an upload: a default-ImageNet job over the new photos, when the owner turned
    auto-classify on. Never fails the upload: a model that is not installed is logged."""
    if not getattr(owner, "auto_classify", False) or not image_ids:
        return None
    try:
        return job_submit(
            owner=owner, job_type=JobType.IMAGE_CLASSIFICATION, image_ids=image_ids
        ).job
    except DomainError as exc:
        logger.warning("auto-classify skipped for %s image(s): %s", len(image_ids), exc.message)
        return None
