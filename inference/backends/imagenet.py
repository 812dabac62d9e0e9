"""ImageNet classifiers: torchvision MobileNetV2 and EfficientNet-Lite0 (timm)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from django.conf import settings

from inference.backends.common import torch_setup
from inference.backends.engines import Runner, runner_build
from inference.backends.preprocess import preprocess_image
from inference.backends.weights import weights_load_path
from inference.registry import ModelSpec, WeightsCheck, engine_cache_dir


def imagenet_class_names() -> list[str]:
    # The same 1000 names torchvision ships, kept as data so the web side has them too.
    from inference.vectors import imagenet_class_names as names

    return list(names())


def mobilenet_v2_build(state_dict: dict[str, torch.Tensor]) -> torch.nn.Module:
    from torchvision.models import mobilenet_v2

    model = mobilenet_v2(weights=None)
    model.load_state_dict(state_dict)
    return model


def efficientnet_lite0_build(state_dict: dict[str, torch.Tensor]) -> torch.nn.Module:
    """timm's tf_efficientnet_lite0 (TF "same" padding) from the lukemelas-style checkpoint.

    Both state dicts list the same tensors in the same order under different names
    (``_blocks.0._depthwise_conv`` vs ``blocks.0.0.conv_dw``), so names are mapped by
    position, checking every shape.
    """
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    target = model.state_dict()
    if len(target) != len(state_dict):
        raise ValueError(
            f"EfficientNet-Lite0 checkpoint has {len(state_dict)} tensors, expected {len(target)}."
        )
    mapped = {}
    for (name, expected), (source_name, tensor) in zip(
        target.items(), state_dict.items(), strict=True
    ):
        if tuple(expected.shape) != tuple(tensor.shape):
            raise ValueError(
                f"EfficientNet-Lite0 checkpoint tensor {source_name} has shape "
                f"{tuple(tensor.shape)}, expected {tuple(expected.shape)} for {name}."
            )
        mapped[name] = tensor
    model.load_state_dict(mapped)
    return model


def _checkpoint_load(path: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(checkpoint, dict) and "state_dict" in checkpoint:
        checkpoint = checkpoint["state_dict"]
    return checkpoint


class ImageNetBackend:
    kind = "imagenet"
    logit_scale = 1.0

    def __init__(
        self,
        *,
        spec: ModelSpec,
        model: torch.nn.Module,
        weights_path: Path,
        check: WeightsCheck,
        runner: Runner,
    ) -> None:
        self.spec = spec
        self.model = model.eval()  # the PyTorch reference, whatever engine runs the batches
        self.runner = runner
        self.weights_path = weights_path
        self.weights_sha256 = check.sha256
        self.weights_verified = check.verified
        self.engine = runner.engine
        self.precision = runner.precision
        self.int8_gate: dict[str, Any] = {}  # dynamic int8 does not pay for convolutions
        self.preprocessing: dict[str, Any] = {
            **spec.preprocessing,
            "decode": "exact" if settings.INFERENCE_EXACT_PREPROCESSING else "draft",
        }
        self.class_names = imagenet_class_names()
        self.dim = len(self.class_names)
        self.images_forwarded = 0
        self._lock = threading.Lock()

    def preprocess(self, fh: BinaryIO) -> np.ndarray:
        return preprocess_image(fh, cfg=self.preprocessing)

    def embed_images(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            logits = self.runner(np.ascontiguousarray(batch, dtype=np.float32))
            self.images_forwarded += len(batch)
        return np.asarray(logits, dtype=np.float32)

    def embed_texts(self, labels: list[str], *, templates: str) -> np.ndarray:
        raise TypeError("ImageNet models classify into their 1000 classes; labels are unused.")


def load(*, spec: ModelSpec) -> ImageNetBackend:
    path, check = weights_load_path(spec)
    tuning = spec.tuning.resolved()
    torch_setup(tuning.threads)
    state_dict = _checkpoint_load(path)
    if spec.architecture == "mobilenet_v2":
        model = mobilenet_v2_build(state_dict)
    elif spec.architecture == "efficientnet_lite0":
        model = efficientnet_lite0_build(state_dict)
    else:
        raise ValueError(f"Not an ImageNet architecture: {spec.architecture}")
    model.eval()
    crop = int(spec.preprocessing["crop"])
    runner = runner_build(
        engine=settings.INFERENCE_ENGINE,
        module=model,
        example=torch.zeros(1, 3, crop, crop),
        directory=engine_cache_dir(spec, check.sha256),
        part="image",
        threads=tuning.threads,
    )
    return ImageNetBackend(spec=spec, model=model, weights_path=path, check=check, runner=runner)
