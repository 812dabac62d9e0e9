"""What images must ask of the apps built on them, without importing them.

Images sit below jobs in the layers (docs/architecture.md), yet two questions about an
image are answered only by jobs: is it still to be read by an unfinished job (then it must
not be deleted), and which images had a given label predicted (the gallery's label
filter). Jobs answers them by registering an ``ImageRelations`` at start-up
(``JobsConfig.ready``). With none registered, no image is in use and none has a label.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any, Protocol

from django.db.models import QuerySet


class ImageRelations(Protocol):
    def image_ids_in_use(self, *, image_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these images an unfinished job still has to read."""
        ...

    def image_ids_labelled(self, *, user: Any, label: str) -> QuerySet[Any] | None:
        """A ``values("image_id")`` queryset of ``user``'s images predicted as ``label``
        (case-insensitive), for use in ``id__in``; None when nothing can match."""
        ...


class _NoRelations:
    def image_ids_in_use(self, *, image_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return set()

    def image_ids_labelled(self, *, user: Any, label: str) -> QuerySet[Any] | None:
        return None


_relations: ImageRelations = _NoRelations()


def relations_register(relations: ImageRelations) -> None:
    global _relations
    _relations = relations


def relations() -> ImageRelations:
    return _relations
