"""Reads for images, always scoped to the acting user."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from classifier_site.core.errors import DomainError, NotFound
from images.intake import FORMATS
from images.models import Image
from images.relations import ImageLabel, relations

# sort name -> (ordering field, descending). The id breaks ties in the same direction.
SORTS: dict[str, tuple[str, bool]] = {
    "newest": ("created_at", True),
    "oldest": ("created_at", False),
    "name": ("original_filename", False),
    "size": ("size_bytes", True),
}
SORT_LABELS = {"newest": "Newest", "oldest": "Oldest", "name": "Name", "size": "Largest"}
FORMAT_CHOICES = {name.lower(): name for name in FORMATS}


@dataclass(frozen=True)
class ImageFilters:
    q: str = ""
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    format: str = ""  # lower-case key of FORMAT_CHOICES, or "" for any
    sort: str = "newest"
    label: str = ""  # predicted label (any finished job of the user), case-insensitive, partial
    unclassified: bool = False  # only images no finished job has a prediction for
    user_label: str = ""  # the person's own label (images.UserLabel), case-insensitive

    @classmethod
    def from_params(cls, params: Any, *, strict: bool = False) -> ImageFilters:
        """Parse query parameters. Unknown values are ignored, or raise when ``strict``."""

        def bad(name: str, message: str) -> None:
            if strict:
                raise DomainError(message, field=name)

        q = " ".join(str(params.get("q", "")).split())[:200]
        dates: dict[str, date | None] = {}
        for name in ("date_from", "date_to"):
            raw = str(params.get(name, "") or "").strip()
            dates[name] = None
            if raw:
                try:
                    dates[name] = date.fromisoformat(raw)
                except ValueError:
                    bad(name, "use a date like 2025-01-31.")
        fmt = str(params.get("format", "") or "").strip().lower()
        if fmt and fmt not in FORMAT_CHOICES:
            bad("format", f"must be one of {', '.join(sorted(FORMAT_CHOICES))}.")
            fmt = ""
        sort = str(params.get("sort", "") or "").strip() or "newest"
        if sort not in SORTS:
            bad("sort", f"must be one of {', '.join(SORTS)}.")
            sort = "newest"
        label = " ".join(str(params.get("label", "") or "").split())[:100]
        raw_unclassified = str(params.get("unclassified", "") or "").strip().lower()
        if raw_unclassified not in ("", "0", "1", "true", "false", "on"):
            bad("unclassified", "use 1 (only unclassified images) or 0.")
        user_label = " ".join(str(params.get("user_label", "") or "").split())[:100]
        return cls(
            q=q,
            date_from=dates["date_from"],
            date_to=dates["date_to"],
            format=fmt,
            sort=sort,
            label=label,
            unclassified=raw_unclassified in ("1", "true", "on"),
            user_label=user_label,
        )

    def to_params(self) -> dict[str, str]:
        """The non-default values as query parameters (for links and hidden inputs)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is True:
                out[f.name] = "1"
            elif value and value != f.default:
                out[f.name] = value.isoformat() if isinstance(value, date) else str(value)
        return out

    @property
    def active(self) -> bool:
        return bool(
            self.q
            or self.date_from
            or self.date_to
            or self.format
            or self.label
            or self.unclassified
            or self.user_label
        )


def image_get(*, user, image_id: Any) -> Image:
    """One of ``user``'s images; NotFound for anything else (also another user's)."""
    try:
        key = image_id if isinstance(image_id, uuid.UUID) else uuid.UUID(str(image_id))
    except ValueError:
        raise NotFound("Image not found.") from None
    image = Image.objects.filter(owner=user, id=key).first() if user.is_authenticated else None
    if image is None:
        raise NotFound("Image not found.")
    return image


def image_list(*, user, filters: ImageFilters | None = None) -> QuerySet[Image]:
    """``user``'s images matching ``filters``, in the filters' sort order."""
    filters = filters or ImageFilters()
    qs = Image.objects.filter(owner=user).select_related("user_label")
    if filters.user_label:
        qs = qs.filter(user_label__label__iexact=filters.user_label)
    if filters.q:
        qs = qs.filter(original_filename__icontains=filters.q)
    tz = timezone.get_current_timezone()
    if filters.date_from:
        qs = qs.filter(created_at__gte=datetime.combine(filters.date_from, time.min, tzinfo=tz))
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=tz)
        qs = qs.filter(created_at__lt=end)
    if filters.format:
        qs = qs.filter(format=FORMAT_CHOICES[filters.format])
    if filters.label:
        labelled = relations().image_ids_labelled(user=user, label=filters.label)
        qs = qs.filter(id__in=labelled) if labelled is not None else qs.none()
    if filters.unclassified:
        classified = relations().image_ids_classified(user=user)
        if classified is not None:
            qs = qs.exclude(id__in=classified)
    name, desc = SORTS[filters.sort]
    sign = "-" if desc else ""
    return qs.order_by(f"{sign}{name}", f"{sign}id")


def image_labels(*, user, images: list[Image]) -> dict[uuid.UUID, ImageLabel]:
    """The latest finished prediction of each of these (the user's) images, by id."""
    if not images:
        return {}
    return relations().image_labels_latest(user=user, image_ids=[i.pk for i in images])


def image_ids_busy(*, user, images: list[Image]) -> set[uuid.UUID]:
    """Which of these (the user's) images an unfinished job is still to classify."""
    if not images:
        return set()
    return relations().image_ids_in_use(image_ids=[i.pk for i in images if i.owner_id == user.pk])


def label_facet(*, user, limit: int = 20) -> list[tuple[str, int]]:
    """The labels this user's images were classified as, with image counts."""
    return relations().label_counts(user=user, limit=limit)


def image_ids_owned(*, user, ids: Any) -> list[uuid.UUID]:
    """The subset of ``ids`` that are ``user``'s images (malformed ids are dropped)."""
    wanted = set()
    for raw in ids:
        try:
            wanted.add(raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))
        except ValueError:
            continue
    if not wanted:
        return []
    return list(Image.objects.filter(owner=user, id__in=wanted).values_list("id", flat=True))


# --- Keyset pagination --------------------------------------------------------------------


@dataclass(frozen=True)
class ImagePage:
    items: list[Image]
    next_cursor: str | None  # pass as ``after`` for the next page
    prev_cursor: str | None  # pass as ``before`` for the previous page


def image_page(
    qs: QuerySet[Image],
    *,
    sort: str,
    after: str | None = None,
    before: str | None = None,
    size: int = 48,
) -> ImagePage:
    """One page of ``qs`` (ordered by ``image_list`` for ``sort``) after/before a cursor.

    Keyset, not OFFSET: the database seeks into the sort's index at the cursor, so page
    2000 costs what page 1 costs. A malformed or foreign cursor gives the first page.
    """
    name, desc = SORTS[sort]
    anchor = _decode_cursor(before or after, sort)
    if anchor is None:
        rows = list(qs[: size + 1])
        return ImagePage(
            rows[:size], image_cursor(rows[size - 1], sort) if len(rows) > size else None, None
        )
    value, anchor_id = anchor
    forward = before is None
    # Rows strictly beyond the anchor in the walking direction, written as a range on the
    # leading column plus a small exclusion so PostgreSQL uses an index range scan.
    going_down = desc == forward
    if going_down:
        window = qs.filter(**{f"{name}__lte": value}).exclude(**{name: value, "id__gte": anchor_id})
    else:
        window = qs.filter(**{f"{name}__gte": value}).exclude(**{name: value, "id__lte": anchor_id})
    if not forward:
        rsign = "" if desc else "-"
        window = window.order_by(f"{rsign}{name}", f"{rsign}id")
    rows = list(window[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    if not rows:
        return ImagePage([], None, None)
    next_cursor = image_cursor(rows[-1], sort) if (more or not forward) else None
    prev_cursor = image_cursor(rows[0], sort) if (more or forward) else None
    return ImagePage(rows, next_cursor, prev_cursor)


def image_cursor(image: Image, sort: str) -> str:
    name, _ = SORTS[sort]
    value = getattr(image, name)
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([sort, value, str(image.pk)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(token: str | None, sort: str) -> tuple[Any, uuid.UUID] | None:
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor_sort, value, image_id = json.loads(raw)
        if cursor_sort != sort:
            return None
        name, _ = SORTS[sort]
        if name == "created_at":
            value = datetime.fromisoformat(value)
        elif name == "size_bytes":
            value = int(value)
        elif not isinstance(value, str):
            return None
        return value, uuid.UUID(image_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
