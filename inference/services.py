"""Inference services: model versions and classification.

    classify(model_version=..., inputs=[ImageInput...], labels=None|[...], top_k=5)
        -> Iterator[list[ImageOutcome]]  (one list per batch, in input order)

A corrupt image yields an outcome with ``error`` set; it never raises for one image.
Torch is imported only when a forward pass is needed (inference.backends, worker side).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction

from inference import registry
from inference.errors import ModelUnavailable, WeightsMissing
from inference.labels import labels_clean
from inference.models import ImageEmbedding, ModelVersion, TextEmbedding
from inference.prompts import template_set_key
from inference.types import ImageInput, ImageOutcome, Prediction

if TYPE_CHECKING:
    import numpy as np

    from inference.backends.base import Backend

__all__ = [
    "ModelUnavailable",
    "WeightsMissing",
    "classify",
    "model_version_activate",
    "model_version_active",
    "model_version_upsert",
    "model_versions_refresh",
]

logger = logging.getLogger(__name__)

# Stored vectors are looked up this many images at a time (one query), whatever the
# forward batch size, so re-classifying 10 000 embedded images takes ten queries.
LOOKUP_WINDOW = 1000
MAX_TOP_K = 1000


# --- model versions --------------------------------------------------------------------
def model_version_upsert(*, spec: registry.ModelSpec, activate: bool) -> ModelVersion:
    """Create or refresh the row for a spec; optionally make it its kind's active version."""
    fields: dict[str, Any] = {
        "kind": spec.kind,
        "architecture": spec.architecture,
        "config": spec.config,
        "weights_source": spec.weights_source(),
        "preprocessing": spec.preprocessing,
        "prompt_templates": spec.prompt_templates,
    }
    try:
        version, created = ModelVersion.objects.get_or_create(name=spec.name, defaults=fields)
    except IntegrityError:  # another process created it a moment ago
        version, created = ModelVersion.objects.get(name=spec.name), False
    changed = [] if created else [k for k, v in fields.items() if getattr(version, k) != v]
    # The worker may already have recorded the real preprocessing (from the model itself).
    if "preprocessing" in changed and version.weights_sha256:
        changed.remove("preprocessing")
    for name in changed:
        setattr(version, name, fields[name])
    path = spec.weights_file()
    if not version.weights_sha256 and path is not None:
        version.weights_sha256 = registry.file_sha256(path)
        changed.append("weights_sha256")
    if changed:
        version.save(update_fields=[*changed, "updated_at"])
    if activate and not version.is_active:
        model_version_activate(model_version=version)
    return version


def model_version_activate(*, model_version: ModelVersion) -> ModelVersion:
    """Make this version the active one of its kind (the previous one is deactivated)."""
    try:
        with transaction.atomic():
            ModelVersion.objects.filter(kind=model_version.kind, is_active=True).exclude(
                pk=model_version.pk
            ).update(is_active=False)
            ModelVersion.objects.filter(pk=model_version.pk).update(is_active=True)
    except IntegrityError:  # a concurrent activation of the same kind won the race
        pass
    model_version.refresh_from_db()
    return model_version


def model_version_active(*, kind: str) -> ModelVersion:
    """The version of ``kind`` that new work should use, its row created/refreshed from
    settings. No torch: availability means the weights file is on disk here, or (when no
    candidate's file is) that downloads are allowed.

    ImageNet prefers IMAGENET_MODEL, then IMAGENET_FALLBACK_MODEL (EfficientNet-Lite0, whose
    weights ship with the worker), so an offline install still classifies real photos.
    Raises WeightsMissing (a ModelUnavailable) naming the file to provide.
    """
    specs = registry.specs_for_kind(kind)
    chosen = next((s for s in specs if s.weights_file() is not None), None)
    if chosen is None:
        chosen = next((s for s in specs if s.can_download()), None)
    if chosen is None:
        raise WeightsMissing(specs[0].missing_message())
    return model_version_upsert(spec=chosen, activate=True)


def model_versions_refresh() -> list[ModelVersion]:
    """Create/refresh a row for every known model and activate each kind's choice."""
    versions = [model_version_upsert(spec=s, activate=False) for s in registry.specs_all()]
    for kind in ModelVersion.Kind.values:
        try:
            model_version_active(kind=kind)
        except ModelUnavailable as exc:
            logger.warning("%s", exc)
    for version in versions:
        version.refresh_from_db()
    return versions


def _version_sync(model_version: ModelVersion, backend: Backend) -> None:
    """Record what the worker actually loaded; drop vectors made by other weights."""
    updates: dict[str, Any] = {}
    if model_version.weights_sha256 != backend.weights_sha256:
        if model_version.weights_sha256:
            logger.warning(
                "Weights of %s changed (sha256 %s -> %s): discarding its stored embeddings.",
                model_version.name,
                model_version.weights_sha256[:12],
                backend.weights_sha256[:12],
            )
            ImageEmbedding.objects.filter(model_version=model_version).delete()
            TextEmbedding.objects.filter(model_version=model_version).delete()
        updates["weights_sha256"] = backend.weights_sha256
    if model_version.preprocessing != backend.preprocessing:
        updates["preprocessing"] = backend.preprocessing
    if model_version.logit_scale != backend.logit_scale:
        updates["logit_scale"] = backend.logit_scale
    if updates:
        ModelVersion.objects.filter(pk=model_version.pk).update(**updates)
        for name, value in updates.items():
            setattr(model_version, name, value)


# --- vectors ---------------------------------------------------------------------------
def _to_bytes(vector: np.ndarray) -> bytes:
    return vector.astype("<f4", copy=False).tobytes()


def _from_bytes(raw: bytes | memoryview) -> np.ndarray:
    import numpy as np

    return np.frombuffer(raw, dtype="<f4")


def _image_vectors_stored(model_version: ModelVersion, hashes: set[str]) -> dict[str, Any]:
    rows = ImageEmbedding.objects.filter(
        model_version=model_version, content_hash__in=hashes
    ).values_list("content_hash", "vector")
    return {content_hash: _from_bytes(vector) for content_hash, vector in rows}


def _image_vectors_store(model_version: ModelVersion, vectors: dict[str, Any]) -> None:
    ImageEmbedding.objects.bulk_create(
        [
            ImageEmbedding(
                content_hash=h, model_version=model_version, dim=len(v), vector=_to_bytes(v)
            )
            for h, v in vectors.items()
        ],
        ignore_conflicts=True,  # a concurrent worker embedded the same bytes: same vector
    )


class _Engine:
    """The model for one classify call, loaded only when a vector must be computed."""

    def __init__(self, model_version: ModelVersion) -> None:
        self.model_version = model_version
        self._backend: Backend | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = registry.backend_get(model_version=self.model_version)
            _version_sync(self.model_version, self._backend)
        return self._backend


def _text_matrix(engine: _Engine, labels: list[str]) -> np.ndarray:
    import numpy as np

    version = engine.model_version
    key = template_set_key(version.prompt_templates or settings.CLIP_TEMPLATES)
    stored = {
        label: _from_bytes(vector)
        for label, vector in TextEmbedding.objects.filter(
            model_version=version, template_set=key, label__in=labels
        ).values_list("label", "vector")
    }
    missing = [label for label in labels if label not in stored]
    if missing:
        computed = engine.backend.embed_texts(
            missing, templates=version.prompt_templates or settings.CLIP_TEMPLATES
        )
        TextEmbedding.objects.bulk_create(
            [
                TextEmbedding(
                    model_version=version,
                    label=label,
                    template_set=key,
                    dim=len(vector),
                    vector=_to_bytes(vector),
                )
                for label, vector in zip(missing, computed, strict=True)
            ],
            ignore_conflicts=True,
        )
        stored.update(zip(missing, computed, strict=True))
    return np.stack([stored[label] for label in labels])


def _predictions(
    vectors: np.ndarray, *, text: np.ndarray | None, names: Sequence[str], scale: float, k: int
) -> list[list[Prediction]]:
    from inference.backends.scoring import scores_top_k

    indices, scores = scores_top_k(vectors, text=text, scale=scale, k=k)
    return [
        [Prediction(label=names[i], score=float(s)) for i, s in zip(row_i, row_s, strict=True)]
        for row_i, row_s in zip(indices.tolist(), scores.tolist(), strict=True)
    ]


def _imagenet_names() -> list[str]:
    from inference.backends.imagenet import imagenet_class_names

    return imagenet_class_names()


# --- classification --------------------------------------------------------------------
def _chunks(items: Sequence[ImageInput], size: int) -> Iterator[Sequence[ImageInput]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _preprocess_one(backend: Backend, item: ImageInput) -> tuple[Any, str | None, float]:
    started = time.perf_counter()
    try:
        with item.open() as fh:
            array = backend.preprocess(fh)
        return array, None, (time.perf_counter() - started) * 1000
    except Exception as exc:  # noqa: BLE001 - any undecodable input is this image's error
        message = f"Could not read the image: {exc}" if str(exc) else "Could not read the image."
        return None, message, (time.perf_counter() - started) * 1000


def classify(
    *,
    model_version: ModelVersion,
    inputs: Sequence[ImageInput],
    labels: Sequence[str] | None,
    top_k: int,
    batch_size: int | None = None,
) -> Iterator[list[ImageOutcome]]:
    """Classify images in batches; yields one list of outcomes per batch, in input order.

    Stored vectors (per content hash and version) are reused without a forward pass; new
    ones are stored. Decoding/preprocessing of the next batch runs in background threads
    while the current batch goes through the model. ``labels`` is required for zero-shot
    and ignored for ImageNet. Scores are softmax probabilities (over the 1000 classes, or
    over the labels with CLIP's logit scale), best first, ``top_k`` of them at most.
    """
    if not 1 <= top_k <= MAX_TOP_K:
        raise ValueError(f"top_k must be between 1 and {MAX_TOP_K}.")
    size = batch_size or settings.INFERENCE_BATCH_SIZE
    if size < 1:
        raise ValueError("batch_size must be at least 1.")
    zero_shot = model_version.kind == ModelVersion.Kind.ZERO_SHOT
    clean_labels: list[str] = []
    if zero_shot:
        if labels is None:
            raise ValueError("Zero-shot classification needs labels.")
        clean_labels = labels_clean(labels)
    inputs = list(inputs)
    if not inputs:
        return
    engine = _Engine(model_version)
    executor = ThreadPoolExecutor(
        max_workers=settings.INFERENCE_DECODE_THREADS, thread_name_prefix="inference-decode"
    )
    try:
        yield from _classify_batches(
            engine,
            executor,
            inputs,
            labels=clean_labels,
            zero_shot=zero_shot,
            top_k=top_k,
            size=size,
        )
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _classify_batches(
    engine: _Engine,
    executor: ThreadPoolExecutor,
    inputs: list[ImageInput],
    *,
    labels: list[str],
    zero_shot: bool,
    top_k: int,
    size: int,
) -> Iterator[list[ImageOutcome]]:
    import numpy as np

    version = engine.model_version
    known: dict[str, Any] = {}  # content hash -> vector, for this call
    errors: dict[str, tuple[str, float]] = {}
    window_end = 0
    text: np.ndarray | None = None
    names: Sequence[str] = labels if zero_shot else _imagenet_names()
    scale = 1.0

    def plan(batch: Sequence[ImageInput], start: int) -> tuple:
        """Main thread: look up stored vectors (a window at a time), start decoding the rest."""
        nonlocal window_end
        if start >= window_end:
            window = inputs[start : start + max(size, LOOKUP_WINDOW)]
            known.update(_image_vectors_stored(version, {i.content_hash for i in window}))
            window_end = start + len(window)
        todo: dict[str, ImageInput] = {}
        for item in batch:
            if item.content_hash not in known and item.content_hash not in errors:
                todo.setdefault(item.content_hash, item)
        futures: dict[str, Future] = {
            h: executor.submit(_preprocess_one, engine.backend, item) for h, item in todo.items()
        }
        return batch, futures

    batches = list(_chunks(inputs, size))
    current = plan(batches[0], 0)
    for index in range(len(batches)):
        batch, futures = current
        if index + 1 < len(batches):
            # Queue the next batch's decoding now, so it overlaps this batch's forward pass.
            current = plan(batches[index + 1], (index + 1) * size)
        cached_hashes = {i.content_hash for i in batch} - set(futures)
        per_image_ms: dict[str, float] = {}
        if futures:
            arrays: list[Any] = []
            hashes: list[str] = []
            for content_hash, future in futures.items():
                array, error, decode_ms = future.result()
                if error is not None:
                    errors[content_hash] = (error, decode_ms)
                else:
                    arrays.append(array)
                    hashes.append(content_hash)
                    per_image_ms[content_hash] = decode_ms
            if arrays:
                started = time.perf_counter()
                vectors = engine.backend.embed_images(np.stack(arrays))
                forward_ms = (time.perf_counter() - started) * 1000 / len(arrays)
                new = dict(zip(hashes, vectors, strict=True))
                _image_vectors_store(version, new)
                known.update(new)
                for content_hash in hashes:
                    per_image_ms[content_hash] += forward_ms
        if zero_shot and text is None:
            text = _text_matrix(engine, labels)
            if version.logit_scale is None:
                engine.backend  # noqa: B018 - loading records the version's logit scale
            scale = float(version.logit_scale or 1.0)
        scoring_started = time.perf_counter()
        good = [i for i in batch if i.content_hash in known]
        predictions = (
            _predictions(
                np.stack([known[i.content_hash] for i in good]),
                text=text,
                names=names,
                scale=scale,
                k=min(top_k, len(names)),
            )
            if good
            else []
        )
        scoring_ms = (time.perf_counter() - scoring_started) * 1000 / max(1, len(good))
        by_key = {item.key: p for item, p in zip(good, predictions, strict=True)}
        outcomes = []
        for item in batch:
            if item.content_hash in errors:
                error, decode_ms = errors[item.content_hash]
                outcomes.append(ImageOutcome(key=item.key, error=error, elapsed_ms=decode_ms))
                continue
            outcomes.append(
                ImageOutcome(
                    key=item.key,
                    predictions=by_key[item.key],
                    elapsed_ms=per_image_ms.get(item.content_hash, 0.0) + scoring_ms,
                    from_cache=item.content_hash in cached_hashes,
                )
            )
        yield outcomes
