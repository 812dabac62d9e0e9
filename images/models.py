from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Image(models.Model):
    """One stored picture of one user. Same bytes uploaded twice = the same row."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images"
    )
    file = models.FileField(max_length=255)  # uploads/<user>/<yyyy>/<mm>/<dd>/<uuid>.<ext>
    thumbnail = models.FileField(max_length=255, blank=True)
    original_filename = models.CharField(max_length=255, blank=True)
    format = models.CharField(max_length=10)  # Pillow's name: JPEG, PNG, WEBP, GIF, BMP, TIFF
    mime_type = models.CharField(max_length=50)
    size_bytes = models.BigIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # SHA-256 of the bytes as uploaded: re-sending them finds this row without decoding.
    # The stored file can differ (location blanked, BMP/TIFF re-encoded as PNG).
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "sha256"], name="image_unique_owner_content")
        ]
        indexes = [
            # One index per gallery sort, so keyset pages are index range scans at any depth.
            models.Index(fields=["owner", "-created_at", "-id"], name="image_owner_newest"),
            models.Index(fields=["owner", "original_filename", "id"], name="image_owner_name"),
            models.Index(fields=["owner", "-size_bytes", "-id"], name="image_owner_size"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.original_filename or str(self.id)


class UserLabel(models.Model):
    """A person's own label for a photo: an accepted or overridden prediction.

    Kept apart from predictions (jobs' results), so re-running a job never overwrites what
    someone decided; one per image, the latest decision wins, with who and when.
    """

    class Source(models.TextChoices):
        ACCEPTED = "accepted", "Accepted prediction"
        OVERRIDE = "override", "Set by hand"

    image = models.OneToOneField(Image, on_delete=models.CASCADE, related_name="user_label")
    label = models.CharField(max_length=100)
    source = models.CharField(max_length=10, choices=Source.choices)
    labelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    labelled_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["label"], name="userlabel_label")]

    def __str__(self) -> str:
        return f"{self.label} ({self.image_id})"
