"""Stored vectors as numpy arrays, and scores computed from them (no torch here).

The web process re-scores, previews and searches from what workers stored: image
embeddings (per content hash and version), label text embeddings (per template set) and
search-query embeddings. What is missing is computed by a worker (``inference.tasks``);
the ``*_compute`` functions below are what those actors call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from django.conf import settings

from inference.backends.scoring import scores_top_k
from inference.models import ImageEmbedding, ModelVersion, QueryEmbedding, TextEmbedding
from inference.prompts import template_set_key
from inference.types import ImageInput

MAX_QUERY_LENGTH = 300
# Stored vectors are read this many content hashes per query (bounded IN lists).
READ_WINDOW = 5000


@cache
def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet class names in logit order (a data file: no torchvision here)."""
    path = Path(__file__).with_name("data") / "imagenet_classes.json"
    return list(json.loads(path.read_text()))


def _from_bytes(raw: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4")


def image_vectors_stored(
    *, model_version: ModelVersion, content_hashes: Collection[str]
) -> dict[str, np.ndarray]:
    """The stored vector of each content hash that has one (others are absent)."""
    hashes = list(dict.fromkeys(content_hashes))
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(hashes), READ_WINDOW):
        rows = ImageEmbedding.objects.filter(
            model_version=model_version, content_hash__in=hashes[start : start + READ_WINDOW]
        ).values_list("content_hash", "vector")
        found.update((h, _from_bytes(v)) for h, v in rows)
    return found


def template_set(model_version: ModelVersion) -> str:
    return template_set_key(model_version.prompt_templates or settings.CLIP_TEMPLATES)


def label_vectors_stored(
    *, model_version: ModelVersion, labels: Sequence[str]
) -> dict[str, np.ndarray]:
    """The stored prompt-ensemble embedding of each label that has one."""
    rows = TextEmbedding.objects.filter(
        model_version=model_version, template_set=template_set(model_version), label__in=labels
    ).values_list("label", "vector")
    return {label: _from_bytes(v) for label, v in rows}


def query_normalise(text: str) -> str:
    return " ".join(str(text).split())[:MAX_QUERY_LENGTH]


def _query_key(text: str) -> str:
    return hashlib.sha256(query_normalise(text).casefold().encode()).hexdigest()


def query_vector_stored(*, model_version: ModelVersion, text: str) -> np.ndarray | None:
    raw = (
        QueryEmbedding.objects.filter(model_version=model_version, text_sha256=_query_key(text))
        .values_list("vector", flat=True)
        .first()
    )
    return None if raw is None else _from_bytes(raw)


@dataclass(frozen=True)
class Scored:
    labels: list[str]  # the class names the indices point into
    indices: np.ndarray  # (N, k) best first
    scores: np.ndarray  # (N, k) probabilities


def scores_from_vectors(
    *,
    model_version: ModelVersion,
    vectors: np.ndarray,
    label_vectors: dict[str, np.ndarray] | None,
    labels: Sequence[str],
    top_k: int,
) -> Scored:
    """What ``classify`` would report for these stored vectors, without a model.

    ImageNet: softmax over the stored logits. Zero-shot: softmax(scale · image · textᵀ)
    over ``labels``, whose vectors must all be in ``label_vectors``.
    """
    if model_version.kind == ModelVersion.Kind.IMAGENET:
        names = imagenet_class_names()
        indices, scores = scores_top_k(vectors, text=None, scale=1.0, k=min(top_k, len(names)))
        return Scored(names, indices, scores)
    assert label_vectors is not None
    text = np.stack([label_vectors[label] for label in labels])
    scale = float(model_version.logit_scale or 1.0)
    indices, scores = scores_top_k(vectors, text=text, scale=scale, k=min(top_k, len(labels)))
    return Scored(list(labels), indices, scores)


# --- worker side: compute what is missing ------------------------------------------------
def labels_compute(*, model_version: ModelVersion, labels: Sequence[str]) -> None:
    """Encode and store the labels' prompt-ensemble embeddings (loads the model)."""
    from inference.services import _Engine, _text_matrix

    _text_matrix(_Engine(model_version), list(labels))


def query_compute(*, model_version: ModelVersion, text: str) -> np.ndarray:
    """Encode a search query with the text tower (the words as given: template "{}")."""
    from inference import registry
    from inference.services import _to_bytes, _version_sync

    stored = query_vector_stored(model_version=model_version, text=text)
    if stored is not None:
        return stored
    backend = registry.backend_get(model_version=model_version)
    _version_sync(model_version, backend)
    vector = backend.embed_texts([query_normalise(text)], templates="{}")[0]
    QueryEmbedding.objects.bulk_create(
        [
            QueryEmbedding(
                model_version=model_version,
                text_sha256=_query_key(text),
                text=query_normalise(text),
                dim=len(vector),
                vector=_to_bytes(vector),
            )
        ],
        ignore_conflicts=True,  # the same query encoded by two workers: the same vector
    )
    return vector


def images_compute(*, model_version: ModelVersion, inputs: Sequence[ImageInput]) -> int:
    """Embed and store images that have no vector yet; returns how many failed to decode.

    Runs the classify pipeline (which stores every vector it computes) and drops the
    scores: one code path for decoding, batching and storing.
    """
    from inference.services import classify

    labels = None if model_version.kind == ModelVersion.Kind.IMAGENET else ["photo"]
    failed = 0
    for outcomes in classify(model_version=model_version, inputs=inputs, labels=labels, top_k=1):
        failed += sum(1 for o in outcomes if o.error)
    return failed


# --- requests to the worker (web side) ---------------------------------------------------
def query_encode_request(*, model_version: ModelVersion, text: str) -> None:
    """Ask a worker to encode a query (on commit; a duplicate request is harmless)."""
    from django.db import transaction

    from inference import tasks  # the actors call this module: a cycle, broken here

    transaction.on_commit(lambda: tasks.query_encode.send(model_version.pk, query_normalise(text)))


def labels_encode_request(*, model_version: ModelVersion, labels: Sequence[str]) -> None:
    from django.db import transaction

    from inference import tasks

    transaction.on_commit(lambda: tasks.labels_encode.send(model_version.pk, list(labels)))
