"""Inference actors: text encodings the web process asks for (it has no model).

On the predict queue: a person is waiting on the page for these, as for a single-image
prediction, so they must not wait behind bulk jobs.
"""

from __future__ import annotations

import dramatiq

from classifier_site.core.broker import QUEUE_PREDICT
from inference import vectors
from inference.models import ModelVersion


@dramatiq.actor(queue_name=QUEUE_PREDICT, max_retries=2, time_limit=120_000)
def query_encode(model_version_id: int, text: str) -> None:
    version = ModelVersion.objects.filter(pk=model_version_id).first()
    if version is None:
        return
    vectors.query_compute(model_version=version, text=text)


@dramatiq.actor(queue_name=QUEUE_PREDICT, max_retries=2, time_limit=120_000)
def labels_encode(model_version_id: int, labels: list[str]) -> None:
    version = ModelVersion.objects.filter(pk=model_version_id).first()
    if version is None:
        return
    missing = [
        label
        for label in labels
        if label not in vectors.label_vectors_stored(model_version=version, labels=labels)
    ]
    if missing:
        vectors.labels_compute(model_version=version, labels=missing)
