"""Scores from stored vectors: a matrix product and a softmax (numpy, worker side)."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def scores_top_k(
    vectors: np.ndarray, *, text: np.ndarray | None, scale: float, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, probabilities) of the k best classes per row, best first.

    ``vectors`` are ImageNet logits (``text`` None) or normalised CLIP image embeddings,
    scored against normalised text embeddings as softmax(scale · image · textᵀ).
    """
    logits = (
        vectors.astype(np.float64)
        if text is None
        else (scale * (vectors.astype(np.float64) @ text.astype(np.float64).T))
    )
    probabilities = softmax(logits)
    k = min(k, probabilities.shape[1])
    top = np.argpartition(-probabilities, k - 1, axis=1)[:, :k]
    top_scores = np.take_along_axis(probabilities, top, axis=1)
    order = np.argsort(-top_scores, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_scores, order, axis=1)
