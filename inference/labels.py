"""Validation of user-supplied label lists (zero-shot classification)."""

from __future__ import annotations

from collections.abc import Iterable

MAX_LABELS = 200
MAX_LABEL_LENGTH = 100


class LabelError(ValueError):
    """A label list that cannot be used; the message says what to change."""


def _preview(label: str) -> str:
    return label if len(label) <= 20 else label[:20] + "..."


def labels_clean(labels: Iterable[str]) -> list[str]:
    """Strip each label and check the list: 1–200 labels of 1–100 characters, no duplicates
    (ignoring case, because CLIP's tokenizer lowercases: "Cat" and "cat" are one prompt).

    Order is kept. Raises LabelError with a message that names the offending label.
    """
    if isinstance(labels, str):
        raise LabelError("Labels must be a list of strings, not a single string.")
    cleaned: list[str] = []
    seen: dict[str, int] = {}
    for position, raw in enumerate(labels, start=1):
        if not isinstance(raw, str):
            raise LabelError(f"Label {position} is not text.")
        label = raw.strip()
        if not label:
            raise LabelError(f"Label {position} is empty.")
        if len(label) > MAX_LABEL_LENGTH:
            raise LabelError(
                f'Label {position} ("{_preview(label)}") is longer than '
                f"{MAX_LABEL_LENGTH} characters."
            )
        key = label.casefold()
        if key in seen:
            raise LabelError(
                f'Label {position} ("{_preview(label)}") repeats label {seen[key]} '
                "(labels are compared ignoring case)."
            )
        seen[key] = position
        cleaned.append(label)
        if len(cleaned) > MAX_LABELS:
            raise LabelError(f"At most {MAX_LABELS} labels are allowed.")
    if not cleaned:
        raise LabelError("Give at least one label.")
    return cleaned
