"""A job's score histogram and why each "unknown" image is unknown."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from jobs.models import ItemStatus, Job

BUCKETS = 20  # 0.05 wide
CHART_WIDTH = 200


@dataclass(frozen=True)
class Bucket:
    low: float
    high: float
    count: int
    below_threshold: bool  # the whole bucket lies under the threshold
    height: int  # 0-100, relative to the fullest bucket (drawn as an SVG bar)
    x: int  # the bar's left edge in the 200 x 100 chart

    @property
    def y(self) -> int:
        return 100 - self.height


@dataclass(frozen=True)
class UnknownReason:
    image_id: uuid.UUID | None
    filename: str
    best_label: str
    best_score: float
    threshold: float

    @property
    def text(self) -> str:
        return f"best was {self.best_score:.2f} ({self.best_label}), below {self.threshold:.2f}"


@dataclass(frozen=True)
class Histogram:
    job: Job
    buckets: list[Bucket]
    threshold: float
    scored: int  # images with a score
    unknown: list[UnknownReason]

    @property
    def threshold_x(self) -> float:
        return round(self.threshold * CHART_WIDTH, 2)


def job_histogram(*, job: Job) -> Histogram:
    """Best-score histogram of the job's finished images (the caller owns the job)."""
    rows = list(
        job.items.filter(status__in=(ItemStatus.CLASSIFIED, ItemStatus.UNKNOWN))
        .order_by("top_score", "position")
        .values_list("image_id", "filename", "status", "top_label", "top_score")
    )
    counts = [0] * BUCKETS
    unknown = []
    for image_id, filename, status, label, score in rows:
        counts[min(int((score or 0.0) * BUCKETS), BUCKETS - 1)] += 1
        if status == ItemStatus.UNKNOWN:
            unknown.append(
                UnknownReason(
                    image_id, filename, label, float(score or 0.0), job.confidence_threshold
                )
            )
    fullest = max(counts) or 1
    buckets = [
        Bucket(
            low=i / BUCKETS,
            high=(i + 1) / BUCKETS,
            count=n,
            below_threshold=(i + 1) / BUCKETS <= job.confidence_threshold,
            height=round(n * 100 / fullest),
            x=i * CHART_WIDTH // BUCKETS,
        )
        for i, n in enumerate(counts)
    ]
    return Histogram(job, buckets, job.confidence_threshold, len(rows), unknown)
