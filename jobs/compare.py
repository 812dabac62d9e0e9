"""Compare two runs: agreement, a confusion table and the images whose label changed.

Images are matched by image id (the same photo in both jobs); an image deleted since has
no id and is matched by its content hash instead. Labels are what each job reports: the
top label, or "unknown" under that job's threshold; failed and pending rows are left out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from jobs.models import ItemStatus, Job
from jobs.selectors import item_label, job_get

MAX_CHANGES_LISTED = 500


@dataclass(frozen=True)
class Side:
    job: Job
    model: dict[str, Any]  # everything the model version records
    settings: dict[str, Any]


@dataclass(frozen=True)
class ChangedImage:
    image_id: uuid.UUID | None
    filename: str
    label_a: str
    label_b: str
    score_a: float | None
    score_b: float | None


@dataclass
class Comparison:
    a: Side
    b: Side
    overlap: int = 0  # images with a finished result in both jobs
    agree: int = 0
    only_a: int = 0
    only_b: int = 0
    labels_a: list[str] = field(default_factory=list)  # confusion rows
    labels_b: list[str] = field(default_factory=list)  # confusion columns
    confusion: list[list[int]] = field(default_factory=list)
    changed: list[ChangedImage] = field(default_factory=list)
    changed_total: int = 0

    @property
    def agreement(self) -> float | None:
        return self.agree / self.overlap if self.overlap else None

    @property
    def rows(self) -> list[tuple[str, list[int]]]:
        return list(zip(self.labels_a, self.confusion, strict=True))


def _side(job: Job) -> Side:
    version = job.model_version
    model = {
        "name": version.name,
        "kind": version.kind,
        "architecture": version.architecture,
        "weights_sha256": version.weights_sha256,
        "weights_source": version.weights_source,
        "preprocessing": version.preprocessing,
        "prompt_templates": version.prompt_templates,
        "logit_scale": version.logit_scale,
        "config": version.config,
    }
    # Fields newer model versions record (engine, precision) are shown when present.
    for extra in ("engine", "precision"):
        if hasattr(version, extra):
            model[extra] = getattr(version, extra)
    settings = {
        "job_type": job.job_type,
        "labels": list(job.labels),
        "category": job.category.name if job.category else None,
        "top_k": job.top_k,
        "confidence_threshold": job.confidence_threshold,
        "status": job.status,
        "total": job.total,
        "created_at": job.created_at,
    }
    return Side(job=job, model=model, settings=settings)


def _results(job: Job) -> dict[str, tuple[str, str, float | None, uuid.UUID | None]]:
    rows = job.items.filter(status__in=(ItemStatus.CLASSIFIED, ItemStatus.UNKNOWN)).only(
        "image_id", "content_hash", "filename", "status", "top_label", "top_score"
    )
    return {
        (str(item.image_id) if item.image_id else f"sha:{item.content_hash}"): (
            item_label(item),
            item.filename,
            item.top_score,
            item.image_id,
        )
        for item in rows
    }


def jobs_compare(*, user, job_a_id: Any, job_b_id: Any) -> Comparison:
    """Both jobs must be the user's (NotFound otherwise, as for one job)."""
    job_a = job_get(user=user, job_id=job_a_id)
    job_b = job_get(user=user, job_id=job_b_id)
    results_a, results_b = _results(job_a), _results(job_b)
    shared = [key for key in results_a if key in results_b]
    comparison = Comparison(a=_side(job_a), b=_side(job_b))
    comparison.overlap = len(shared)
    comparison.only_a = len(results_a) - len(shared)
    comparison.only_b = len(results_b) - len(shared)
    counts: dict[tuple[str, str], int] = {}
    for key in shared:
        label_a, filename, score_a, image_id = results_a[key]
        label_b, _, score_b, _ = results_b[key]
        counts[(label_a, label_b)] = counts.get((label_a, label_b), 0) + 1
        if label_a == label_b:
            comparison.agree += 1
            continue
        comparison.changed_total += 1
        if len(comparison.changed) < MAX_CHANGES_LISTED:
            comparison.changed.append(
                ChangedImage(image_id, filename, label_a, label_b, score_a, score_b)
            )
    comparison.labels_a = sorted({a for a, _ in counts})
    comparison.labels_b = sorted({b for _, b in counts})
    comparison.confusion = [
        [counts.get((a, b), 0) for b in comparison.labels_b] for a in comparison.labels_a
    ]
    comparison.changed.sort(key=lambda c: (c.label_a, c.label_b, c.filename))
    return comparison
