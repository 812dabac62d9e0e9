"""Writes for categories: create, update, duplicate, delete."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction

from categories.models import Category
from classifier_site.core.errors import DomainError
from inference.labels import LabelError, labels_clean

NAME_MAX = 100


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError("A name is required.", field="name")
    if len(name) > NAME_MAX:
        raise DomainError(f"At most {NAME_MAX} characters.", field="name")
    return name


def _clean_labels(labels: Sequence[str] | str) -> list[str]:
    if isinstance(labels, str):
        # A textarea: one label per line; blank lines are layout, not labels.
        labels = [line for line in labels.splitlines() if line.strip()]
    try:
        return labels_clean(list(labels))
    except LabelError as exc:
        raise DomainError(str(exc), field="labels") from None


def _save(category: Category) -> Category:
    try:
        # A savepoint: the unique-name violation must not poison an outer transaction.
        with transaction.atomic():
            category.save()
    except IntegrityError:
        raise DomainError(
            f"You already have a category named “{category.name}”.", field="name"
        ) from None
    return category


def category_create(
    *, owner, name: str, labels: Sequence[str] | str, description: str = ""
) -> Category:
    category = Category(
        owner=owner,
        name=_clean_name(name),
        labels=_clean_labels(labels),
        description=(description or "").strip(),
    )
    return _save(category)


def category_update(
    *,
    category: Category,
    name: str | None = None,
    labels: Sequence[str] | str | None = None,
    description: str | None = None,
) -> Category:
    if name is not None:
        category.name = _clean_name(name)
    if labels is not None:
        category.labels = _clean_labels(labels)
    if description is not None:
        category.description = description.strip()
    return _save(category)


def category_duplicate(*, category: Category) -> Category:
    """Copy a category under the first free name "<name> (copy)", "<name> (copy 2)", ..."""
    taken = {
        n.lower()
        for n in Category.objects.filter(owner=category.owner).values_list("name", flat=True)
    }
    base = f"{category.name[: NAME_MAX - 10]} (copy"
    name = f"{base})"
    n = 2
    while name.lower() in taken:
        name = f"{base} {n})"
        n += 1
    return category_create(
        owner=category.owner, name=name, labels=category.labels, description=category.description
    )


def category_delete(*, category: Category) -> None:
    # Jobs keep their own snapshot of the labels, so deleting a category changes no result.
    category.delete()
