"""What images must ask of the apps built on them, without importing them.

Images sit below jobs in the layers (docs/architecture.md), yet two questions about an
image are answered only by jobs: is it still to be read by an unfinished job (then it must
not be deleted), and which images had a given label predicted (the gallery's label
filter, the label chip on each tile, the label facet and the "unclassified" filter).
Jobs answers them by registering an ``ImageRelations`` at start-up
(``JobsConfig.ready``). With none registered, no image is in use and none has a label.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from django.db.models import QuerySet


@dataclass(frozen=True)
class ImageLabel:
    """An image's latest finished prediction: ``status`` is "classified" or "unknown"
    (best score under that job's threshold)."""

    label: str
    score: float | None
    status: str


class ImageRelations(Protocol):
    def image_ids_in_use(self, *, image_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these images an unfinished job still has to read."""
        ...

    def image_ids_labelled(self, *, user: Any, label: str) -> QuerySet[Any] | None:
        """A ``values("image_id")`` queryset of ``user``'s images predicted as ``label``
        (case-insensitive, part of the label is enough), for use in ``id__in``; None when
        nothing can match."""
        ...

    def image_ids_classified(self, *, user: Any) -> QuerySet[Any] | None:
        """A ``values("image_id")`` queryset of ``user``'s images with any finished
        prediction (for excluding them: the "unclassified" filter)."""
        ...

    def image_labels_latest(
        self, *, user: Any, image_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, ImageLabel]:
        """The latest finished prediction of each of these images that has one."""
        ...

    def label_counts(self, *, user: Any, limit: int) -> list[tuple[str, int]]:
        """The labels ``user``'s images were classified as, with how many images each,
        most frequent first."""
        ...


class _NoRelations:
    def image_ids_in_use(self, *, image_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return set()

    def image_ids_labelled(self, *, user: Any, label: str) -> QuerySet[Any] | None:
        return None

    def image_ids_classified(self, *, user: Any) -> QuerySet[Any] | None:
        return None

    def image_labels_latest(
        self, *, user: Any, image_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, ImageLabel]:
        return {}

    def label_counts(self, *, user: Any, limit: int) -> list[tuple[str, int]]:
        return []


_relations: ImageRelations = _NoRelations()


def relations_register(relations: ImageRelations) -> None:
    global _relations
    _relations = relations


def relations() -> ImageRelations:
    return _relations
