from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class Category(models.Model):
    """A user's saved, named set of labels for zero-shot (custom) classification."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="categories"
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    # Ordered and already cleaned by inference.labels.labels_clean (1-200 labels).
    labels = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # "Animals" and "animals" would be indistinguishable in a picker.
            models.UniqueConstraint(Lower("name"), "owner", name="category_unique_owner_name"),
        ]
        ordering = ["name", "id"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name
