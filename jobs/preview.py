"""Preview before you run: what a job would change, computed from stored vectors.

No forward pass and no worker: the images' stored embeddings (or ImageNet logits) for
the model version are re-scored with the asked labels, top-k and threshold, and each
image's new label is compared with its latest finished result. What is not stored yet
(an image never embedded by this version, a label never encoded) is counted and
requested from a worker, so asking again a moment later gives the full answer.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import numpy as np
from django.db.models import F

from inference import vectors
from inference.models import ModelVersion
from jobs.models import ItemStatus, JobImage, JobType
from jobs.services import JobRequest, JobSpec, _job_spec_validate

# The changed images listed in full (counts always cover every image).
MAX_CHANGES_LISTED = 500


@dataclass(frozen=True)
class PreviewChange:
    image_id: uuid.UUID
    filename: str
    before: str  # latest result's label, "unknown" under its threshold
    after: str
    score: float  # the new best score


@dataclass
class Preview:
    spec: JobSpec
    total: int = 0
    embedded: int = 0  # images with a stored vector for this model version
    missing: int = 0  # images without one (embedded on demand when the job runs)
    labels_pending: list[str] = field(default_factory=list)  # not encoded yet
    changed: int = 0
    unchanged: int = 0
    first_result: int = 0  # embedded images never classified before
    after_counts: dict[str, int] = field(default_factory=dict)  # label -> images
    changes: list[PreviewChange] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def model_version(self) -> ModelVersion:
        return self.spec.model_version

    @property
    def ready(self) -> bool:
        return not self.labels_pending


def latest_labels(*, owner, image_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each image's label in its newest finished result ("unknown" under the threshold).

    A plain ordered read, the newest row last wins: cheaper here than a window function
    (measured at 10 000 images), and the same on SQLite and PostgreSQL.
    """
    rows = (
        JobImage.objects.filter(
            job__owner=owner,
            image_id__in=image_ids,
            status__in=(ItemStatus.CLASSIFIED, ItemStatus.UNKNOWN),
        )
        .order_by(F("completed_at").asc(nulls_first=True), "id")
        .values_list("image_id", "status", "top_label")
    )
    return {
        image_id: ("unknown" if status == ItemStatus.UNKNOWN else label)
        for image_id, status, label in rows
    }


def job_preview(*, owner, request: JobRequest) -> Preview:
    """Validate like a submit (same errors), then score from what is stored."""
    started = time.perf_counter()
    spec = _job_spec_validate(owner=owner, request=request)
    preview = Preview(spec=spec, total=len(spec.images))
    version = spec.model_version
    label_vectors = None
    if spec.job_type == JobType.CUSTOM_CLASSIFICATION:
        label_vectors = vectors.label_vectors_stored(model_version=version, labels=spec.labels)
        preview.labels_pending = [label for label in spec.labels if label not in label_vectors]
        if preview.labels_pending or version.logit_scale is None:
            preview.labels_pending = preview.labels_pending or list(spec.labels)
            vectors.labels_encode_request(model_version=version, labels=preview.labels_pending)
    stored = vectors.image_vectors_stored(
        model_version=version, content_hashes=[i.sha256 for i in spec.images]
    )
    embedded = [image for image in spec.images if image.sha256 in stored]
    preview.embedded, preview.missing = len(embedded), preview.total - len(embedded)
    if not embedded or not preview.ready:
        preview.elapsed_ms = (time.perf_counter() - started) * 1000
        return preview
    scored = vectors.scores_from_vectors(
        model_version=version,
        vectors=np.stack([stored[image.sha256] for image in embedded]),
        label_vectors=label_vectors,
        labels=spec.labels,
        top_k=1,
    )
    before = latest_labels(owner=owner, image_ids=[image.id for image in embedded])
    best_index = scored.indices[:, 0].tolist()
    best_score = scored.scores[:, 0].tolist()
    for image, index, score in zip(embedded, best_index, best_score, strict=True):
        after = scored.labels[index] if score >= spec.confidence_threshold else "unknown"
        preview.after_counts[after] = preview.after_counts.get(after, 0) + 1
        previous = before.get(image.id)
        if previous is None:
            preview.first_result += 1
        elif previous == after:
            preview.unchanged += 1
        else:
            preview.changed += 1
            if len(preview.changes) < MAX_CHANGES_LISTED:
                preview.changes.append(
                    PreviewChange(image.id, image.original_filename, previous, after, score)
                )
    preview.after_counts = dict(sorted(preview.after_counts.items(), key=lambda kv: -kv[1]))
    preview.elapsed_ms = (time.perf_counter() - started) * 1000
    return preview
