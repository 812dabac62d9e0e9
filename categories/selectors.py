from __future__ import annotations

from django.db.models import QuerySet

from categories.models import Category
from classifier_site.core.errors import NotFound


def category_list(*, user) -> QuerySet[Category]:
    return Category.objects.filter(owner=user).order_by("name", "id")


def category_get(*, user, category_id) -> Category:
    """The user's category, or NotFound (also for another user's id: no existence leak)."""
    try:
        return Category.objects.get(owner=user, pk=int(category_id))
    except (Category.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such category.", field="category_id") from None
