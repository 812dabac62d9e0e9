"""CSV export: no cell can run as a spreadsheet formula (the issue's row 11)."""

from __future__ import annotations

import csv
import io

import pytest

from jobs import exports, services
from jobs.models import ItemStatus, JobImage

pytestmark = pytest.mark.django_db


def test_every_csv_cell_is_guarded_including_all_predictions(user, images):
    job = services.job_submit(
        owner=user, image_ids=[images[0].id], job_type="image_classification"
    ).job
    # A user-chosen label (custom label sets) as the model's answer, and a file name.
    JobImage.objects.filter(job=job).update(
        status=ItemStatus.CLASSIFIED,
        top_label='=HYPERLINK("http://x.example/","click")',
        top_score=0.9,
        predictions=[
            {"label": '=HYPERLINK("http://x.example/","click")', "score": 0.9},
            {"label": "@SUM(A1)", "score": 0.1},
        ],
        filename="+cmd.png",
        error="-2+3",
    )
    items = list(JobImage.objects.filter(job=job))

    rows = list(csv.reader(io.StringIO(exports.as_csv(job, items))))

    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["all_predictions"] == (
        """'=HYPERLINK("http://x.example/","click")=0.900000; @SUM(A1)=0.100000"""
    )
    assert row["top_prediction"] == """'=HYPERLINK("http://x.example/","click")"""
    assert row["filename"] == "'+cmd.png"
    assert row["error"] == "'-2+3"
    for cell in rows[1]:
        assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), cell
