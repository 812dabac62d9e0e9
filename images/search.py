"""Search by meaning: rank a user's photos by cosine similarity to a text query.

The web process has no model: the query's text embedding comes from a worker (the
``inference.tasks.query_encode`` actor, on the predict queue) and is cached per model
version and text; photos are ranked over their stored CLIP image embeddings with one
matrix product (brute force: bench/features.py measures where an index would pay off).
Photos without an embedding are embedded by a worker in the background
(``images.tasks.images_embed``); until then they are left out and counted as pending.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from django.core.cache import cache
from django.db import transaction

from classifier_site.core.errors import DomainError
from images.models import Image
from images.selectors import ImageFilters, image_list
from inference import services as inference
from inference import vectors
from inference.models import ModelVersion

MAX_RESULTS = 200
EMBED_BATCH = 100  # images per background message
# A photo asked to be embedded is not asked again for this long (a page polls meanwhile).
EMBED_REQUEST_TTL = 300


@dataclass
class SearchHit:
    image: Image
    score: float  # cosine similarity, -1..1


@dataclass
class SearchResult:
    text: str
    model_version: ModelVersion
    encoding: bool = False  # the query is being encoded by a worker: ask again shortly
    considered: int = 0  # photos matching the other filters
    pending: int = 0  # of those, not embedded yet (requested in the background)
    hits: list[SearchHit] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def ready(self) -> bool:
        return not self.encoding and not self.pending


def rank(matrix: np.ndarray, query: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine scores of the ``limit`` rows most similar to ``query``, best
    first (rows and query are unit vectors; ties keep row order)."""
    scores = matrix @ query.astype(matrix.dtype, copy=False)
    k = min(limit, len(scores))
    if k == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=scores.dtype)
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = np.lexsort((top, -scores[top]))
    return top[order], scores[top[order]]


def images_embed_request(*, model_version: ModelVersion, image_ids: Sequence[uuid.UUID]) -> int:
    """Ask workers to embed these photos (each at most once per EMBED_REQUEST_TTL);
    returns how many were asked for now."""
    from images import tasks  # the actor calls back into images: a cycle, broken here

    fresh = [
        i for i in image_ids if cache.add(f"embed:{model_version.pk}:{i}", 1, EMBED_REQUEST_TTL)
    ]
    for start in range(0, len(fresh), EMBED_BATCH):
        chunk = [str(i) for i in fresh[start : start + EMBED_BATCH]]
        transaction.on_commit(partial(tasks.images_embed.send, model_version.pk, chunk))
    return len(fresh)


def image_search(
    *, user, text: str, filters: ImageFilters | None = None, limit: int = 48
) -> SearchResult:
    started = time.perf_counter()
    query_text = vectors.query_normalise(text)
    if not query_text:
        raise DomainError(
            "Type a few words to search for, e.g. “red cup on a table”.", field="text"
        )
    if not 1 <= limit <= MAX_RESULTS:
        raise DomainError(f"Must be between 1 and {MAX_RESULTS}.", field="limit")
    try:
        version = inference.model_version_active(kind=ModelVersion.Kind.ZERO_SHOT)
    except inference.ModelUnavailable as exc:
        raise DomainError(str(exc), field="text", status_code=503) from None
    result = SearchResult(text=query_text, model_version=version)
    query = vectors.query_vector_stored(model_version=version, text=query_text)
    if query is None:
        result.encoding = True
        vectors.query_encode_request(model_version=version, text=query_text)
    rows = list(image_list(user=user, filters=filters).values_list("id", "sha256"))
    stored = vectors.image_vectors_stored(
        model_version=version, content_hashes=[sha for _, sha in rows]
    )
    result.considered = len(rows)
    missing = [image_id for image_id, sha in rows if sha not in stored]
    result.pending = len(missing)
    if missing:
        images_embed_request(model_version=version, image_ids=missing)
    embedded = [(image_id, sha) for image_id, sha in rows if sha in stored]
    if query is not None and embedded:
        matrix = np.stack([stored[sha] for _, sha in embedded])
        indices, scores = rank(matrix, query, limit)
        ids = [embedded[i][0] for i in indices.tolist()]
        by_id = Image.objects.filter(owner=user).select_related("user_label").in_bulk(ids)
        result.hits = [
            SearchHit(by_id[i], float(s)) for i, s in zip(ids, scores.tolist(), strict=True)
        ]
    result.elapsed_ms = (time.perf_counter() - started) * 1000
    return result


def images_embed(*, model_version: ModelVersion, image_ids: Sequence[str]) -> int:
    """Worker side: embed the photos that still have no vector; returns how many failed."""
    from images.services import image_open
    from inference.types import ImageInput

    images = list(Image.objects.filter(id__in=list(image_ids)))
    stored = vectors.image_vectors_stored(
        model_version=model_version, content_hashes=[i.sha256 for i in images]
    )
    inputs = [
        ImageInput(key=str(image.pk), content_hash=image.sha256, open=partial(image_open, image))
        for image in images
        if image.sha256 not in stored
    ]
    return vectors.images_compute(model_version=model_version, inputs=inputs) if inputs else 0
