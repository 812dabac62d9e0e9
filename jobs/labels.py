"""Accept predictions as people's own labels, and export a labelled dataset as a zip.

A photo's label for export is its own label (images.UserLabel) when it has one, else its
latest prediction above threshold; photos with neither are left out and counted.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from classifier_site.core.errors import DomainError
from images import labels as image_labels
from images import services as image_services
from images.models import Image, UserLabel
from jobs.models import ItemStatus, Job
from jobs.preview import latest_labels

ZIP_CHUNK = 1 << 20


@dataclass(frozen=True)
class AcceptResult:
    accepted: int
    skipped: int  # no prediction above threshold to accept


def user_labels_accept(*, user, image_ids: Iterable[uuid.UUID | str]) -> AcceptResult:
    """Each image's latest prediction (above its job's threshold) becomes its own label."""
    ids = image_labels.owned_ids(user=user, image_ids=image_ids)
    latest = {
        image_id: label
        for image_id, label in latest_labels(owner=user, image_ids=ids).items()
        if label != "unknown"
    }
    if latest:
        image_labels.user_labels_set(user=user, labels=latest, source=UserLabel.Source.ACCEPTED)
    return AcceptResult(accepted=len(latest), skipped=len(ids) - len(latest))


def user_labels_accept_job(*, user, job: Job) -> AcceptResult:
    """This job's labels (above its threshold) become its images' own labels."""
    rows = dict(
        job.items.filter(status=ItemStatus.CLASSIFIED, image__isnull=False).values_list(
            "image_id", "top_label"
        )
    )
    if rows:
        image_labels.user_labels_set(
            user=user,
            labels={k: v[:100] for k, v in rows.items()},
            source=UserLabel.Source.ACCEPTED,
        )
    return AcceptResult(accepted=len(rows), skipped=job.total - len(rows))


# --- dataset export ------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetEntry:
    image: Image
    label: str
    path: str  # inside the zip: <label>/<file name>


def _safe(part: str, fallback: str) -> str:
    cleaned = re.sub(r"[^\w .,()+-]+", "_", part).strip(" .") or fallback
    return cleaned[:100]


def dataset_entries(*, user, image_ids: Iterable[uuid.UUID | str] | None) -> list[DatasetEntry]:
    """The selection's labelled images and where each goes; all images when ``None``."""
    images = Image.objects.filter(owner=user).select_related("user_label")
    if image_ids is not None:
        images = images.filter(id__in=image_labels.owned_ids(user=user, image_ids=image_ids))
    images_list = list(images.order_by("original_filename", "id"))
    predicted = latest_labels(owner=user, image_ids=[i.id for i in images_list])
    entries: list[DatasetEntry] = []
    used: set[str] = set()
    for image in images_list:
        own = getattr(image, "user_label", None)  # None when the photo has no own label
        label = own.label if own else predicted.get(image.id, "")
        if not label or label == "unknown":
            continue
        folder = _safe(label, "label")
        name = _safe(image.original_filename or f"{image.id}.{image.format.lower()}", "image")
        path = f"{folder}/{name}"
        if path in used:  # same file name twice under one label
            path = f"{folder}/{image.id.hex[:8]}-{name}"
        used.add(path)
        entries.append(DatasetEntry(image=image, label=label, path=path))
    if not entries:
        raise DomainError(
            "None of these images has a label yet: label them or run a job first.",
            field="image_ids",
        )
    return entries


class _Sink:
    """A write-only stream for zipfile; the generator hands its bytes to the response."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def dataset_zip_stream(entries: list[DatasetEntry]) -> Iterator[bytes]:
    """The zip, produced while it is sent: one file in memory at a time, never the whole
    archive (photos are already compressed: stored, not deflated)."""
    import zipfile

    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:  # type: ignore[call-overload]  # write-only: zipfile copes
        for entry in entries:
            with (
                archive.open(entry.path, mode="w", force_zip64=True) as target,
                image_services.image_open(entry.image) as source,
            ):
                while chunk := source.read(ZIP_CHUNK):
                    target.write(chunk)
                    yield sink.take()
            yield sink.take()
        table = io.StringIO()
        writer = csv.writer(table)
        writer.writerow(["file", "label"])
        for entry in entries:
            writer.writerow([entry.path, entry.label])
        archive.writestr("labels.csv", table.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    yield sink.take()
