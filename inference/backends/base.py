"""What a backend offers the services (a Protocol; no torch imported here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np


class Backend(Protocol):
    kind: str  # "imagenet" or "zero_shot"
    dim: int  # length of a stored vector (1000 logits, or the CLIP embedding size)
    weights_path: Path
    weights_sha256: str
    preprocessing: dict[str, Any]
    class_names: list[str]  # ImageNet class names ([] for zero-shot)
    logit_scale: float  # CLIP's learned temperature (1.0 for ImageNet logits)
    images_forwarded: int  # images through the network in this process (tests, metrics)
    engine: str  # what runs the image forward pass: "openvino" | "onnx" | "torch"
    precision: str  # "fp32" | "int8"
    weights_verified: str  # "published" | "registered" | "unpublished"
    int8_gate: dict[str, Any]  # the int8 accuracy measurement ({} when not applicable)

    def preprocess(self, fh: BinaryIO) -> np.ndarray:
        """Decode and preprocess one image into a float32 (3, H, W) array. Thread-safe."""

    def embed_images(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) float32 → (N, dim) float32: logits, or normalised CLIP embeddings."""

    def embed_texts(self, labels: list[str], *, templates: str) -> np.ndarray:
        """(len(labels), dim) normalised prompt-ensemble embeddings (zero-shot only)."""
