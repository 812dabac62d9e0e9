"""Labels people own: set, override and clear a photo's own label; read and export them.

Accepting a prediction needs jobs' results, so that part lives in ``jobs/labels.py``; it
writes through ``user_labels_set`` here.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Mapping

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from classifier_site.core.errors import DomainError
from images.models import Image, UserLabel

MAX_LABEL_LENGTH = 100


def label_clean(label: str) -> str:
    cleaned = " ".join(str(label or "").split())
    if not cleaned:
        raise DomainError("Give a label.", field="label")
    if len(cleaned) > MAX_LABEL_LENGTH:
        raise DomainError(f"At most {MAX_LABEL_LENGTH} characters.", field="label")
    return cleaned


def owned_ids(*, user, image_ids: Iterable[uuid.UUID | str]) -> list[uuid.UUID]:
    wanted: list[uuid.UUID] = []
    for raw in image_ids:
        try:
            wanted.append(raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))
        except ValueError:
            raise DomainError(f"“{raw}” is not an image id.", field="image_ids") from None
    if not wanted:
        raise DomainError("Choose at least one image.", field="image_ids")
    found = set(Image.objects.filter(owner=user, id__in=wanted).values_list("id", flat=True))
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise DomainError(f"Unknown image id(s): {shown}.", field="image_ids")
    return list(dict.fromkeys(wanted))


def user_labels_set(
    *, user, labels: Mapping[uuid.UUID, str], source: str = UserLabel.Source.OVERRIDE
) -> int:
    """Give each image its label (one upsert); all images must be the user's, else nothing
    is written. Returns how many images were labelled."""
    ids = owned_ids(user=user, image_ids=list(labels))
    cleaned = {image_id: label_clean(labels[image_id]) for image_id in ids}
    now = timezone.now()
    with transaction.atomic():
        UserLabel.objects.bulk_create(
            [
                UserLabel(
                    image_id=image_id,
                    label=label,
                    source=source,
                    labelled_by=user,
                    labelled_at=now,
                )
                for image_id, label in cleaned.items()
            ],
            update_conflicts=True,
            unique_fields=["image"],
            update_fields=["label", "source", "labelled_by", "labelled_at"],
        )
    return len(cleaned)


def user_labels_set_one(*, user, image_ids: Iterable[uuid.UUID | str], label: str) -> int:
    """The same label for every image (the bulk "set label" of the gallery)."""
    ids = owned_ids(user=user, image_ids=image_ids)
    return user_labels_set(user=user, labels=dict.fromkeys(ids, label_clean(label)))


def user_labels_clear(*, user, image_ids: Iterable[uuid.UUID | str]) -> int:
    ids = owned_ids(user=user, image_ids=image_ids)
    deleted, _ = UserLabel.objects.filter(image__owner=user, image_id__in=ids).delete()
    return deleted


def user_label_list(*, user) -> QuerySet[UserLabel]:
    return (
        UserLabel.objects.filter(image__owner=user)
        .select_related("image", "labelled_by")
        .order_by("label", "image__original_filename", "image_id")
    )


def user_labels_csv(*, user) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["image_id", "filename", "label", "source", "labelled_by", "labelled_at"])
    for row in user_label_list(user=user):
        writer.writerow(
            [
                row.image_id,
                row.image.original_filename,
                row.label,
                row.source,
                row.labelled_by.get_username() if row.labelled_by else "",
                row.labelled_at.isoformat(),
            ]
        )
    return out.getvalue()
