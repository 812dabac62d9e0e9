"""Plain types that cross the inference boundary (no torch here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float


@dataclass(frozen=True)
class ImageInput:
    key: str  # the caller's identifier, echoed back in the outcome
    content_hash: str  # SHA-256 of the image bytes: the embedding cache key
    open: Callable[[], BinaryIO]  # opens the image bytes (local file, S3 object, ...)


@dataclass
class ImageOutcome:
    key: str
    predictions: list[Prediction] = field(default_factory=list)  # top_k, best first
    error: str | None = None  # set when this image could not be classified
    elapsed_ms: float = 0.0
    from_cache: bool = False  # True when a stored embedding/logits were reused
