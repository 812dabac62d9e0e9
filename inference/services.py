"""Inference services: model versions and classification.

    classify(model_version=..., inputs=[ImageInput...], labels=None|[...], top_k=5)
        -> Iterator[list[ImageOutcome]]  (one list per batch, in input order)

A corrupt image yields an outcome with ``error`` set; it never raises for one image.
Torch is imported only when a forward pass is needed (inference.backends, worker side).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction

from inference import registry, vectors
from inference.errors import ModelUnavailable, WeightsMissing
from inference.labels import labels_clean
from inference.models import ImageEmbedding, ModelAvailability, ModelVersion, TextEmbedding
from inference.prompts import template_set_key
from inference.types import ImageInput, ImageOutcome, Prediction

if TYPE_CHECKING:
    import numpy as np

    from inference.backends.base import Backend

__all__ = [
    "ModelUnavailable",
    "WeightsMissing",
    "classify",
    "model_availability_report",
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


def model_availability_report(*, worker: str | None = None) -> list[ModelAvailability]:
    """Worker side, at start: load every known model (weights verified, engine built) and
    record in the database which ones this worker can run, and why not for the others.

    The web process offers and accepts only versions some worker reported ready. The
    reason for a failure (it may name server paths and the command to fix it) is kept for
    staff and logged once per model; users see a plain message.
    """
    worker = worker or socket.gethostname()
    model_versions_refresh()
    reports = []
    for spec in registry.specs_all():
        version = model_version_upsert(spec=spec, activate=False)
        engine, precision, reason = "", "", ""
        try:
            backend = registry.backend_get(model_version=version)
            _version_sync(version, backend)
            engine, precision = backend.engine, backend.precision
        except ModelUnavailable as exc:
            reason = str(exc)
            logger.warning("Model %s is not available on %s: %s", spec.name, worker, reason)
        report, _ = ModelAvailability.objects.update_or_create(
            model_version=version,
            worker=worker,
            defaults={
                "ready": not reason,
                "reason": reason,
                "engine": engine,
                "precision": precision,
            },
        )
        reports.append(report)
    return reports


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
    old_decode = (model_version.preprocessing or {}).get("decode")
    new_decode = backend.preprocessing.get("decode")
    if (model_version.precision and model_version.precision != backend.precision) or (
        old_decode and old_decode != new_decode
    ):
        # int8 and fp32 (or draft and exact decoding) give slightly different vectors: a
        # stored one must come from the configuration the version records.
        logger.warning(
            "%s now runs %s with %s decoding (was %s, %s): discarding its stored image embeddings.",
            model_version.name,
            backend.precision,
            new_decode,
            model_version.precision,
            old_decode,
        )
        ImageEmbedding.objects.filter(model_version=model_version).delete()
    for name in ("engine", "precision", "weights_verified", "int8_gate"):
        if getattr(model_version, name) != getattr(backend, name):
            updates[name] = getattr(backend, name)
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
            try:
                self._backend = registry.backend_get(model_version=self.model_version)
            except ModelUnavailable as exc:
                # Availability changed under this worker (weights removed or replaced):
                # say so, so the web stops accepting jobs for it if no worker can run it.
                ModelAvailability.objects.update_or_create(
                    model_version=self.model_version,
                    worker=socket.gethostname(),
                    defaults={"ready": False, "reason": str(exc), "engine": "", "precision": ""},
                )
                raise
            _version_sync(self.model_version, self._backend)
        return self._backend


def _text_matrix(engine: _Engine, labels: list[str], *, templates: str) -> np.ndarray:
    import numpy as np

    version = engine.model_version
    key = template_set_key(templates)
    stored = {
        label: _from_bytes(vector)
        for label, vector in TextEmbedding.objects.filter(
            model_version=version, template_set=key, label__in=labels
        ).values_list("label", "vector")
    }
    missing = [label for label in labels if label not in stored]
    if missing:
        computed = engine.backend.embed_texts(missing, templates=templates)
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


# --- classification --------------------------------------------------------------------
def _chunks(items: Sequence[ImageInput], size: int) -> Iterator[Sequence[ImageInput]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _preprocess_one(backend: Backend, item: ImageInput) -> _Decoded:
    started = time.perf_counter()
    try:
        with item.open() as fh:
            array = backend.preprocess(fh)
        return _Decoded(array=array, error=None, ms=(time.perf_counter() - started) * 1000)
    except Exception as exc:  # noqa: BLE001 - any undecodable input is this image's error
        message = f"Could not read the image: {exc}" if str(exc) else "Could not read the image."
        return _Decoded(array=None, error=message, ms=(time.perf_counter() - started) * 1000)


def classify(
    *,
    model_version: ModelVersion,
    inputs: Sequence[ImageInput],
    labels: Sequence[str] | None,
    top_k: int,
    batch_size: int | None = None,
    template_set: str | None = None,
) -> Iterator[list[ImageOutcome]]:
    """Classify images in batches; yields one list of outcomes per batch, in input order.

    Stored vectors (per content hash and version) are reused without a forward pass; new
    ones are stored. Decoding/preprocessing of the next batch runs in background threads
    while the current batch goes through the model. ``labels`` is required for zero-shot
    and ignored for ImageNet. ``template_set`` (zero-shot) is a CLIP_TEMPLATES value (a set
    name such as "simple_imagenet", or "|"-separated templates); None uses the version's.
    Scores are softmax probabilities (over the 1000 classes, or over the labels with CLIP's
    logit scale), best first, ``top_k`` of them at most.
    """
    if not 1 <= top_k <= MAX_TOP_K:
        raise ValueError(f"top_k must be between 1 and {MAX_TOP_K}.")
    if batch_size is not None and batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    zero_shot = model_version.kind == ModelVersion.Kind.ZERO_SHOT
    clean_labels: list[str] = []
    if zero_shot:
        if labels is None:
            raise ValueError("Zero-shot classification needs labels.")
        clean_labels = labels_clean(labels)
        templates = template_set or model_version.prompt_templates or settings.CLIP_TEMPLATES
        template_set_key(templates)  # a malformed set fails here, before any work
    inputs = list(inputs)
    if not inputs:
        return
    tuning = registry.spec_build(
        architecture=model_version.architecture, config=model_version.config
    ).tuning.resolved()
    engine = _Engine(model_version)
    executor = ThreadPoolExecutor(
        max_workers=tuning.decode_threads, thread_name_prefix="inference-decode"
    )
    run = _Run(
        engine=engine, executor=executor, inputs=inputs, size=batch_size or tuning.batch_size
    )
    scorer: _Scorer | None = None
    try:
        batches = list(_chunks(inputs, run.size))
        plan = run.plan(batches[0], 0)
        for index in range(len(batches)):
            current = plan
            if index + 1 < len(batches):
                # Queue the next batch's decoding now, so it overlaps this batch's forward pass.
                plan = run.plan(batches[index + 1], (index + 1) * run.size)
            forwarded = run.forward(current)
            if scorer is None:
                scorer = _scorer_build(
                    engine,
                    labels=clean_labels,
                    zero_shot=zero_shot,
                    top_k=top_k,
                    templates=templates if zero_shot else "",
                )
            yield run.outcomes(current, forwarded, scorer)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class _Decoded:
    """One image decoded and preprocessed in a decode thread (or the reason it could not be)."""

    array: Any  # float32 (3, H, W), None on error
    error: str | None
    ms: float


@dataclass(frozen=True)
class _BatchPlan:
    items: Sequence[ImageInput]
    decoding: dict[str, Future[_Decoded]]  # content hash -> its decode, for uncached images


@dataclass(frozen=True)
class _Forwarded:
    """What a batch's forward pass produced: time per image (decode + forward, ms)."""

    per_image_ms: dict[str, float]
    cached: frozenset[str]  # content hashes whose stored vector was reused


@dataclass(frozen=True)
class _Scorer:
    """Turns vectors into predictions: ImageNet logits, or CLIP embeddings vs label text."""

    text: Any  # (labels, dim) normalised text embeddings, None for ImageNet
    names: Sequence[str]
    scale: float
    k: int

    def predictions(self, vectors: np.ndarray) -> list[list[Prediction]]:
        return _predictions(vectors, text=self.text, names=self.names, scale=self.scale, k=self.k)


def _scorer_build(
    engine: _Engine, *, labels: list[str], zero_shot: bool, top_k: int, templates: str
) -> _Scorer:
    if not zero_shot:
        # One source for the class names (a data file, read once per process): looking
        # them up through torchvision for every shard cost ~0.14 s each.
        names = vectors.imagenet_class_names()
        return _Scorer(text=None, names=names, scale=1.0, k=min(top_k, len(names)))
    text = _text_matrix(engine, labels, templates=templates)
    if engine.model_version.logit_scale is None:
        engine.backend  # noqa: B018 - loading records the version's logit scale
    scale = float(engine.model_version.logit_scale or 1.0)
    return _Scorer(text=text, names=labels, scale=scale, k=min(top_k, len(labels)))


@dataclass
class _Run:
    """One classify call's state across batches: stored vectors seen, per-image errors."""

    engine: _Engine
    executor: ThreadPoolExecutor
    inputs: list[ImageInput]
    size: int
    known: dict[str, Any] = field(default_factory=dict)  # content hash -> vector
    errors: dict[str, _Decoded] = field(default_factory=dict)
    window_end: int = 0

    def plan(self, items: Sequence[ImageInput], start: int) -> _BatchPlan:
        """Look up stored vectors (a window at a time), start decoding the rest."""
        if start >= self.window_end:
            window = self.inputs[start : start + max(self.size, LOOKUP_WINDOW)]
            version = self.engine.model_version
            self.known.update(_image_vectors_stored(version, {i.content_hash for i in window}))
            self.window_end = start + len(window)
        todo: dict[str, ImageInput] = {}
        for item in items:
            if item.content_hash not in self.known and item.content_hash not in self.errors:
                todo.setdefault(item.content_hash, item)
        decoding = {
            content_hash: self.executor.submit(_preprocess_one, self.engine.backend, item)
            for content_hash, item in todo.items()
        }
        return _BatchPlan(items=items, decoding=decoding)

    def forward(self, plan: _BatchPlan) -> _Forwarded:
        """Wait for the batch's decodes, run the model on the good ones, store the vectors."""
        import numpy as np

        cached = frozenset({i.content_hash for i in plan.items} - set(plan.decoding))
        per_image_ms: dict[str, float] = {}
        arrays: list[Any] = []
        hashes: list[str] = []
        for content_hash, future in plan.decoding.items():
            decoded = future.result()
            if decoded.error is not None:
                self.errors[content_hash] = decoded
            else:
                arrays.append(decoded.array)
                hashes.append(content_hash)
                per_image_ms[content_hash] = decoded.ms
        if arrays:
            started = time.perf_counter()
            vectors = self.engine.backend.embed_images(np.stack(arrays))
            forward_ms = (time.perf_counter() - started) * 1000 / len(arrays)
            new = dict(zip(hashes, vectors, strict=True))
            _image_vectors_store(self.engine.model_version, new)
            self.known.update(new)
            for content_hash in hashes:
                per_image_ms[content_hash] += forward_ms
        return _Forwarded(per_image_ms=per_image_ms, cached=cached)

    def outcomes(
        self, plan: _BatchPlan, forwarded: _Forwarded, scorer: _Scorer
    ) -> list[ImageOutcome]:
        """Predictions for every item of the batch, in order (errors as outcomes)."""
        import numpy as np

        started = time.perf_counter()
        good = [i for i in plan.items if i.content_hash in self.known]
        predictions = (
            scorer.predictions(np.stack([self.known[i.content_hash] for i in good])) if good else []
        )
        scoring_ms = (time.perf_counter() - started) * 1000 / max(1, len(good))
        by_key = {item.key: p for item, p in zip(good, predictions, strict=True)}
        outcomes = []
        for item in plan.items:
            failed = self.errors.get(item.content_hash)
            if failed is not None:
                outcomes.append(
                    ImageOutcome(key=item.key, error=failed.error, elapsed_ms=failed.ms)
                )
                continue
            outcomes.append(
                ImageOutcome(
                    key=item.key,
                    predictions=by_key[item.key],
                    elapsed_ms=forwarded.per_image_ms.get(item.content_hash, 0.0) + scoring_ms,
                    from_cache=item.content_hash in forwarded.cached,
                )
            )
        return outcomes
