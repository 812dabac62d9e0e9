"""Job results as plain data: the /result API body, and its CSV and JSON downloads."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from images.selectors import client_keys
from jobs import selectors
from jobs.models import Job, JobImage


def item_data(item: JobImage, client_keys: dict | None = None) -> dict[str, Any]:
    key = (client_keys or {}).get(item.image_id) or item.key
    status, error = selectors.item_outcome(item, item.job)
    return {
        "image_id": str(item.image_id) if item.image_id else None,
        "filename": item.filename,
        "s3_key": key,
        "key": key,
        "status": status,
        "top_prediction": selectors.item_label(item) or None,
        "top_confidence": item.top_score,
        "all_predictions": item.predictions,
        "processing_time_ms": item.processing_ms,
        "error": error or None,
    }


def result_data(job: Job, items: list[JobImage]) -> dict[str, Any]:
    keys = client_keys(image_ids=[i.image_id for i in items if i.image_id])
    data = [item_data(item, keys) for item in items]
    # Counted as reported: the images a failed job never reached are failed ones too.
    never_reached = sum(
        1 for item, row in zip(items, data, strict=True) if row["status"] != item.status
    )
    return {
        "job_id": str(job.id),
        "status": job.status,
        "job_type": job.job_type,
        "model_version": job.model_version.name,
        "labels": job.labels,
        "top_k": job.top_k,
        "confidence_threshold": job.confidence_threshold,
        "created_at": job.created_at,
        "completed_at": job.completed_at,
        "error": job.error_message or None,
        "result": {
            "total_images": job.total,
            "classified": job.classified,
            "unknown": job.unknown,
            "failed": job.failed + never_reached,
            "processing_time_ms": round(sum(i.processing_ms or 0.0 for i in items), 3),
            "images": data,
        },
    }


CSV_COLUMNS = [
    "filename",
    "key",
    "image_id",
    "status",
    "top_prediction",
    "top_confidence",
    "processing_time_ms",
    "error",
    "all_predictions",
]


def as_csv(job: Job, items: list[JobImage]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    keys = client_keys(image_ids=[i.image_id for i in items if i.image_id])
    for item in items:
        row = item_data(item, keys)
        cells = [
            row["filename"],
            row["key"],
            row["image_id"] or "",
            row["status"],
            row["top_prediction"] or "",
            "" if row["top_confidence"] is None else f"{row['top_confidence']:.6f}",
            "" if row["processing_time_ms"] is None else str(row["processing_time_ms"]),
            row["error"] or "",
            "; ".join(f"{p['label']}={p['score']:.6f}" for p in row["all_predictions"]),
        ]
        # Every cell, not just the ones known to hold user text today: labels, file names
        # and error messages reach several columns, and the next column added is covered.
        writer.writerow([_safe_cell(cell) for cell in cells])
    return out.getvalue()


def _safe_cell(value: str) -> str:
    # Spreadsheets run a cell starting with one of these as a formula (OWASP's list; tab
    # and carriage return can hide one). A leading quote makes it text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def as_json(job: Job, items: list[JobImage]) -> str:
    return json.dumps(result_data(job, items), cls=DjangoJSONEncoder, indent=2)
