"""Categories taught by example: photos per label, and classifiers fitted on their vectors.

The examples' stored embeddings (per model version: CLIP image embeddings, or an ImageNet
model's logits) are the training set. Two classifiers, both a few matrix products, so
the web process can fit them on demand without a model runtime:

- nearest prototype: each label's mean unit vector; an image takes the label of the
  most similar prototype (cosine);
- linear: multinomial logistic regression on the unit vectors (L2, full-batch gradient
  descent), fitted in milliseconds for hundreds of examples.

``bench/features.py examples`` measures which is better on held-out photos with a real
model; ``examples_fit`` reports, per label, how many examples have a vector and how
separable they are (leave-one-out nearest-prototype accuracy).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction

from categories.models import Category, CategoryExample
from classifier_site.core.errors import DomainError
from inference import vectors
from inference.models import ModelVersion


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype="float64")
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


# --- writes ------------------------------------------------------------------------------


def category_examples_add(
    *, category: Category, label: str, image_ids: Iterable[uuid.UUID | str]
) -> int:
    """Make the owner's images examples of ``label``; returns how many were added.

    An image already an example of another label of this category moves to this one.
    """
    if label not in category.labels:
        raise DomainError(f"“{label}” is not a label of this category.", field="label")
    wanted = set()
    for raw in image_ids:
        try:
            wanted.add(uuid.UUID(str(raw)))
        except ValueError:
            raise DomainError(f"“{raw}” is not an image id.", field="image_ids") from None
    if not wanted:
        raise DomainError("Choose at least one image.", field="image_ids")
    owned = set(
        category.owner.images.filter(id__in=wanted).values_list("id", flat=True)  # type: ignore[attr-defined]
    )
    if owned != wanted:
        # Another user's image is reported exactly like one that does not exist.
        raise DomainError(
            f"Unknown image id(s): {', '.join(sorted(map(str, wanted - owned))[:5])}.",
            field="image_ids",
        )
    with transaction.atomic():
        CategoryExample.objects.filter(category=category, image_id__in=owned).delete()
        CategoryExample.objects.bulk_create(
            CategoryExample(category=category, label=label, image_id=image_id) for image_id in owned
        )
    return len(owned)


def category_examples_remove(*, category: Category, image_ids: Iterable[uuid.UUID]) -> int:
    deleted, _ = CategoryExample.objects.filter(
        category=category, image_id__in=list(image_ids)
    ).delete()
    return deleted


# --- fitting and classifying --------------------------------------------------------------


@dataclass
class LabelStats:
    label: str
    examples: int  # photos given
    embedded: int  # with a stored vector for the model version (only these count)
    separable: float | None  # leave-one-out accuracy of its embedded examples; None < 2


@dataclass
class ExampleModel:
    model_version: ModelVersion
    labels: list[str]  # labels with at least one embedded example, category order
    prototypes: np.ndarray  # (L, D) unit means
    weights: np.ndarray | None  # (D + 1, L) logistic regression, None under 2 labels
    stats: list[LabelStats] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return len(self.labels) >= 2

    def classify(
        self, x: np.ndarray, *, method: str = "prototype"
    ) -> tuple[np.ndarray, np.ndarray]:
        """(label index, score) per row of ``x``. Prototype score: cosine; linear: softmax
        probability."""
        x = _unit(x)
        if method == "prototype":
            similarity = x @ self.prototypes.T
            best = similarity.argmax(axis=1)
            return best, similarity[np.arange(len(x)), best]
        assert self.weights is not None, "a linear model needs two labels"
        probabilities = _softmax(_with_bias(x) @ self.weights)
        best = probabilities.argmax(axis=1)
        return best, probabilities[np.arange(len(x)), best]


def _with_bias(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((len(x), 1))])


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def linear_fit(
    x: np.ndarray, y: np.ndarray, classes: int, *, l2: float = 1e-3, steps: int = 300
) -> np.ndarray:
    """Multinomial logistic regression on unit vectors, by gradient descent (convex: the
    step count only limits how close to the optimum it gets). Returns (D + 1, classes)."""
    xb = _with_bias(_unit(x))
    onehot = np.eye(classes)[y]
    # Unit rows: the loss's gradient is Lipschitz with a constant near the largest
    # eigenvalue of XᵀX / n, so this rate is stable without tuning.
    rate = 1.0 / (np.linalg.norm(xb, ord=2) ** 2 / len(xb) + l2)
    w = np.zeros((xb.shape[1], classes))
    for _ in range(steps):
        gradient = xb.T @ (_softmax(xb @ w) - onehot) / len(xb) + l2 * w
        w -= rate * gradient
    return w


def prototypes_fit(x: np.ndarray, y: np.ndarray, classes: int) -> np.ndarray:
    x = _unit(x)
    return _unit(np.stack([x[y == c].mean(axis=0) for c in range(classes)]))


def _leave_one_out(x: np.ndarray, y: np.ndarray, classes: int) -> np.ndarray:
    """Per example: is it nearest to its own label's prototype computed without it?"""
    x = _unit(x)
    sums = np.stack([x[y == c].sum(axis=0) for c in range(classes)])
    counts = np.bincount(y, minlength=classes).astype("float64")
    correct = np.zeros(len(x), dtype=bool)
    for i in range(len(x)):
        s, n = sums.copy(), counts.copy()
        s[y[i]] -= x[i]
        n[y[i]] -= 1
        usable = n > 0
        if usable.sum() < 2:
            continue
        protos = _unit(s[usable])
        label_ids = np.flatnonzero(usable)
        correct[i] = label_ids[(protos @ x[i]).argmax()] == y[i]
    return correct


def examples_fit(*, category: Category, model_version: ModelVersion) -> ExampleModel:
    """Fit both classifiers on the category's examples that have a stored vector."""
    rows = list(
        CategoryExample.objects.filter(category=category).values_list("label", "image__sha256")
    )
    stored = vectors.image_vectors_stored(
        model_version=model_version, content_hashes=[h for _, h in rows]
    )
    given: dict[str, int] = {}
    for label, _ in rows:
        given[label] = given.get(label, 0) + 1
    labels = [
        label for label in category.labels if any(h in stored for lb, h in rows if lb == label)
    ]
    index = {label: i for i, label in enumerate(labels)}
    pairs = [(index[label], stored[h]) for label, h in rows if label in index and h in stored]
    dim = len(pairs[0][1]) if pairs else 0
    x = np.stack([v for _, v in pairs]) if pairs else np.zeros((0, dim))
    y = np.array([c for c, _ in pairs], dtype=int)
    correct = _leave_one_out(x, y, len(labels)) if len(labels) >= 2 else np.zeros(len(y), bool)
    stats = []
    for label in category.labels:
        mine = y == index[label] if label in index else np.zeros(len(y), bool)
        embedded = int(mine.sum())
        separable = float(correct[mine].mean()) if embedded >= 2 and len(labels) >= 2 else None
        stats.append(LabelStats(label, given.get(label, 0), embedded, separable))
    return ExampleModel(
        model_version=model_version,
        labels=labels,
        prototypes=prototypes_fit(x, y, len(labels)) if labels else np.zeros((0, dim)),
        weights=linear_fit(x, y, len(labels)) if len(labels) >= 2 else None,
        stats=stats,
    )
