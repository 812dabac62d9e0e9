"""Label-set checks at submit: warnings, not errors.

A label list can be valid and still not do what the person meant: two labels so close in
meaning that the model splits one class between them, blank lines that were dropped, or
labels an ImageNet job can never report. The job runs either way; the page shows these
before it starts (the person may dismiss them), the API returns them with the job.

No model here: "close in meaning" is the cosine of the labels' stored text embeddings
(written by a worker the first time a label is encoded). When some are not stored yet the
check falls back to spelling and says so, rather than loading a text tower in the web
process.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from itertools import combinations

import numpy as np

from inference import vectors
from inference.models import ModelVersion
from jobs.models import JobType

# Prompt-ensemble CLIP text embeddings of different everyday nouns sit at 0.75-0.9 cosine
# ("cat"/"dog"); synonyms and spelling variants ("cat"/"kitty", "grey"/"gray") above this.
NEAR_DUPLICATE_COSINE = 0.95
# Without embeddings: difflib ratio of the normalized strings ("grey cat"/"gray cat" 0.88,
# "cat"/"car" 0.67).
NEAR_DUPLICATE_SPELLING = 0.85


@dataclass(frozen=True)
class LabelWarning:
    code: str  # near_duplicate | empty_label | not_imagenet
    message: str
    labels: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "labels": list(self.labels)}


def _spelling_key(label: str) -> str:
    text = unicodedata.normalize("NFKC", label).casefold()
    text = " ".join(re.sub(r"[^\w\s]", " ", text).split())
    # A plural is the same class to the person ("cats" / "cat").
    return " ".join(
        word[:-1] if len(word) > 3 and word.endswith("s") else word for word in text.split()
    )


def _near_duplicates(*, model_version: ModelVersion, labels: Sequence[str]) -> list[LabelWarning]:
    if len(labels) < 2:
        return []
    stored = vectors.label_vectors_stored(model_version=model_version, labels=labels)
    warnings = []
    if all(label in stored for label in labels):
        matrix = np.stack([stored[label] for label in labels]).astype("float64")
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        cosine = matrix @ matrix.T
        for i, j in combinations(range(len(labels)), 2):
            if cosine[i, j] >= NEAR_DUPLICATE_COSINE:
                warnings.append(
                    LabelWarning(
                        "near_duplicate",
                        f"“{labels[i]}” and “{labels[j]}” mean almost the same to the model "
                        f"(text similarity {cosine[i, j]:.2f}); it will split images between "
                        "them. Keep one, or make them more different.",
                        (labels[i], labels[j]),
                    )
                )
        return warnings
    keys = [_spelling_key(label) for label in labels]
    for i, j in combinations(range(len(labels)), 2):
        ratio = SequenceMatcher(None, keys[i], keys[j]).ratio()
        if ratio >= NEAR_DUPLICATE_SPELLING:
            warnings.append(
                LabelWarning(
                    "near_duplicate",
                    f"“{labels[i]}” and “{labels[j]}” are spelled almost the same "
                    "(compared by spelling: the labels' text embeddings are not computed "
                    "yet). Keep one, or make them more different.",
                    (labels[i], labels[j]),
                )
            )
    return warnings


def labels_check(
    *,
    job_type: str,
    model_version: ModelVersion,
    asked: Sequence[str] | str | None,
    labels: Sequence[str],
) -> list[LabelWarning]:
    """Warnings for a label set: ``asked`` is the list as typed, ``labels`` as it will run."""
    raw = asked.splitlines() if isinstance(asked, str) else list(asked or [])
    given = [str(label).strip() for label in raw]
    warnings: list[LabelWarning] = []
    if job_type == JobType.IMAGE_CLASSIFICATION:
        known = {name.casefold() for name in vectors.imagenet_class_names()}
        unknown = [label for label in given if label and label.casefold() not in known]
        if unknown:
            shown = ", ".join(f"“{label}”" for label in unknown[:5])
            warnings.append(
                LabelWarning(
                    "not_imagenet",
                    f"{shown}{' …' if len(unknown) > 5 else ''}: not among the 1000 ImageNet "
                    "classes, so an ImageNet job can never report "
                    f"{'it' if len(unknown) == 1 else 'them'}. Use a custom classification "
                    "for your own labels.",
                    tuple(unknown),
                )
            )
        return warnings
    empty = sum(1 for label in given if not label)
    # Trailing blank lines of a text box are not a mistake; blanks between labels may be.
    while given and not given[-1]:
        given.pop()
        empty -= 1
    if empty > 0:
        warnings.append(
            LabelWarning(
                "empty_label",
                f"{empty} empty label{'s were' if empty > 1 else ' was'} left out.",
            )
        )
    warnings.extend(_near_duplicates(model_version=model_version, labels=labels))
    return warnings
