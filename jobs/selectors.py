"""Reads for jobs, always scoped to the acting user."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, F, QuerySet
from django.utils import timezone

from classifier_site.core.errors import DomainError, NotFound
from images.relations import ImageLabel
from jobs.models import ACTIVE_STATUSES, ItemStatus, Job, JobImage, JobSource, JobStatus, JobType

# sort name -> (ordering field, label shown in the history page's sort menu)
JOB_SORTS: dict[str, tuple[str, str]] = {
    "-created": ("-created_at", "Newest"),
    "created": ("created_at", "Oldest"),
    "-completed": ("-completed_at", "Recently completed"),
    "completed": ("completed_at", "First completed"),
    "-size": ("-total", "Largest"),
    "size": ("total", "Smallest"),
}
RESULT_SORTS = {
    "image": "filename",
    "-image": "-filename",
    "label": "top_label",
    "-label": "-top_label",
    "confidence": "top_score",
    "-confidence": "-top_score",
    "time": "processing_ms",
    "-time": "-processing_ms",
    "position": "position",
}


def job_get(*, user, job_id: Any) -> Job:
    """The user's job, or NotFound (another user's job is reported as missing)."""
    try:
        job_uuid = job_id if isinstance(job_id, uuid.UUID) else uuid.UUID(str(job_id))
    except ValueError:
        raise NotFound("No such job.") from None
    job = (
        Job.objects.select_related("model_version", "category")
        .filter(owner=user, pk=job_uuid)
        .first()
    )
    if job is None:
        raise NotFound("No such job.")
    return job


@dataclass(frozen=True)
class JobFilters:
    status: str = ""
    job_type: str = ""
    created_from: date | None = None
    created_to: date | None = None
    sort: str = "-created"
    source: str = JobSource.BATCH

    @classmethod
    def from_params(cls, params: Any, *, strict: bool = False) -> JobFilters:
        """Parse query parameters (the history page and the API). Unknown values are
        ignored, or raise DomainError naming the parameter when ``strict``."""

        def choice(name: str, allowed: Iterable[str], default: str) -> str:
            value = str(params.get(name, "") or "").strip()
            allowed = list(allowed)
            if not value:
                return default
            if value not in allowed:
                if strict:
                    raise DomainError(f"must be one of {', '.join(allowed)}.", field=name)
                return default
            return value

        def day(name: str) -> date | None:
            value = str(params.get(name, "") or "").strip()
            if not value:
                return None
            try:
                return date.fromisoformat(value)
            except ValueError:
                if strict:
                    raise DomainError("must be a date (YYYY-MM-DD).", field=name) from None
                return None

        return cls(
            status=choice("status", JobStatus.values, ""),
            job_type=choice("job_type", JobType.values, ""),
            created_from=day("created_from"),
            created_to=day("created_to"),
            sort=choice("sort", JOB_SORTS, "-created"),
        )


def job_list(*, user, filters: JobFilters | None = None) -> QuerySet[Job]:
    filters = filters or JobFilters()
    qs = Job.objects.filter(owner=user).select_related("model_version")
    if filters.source:
        qs = qs.filter(source=filters.source)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.job_type:
        qs = qs.filter(job_type=filters.job_type)
    if filters.created_from:
        qs = qs.filter(created_at__date__gte=filters.created_from)
    if filters.created_to:
        qs = qs.filter(created_at__date__lte=filters.created_to)
    order = JOB_SORTS[filters.sort][0]
    nulls_last = order.lstrip("-")
    expr = (
        F(nulls_last).desc(nulls_last=True)
        if order.startswith("-")
        else F(nulls_last).asc(nulls_last=True)
    )
    return qs.order_by(expr, "-created_at", "-id")


def job_items(*, job: Job, sort: str = "position") -> QuerySet[JobImage]:
    order = RESULT_SORTS.get(sort, "position")
    return job.items.select_related("image").order_by(order, "position", "id")


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    percent: int
    images_per_second: float | None
    eta_seconds: int | None
    elapsed_seconds: float | None


def job_reused_count(*, job: Job) -> int:
    """How many of the job's results came from stored predictions (no model run)."""
    return job.items.filter(from_cache=True).exclude(status=ItemStatus.PENDING).count()


def job_running_count(*, user) -> int:
    """How many of the user's batch jobs are waiting or running (the nav badge)."""
    return Job.objects.filter(
        owner=user, source=JobSource.BATCH, status__in=ACTIVE_STATUSES
    ).count()


def job_progress(*, job: Job) -> Progress:
    percent = int(job.processed * 100 / job.total) if job.total else 100
    rate = eta = elapsed = None
    if job.started_at:
        end = job.completed_at or timezone.now()
        elapsed = max((end - job.started_at).total_seconds(), 0.0)
        if job.processed and elapsed > 0:
            rate = job.processed / elapsed
            if not job.is_terminal:
                eta = int((job.total - job.processed) / rate)
    return Progress(job.processed, job.total, percent, rate, eta, elapsed)


@dataclass(frozen=True)
class LabelGroup:
    label: str
    count: int
    percent: int
    items: list[JobImage]


def job_label_groups(*, items: list[JobImage]) -> list[LabelGroup]:
    """Images grouped by their label ("unknown" under the threshold), largest group first."""
    groups: dict[str, list[JobImage]] = {}
    for item in items:
        if item.status == ItemStatus.CLASSIFIED:
            groups.setdefault(item.top_label, []).append(item)
        elif item.status == ItemStatus.UNKNOWN:
            groups.setdefault("unknown", []).append(item)
    counts = Counter({label: len(members) for label, members in groups.items()})
    biggest = max(counts.values(), default=0)
    return [
        LabelGroup(label, n, int(n * 100 / biggest) if biggest else 0, groups[label])
        for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def item_label(item: JobImage) -> str:
    """What a result reports as the prediction: the label, or "unknown" under threshold."""
    if item.status == ItemStatus.CLASSIFIED:
        return item.top_label
    if item.status == ItemStatus.UNKNOWN:
        return "unknown"
    return ""


def prediction_list(*, user) -> QuerySet[JobImage]:
    """A user's single-image predictions, newest first."""
    return (
        JobImage.objects.filter(job__owner=user, job__source=JobSource.PREDICT)
        .select_related("job", "job__model_version")
        .order_by("-job__created_at", "-id")
    )


def image_predictions(*, user, image) -> QuerySet[JobImage]:
    """The finished results for one image across the user's jobs, newest first."""
    return (
        JobImage.objects.filter(
            job__owner=user,
            image=image,
            status__in=(ItemStatus.CLASSIFIED, ItemStatus.UNKNOWN),
        )
        .select_related("job", "job__model_version")
        .order_by("-completed_at", "-id")
    )


def job_wait(*, user, job_id, timeout: float, interval: float = 0.1) -> Job:
    """Poll the database until the job is terminal or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        job = job_get(user=user, job_id=job_id)
        if job.is_terminal or time.monotonic() >= deadline:
            return job
        time.sleep(interval)


class JobImageRelations:
    """Answers images' questions about jobs (registered in ``JobsConfig.ready``)."""

    def image_ids_in_use(self, *, image_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these images a pending, queued or processing job still has to read.

        Called by image deletion, which has already checked that the images are the user's.
        """
        return set(
            JobImage.objects.filter(
                image_id__in=list(image_ids),
                job__status__in=ACTIVE_STATUSES,
                status=ItemStatus.PENDING,
            ).values_list("image_id", flat=True)
        )

    def image_ids_labelled(self, *, user: Any, label: str) -> QuerySet[Any]:
        """Images whose top prediction (above the job's threshold) contained this label."""
        return JobImage.objects.filter(
            job__owner=user, status=ItemStatus.CLASSIFIED, top_label__icontains=label
        ).values("image_id")

    def image_ids_classified(self, *, user: Any) -> QuerySet[Any]:
        return JobImage.objects.filter(
            job__owner=user,
            image__isnull=False,
            status__in=(ItemStatus.CLASSIFIED, ItemStatus.UNKNOWN),
        ).values("image_id")

    def image_labels_latest(
        self, *, user: Any, image_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, ImageLabel]:
        # One query for a page of tiles; newest first, so the first row per image wins.
        rows = (
            JobImage.objects.filter(
                job__owner=user,
                image_id__in=list(image_ids),
                status__in=(ItemStatus.CLASSIFIED, ItemStatus.UNKNOWN),
            )
            .order_by("image_id", "-completed_at", "-id")
            .values_list("image_id", "top_label", "top_score", "status")
        )
        latest: dict[uuid.UUID, ImageLabel] = {}
        for image_id, label, score, status in rows:
            if image_id not in latest:
                latest[image_id] = ImageLabel(label=label, score=score, status=status)
        return latest

    def label_counts(self, *, user: Any, limit: int) -> list[tuple[str, int]]:
        rows = (
            JobImage.objects.filter(
                job__owner=user, image__isnull=False, status=ItemStatus.CLASSIFIED
            )
            .values("top_label")
            .annotate(images=Count("image_id", distinct=True))
            .order_by("-images", "top_label")[:limit]
        )
        return [(row["top_label"], row["images"]) for row in rows]
