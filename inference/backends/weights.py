"""Finding or fetching weight files (worker side). Fails within seconds when offline."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings

from inference.errors import WeightsMissing
from inference.registry import ModelSpec, WeightsCheck, clip_cache_dir, weights_verify

logger = logging.getLogger(__name__)


def _reachable(host: str) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=settings.WEIGHTS_DOWNLOAD_TIMEOUT):
            return True
    except OSError:
        return False


def _unreachable(spec: ModelSpec, host: str) -> WeightsMissing:
    return WeightsMissing(
        f"Could not reach {host} within {settings.WEIGHTS_DOWNLOAD_TIMEOUT:g} s to download "
        f"weights for {spec.name}. Put {spec.expected_file.name} ({spec.how_to_get}) at "
        f"{spec.expected_file} (WEIGHTS_DIR={settings.WEIGHTS_DIR})."
    )


def _download_url(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(  # noqa: S310 - https only
                url, timeout=settings.WEIGHTS_DOWNLOAD_TIMEOUT
            ) as response,
        ):
            while chunk := response.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, target)  # atomic: a reader never sees half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _download_clip(spec: ModelSpec) -> Path:
    import open_clip
    from huggingface_hub import hf_hub_download

    model_name, pretrained = spec.config["model_name"], spec.config["pretrained"]
    cfg = open_clip.get_pretrained_cfg(model_name, pretrained) or {}
    if not cfg.get("hf_hub"):
        raise WeightsMissing(
            f"open_clip knows no pretrained tag {pretrained!r} for {model_name} on the "
            f"Hugging Face hub. Put the weights file at {spec.expected_file}."
        )
    if not _reachable("huggingface.co"):
        raise _unreachable(spec, "huggingface.co")
    repo = cfg["hf_hub"].rstrip("/")
    target_dir = clip_cache_dir(model_name, pretrained)
    last_error: Exception | None = None
    for filename in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
        try:
            return Path(hf_hub_download(repo, filename, local_dir=target_dir))
        except Exception as exc:  # noqa: BLE001 - try the other file name, then report
            last_error = exc
    raise WeightsMissing(
        f"Downloading {spec.name} from https://huggingface.co/{repo} failed ({last_error}). "
        f"Put the weights file at {spec.expected_file}."
    )


def weights_fetch(spec: ModelSpec) -> Path:
    """The weights file for a spec: present locally, or downloaded now when allowed."""
    path = spec.weights_file()
    if path is not None:
        return path
    if not spec.can_download():
        raise WeightsMissing(spec.missing_message())
    if spec.download_source.startswith("hf-hub:"):
        return _download_clip(spec)
    host = urlparse(spec.download_source).hostname or ""
    if not _reachable(host):
        raise _unreachable(spec, host)
    target = next(p for p in spec.candidates if Path(settings.MODEL_CACHE_DIR) in p.parents)
    logger.info("Downloading %s to %s", spec.download_source, target)
    try:
        _download_url(spec.download_source, target)
    except OSError as exc:
        raise WeightsMissing(
            f"Downloading {spec.download_source} failed ({exc}). "
            f"Put {spec.expected_file.name} at {spec.expected_file}."
        ) from exc
    return target


def weights_load_path(spec: ModelSpec) -> tuple[Path, WeightsCheck]:
    """The weights file to load, verified against its published or registered hash."""
    path = weights_fetch(spec)
    return path, weights_verify(spec, path)
