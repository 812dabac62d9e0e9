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


class CategoryExample(models.Model):
    """A photo that shows what one of the category's labels means (teach by example).

    Classification by examples reads the photo's stored embedding, never the file: the
    image is referenced, not copied, and deleting it deletes the example.
    """

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="examples")
    label = models.CharField(max_length=100)
    # By name: images and categories are sibling apps that do not import each other.
    image = models.ForeignKey("images.Image", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["category", "image"], name="category_example_unique_image"
            ),
        ]
        indexes = [models.Index(fields=["category", "label"], name="category_example_label")]
        ordering = ["label", "id"]

    def __str__(self) -> str:
        return f"{self.category_id}:{self.label}"
