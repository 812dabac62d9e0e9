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


def _failed_job(user, images, *, via_shards: bool):
    from jobs import runs
    from jobs.models import Job, JobShard, JobStatus

    job = services.job_submit(
        owner=user, image_ids=[i.id for i in images], job_type="image_classification"
    ).job
    first = JobImage.objects.filter(job=job).order_by("position").first()
    JobImage.objects.filter(pk=first.pk).update(
        status=ItemStatus.CLASSIFIED,
        top_label="tabby",
        top_score=0.9,
        predictions=[{"label": "tabby", "score": 0.9}],
    )
    runs.recount(job.pk)  # as the runner does after each batch
    if via_shards:
        # The real way a job fails: its shards give up (retries exhausted, model missing).
        for shard_id in JobShard.objects.filter(job=job).values_list("pk", flat=True):
            runs.shard_fail(shard_id=shard_id, reason="The model could not be loaded.")
        job.refresh_from_db()
        if job.status != JobStatus.FAILED:  # one image was classified: the job completes
            Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED)
    else:
        # A job that failed as a whole with images never started (rows left pending, as
        # jobs failed before per-shard failure did): reported failed, with the reason.
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED, error_message="The model could not be loaded."
        )
    job.refresh_from_db()
    return job


@pytest.mark.parametrize("via_shards", [False, True])
def test_a_failed_jobs_unclassified_images_are_failed_with_its_reason(
    user, images, token_client, via_shards
):
    job = _failed_job(user, images, via_shards=via_shards)

    body = token_client.get(f"/api/v1/result/{job.id}").json()

    assert body["status"] == "failed"
    statuses = [(i["status"], i["error"]) for i in body["result"]["images"]]
    assert statuses == [
        ("classified", None),
        ("failed", "The model could not be loaded."),
        ("failed", "The model could not be loaded."),
    ]
    assert (body["result"]["classified"], body["result"]["failed"]) == (1, 2)

    exported = token_client.get(f"/api/v1/jobs/{job.id}/export.csv").content.decode()
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["status"], r["error"]) for r in rows] == [
        ("classified", ""),
        ("failed", "The model could not be loaded."),
        ("failed", "The model could not be loaded."),
    ]
    as_json = token_client.get(f"/api/v1/jobs/{job.id}/export.json").json()
    assert as_json["result"] == body["result"]
    # Stored rows are untouched by the report: a retry still runs the two images.
    retried = token_client.post(f"/api/v1/jobs/{job.id}/retry").json()
    assert (retried["status"], retried["progress"]["processed"]) in {("queued", 1), ("pending", 1)}
