from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from jobs import services
from jobs.models import Job, JobImage

pytestmark = pytest.mark.django_db


def make_job(user, images, **kwargs):
    kwargs.setdefault("job_type", "image_classification")
    return services.job_submit(owner=user, image_ids=[i.id for i in images], **kwargs).job


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"image_ids": ["00000000-0000-0000-0000-000000000000"]}, "image_ids"),
        ({"top_k": 0}, "top_k"),
        ({"top_k": 11}, "top_k"),
        ({"confidence_threshold": 1.5}, "confidence_threshold"),
        ({"job_type": "custom_classification"}, "custom_labels"),
        ({"job_type": "bogus"}, "job_type"),
    ],
)
def test_submit_validation_is_400_naming_the_field(token_client, images, body, field):
    payload = {"job_type": "image_classification", "image_ids": [str(images[0].id)], **body}
    response = token_client.post("/api/v1/submit", payload, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert Job.objects.count() == 0


def test_submit_with_another_users_image_is_400(token_client, other_image):
    response = token_client.post(
        "/api/v1/submit",
        {"job_type": "image_classification", "image_ids": [str(other_image.id)]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "image_ids": [f"Unknown image id(s): {other_image.id}."]
    }
    assert Job.objects.count() == 0


def test_status_result_and_list_shapes(token_client, user, images):
    job = make_job(user, images, top_k=2)
    services.job_run(job_id=job.id)
    status = token_client.get(f"/api/v1/status/{job.id}").json()
    assert (status["job_id"], status["status"]) == (str(job.id), "completed")
    assert {k: status["progress"][k] for k in ("processed", "total", "percent")} == {
        "processed": 3,
        "total": 3,
        "percent": 100,
    }
    assert set(status) >= {"created_at", "updated_at"}
    result = token_client.get(f"/api/v1/result/{job.id}").json()
    assert (
        result["result"]["total_images"],
        result["result"]["classified"],
        result["result"]["unknown"],
    ) == (3, 3, 0)
    first = result["result"]["images"][0]
    assert set(first) == {
        "image_id",
        "filename",
        "s3_key",
        "key",
        "status",
        "top_prediction",
        "top_confidence",
        "all_predictions",
        "processing_time_ms",
        "error",
    }
    assert first["top_prediction"] == first["all_predictions"][0]["label"]
    listing = token_client.get("/api/v1/jobs?limit=1&status=completed").json()
    assert (listing["total"], len(listing["jobs"]), listing["jobs"][0]["job_id"]) == (
        1,
        1,
        str(job.id),
    )
    assert token_client.get("/api/v1/jobs?job_type=custom_classification").json()["total"] == 0


def test_export_csv_and_json(token_client, user, images):
    job = make_job(user, images)
    services.job_run(job_id=job.id)
    csv = token_client.get(f"/api/v1/jobs/{job.id}/export.csv")
    assert csv.status_code == 200
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("filename,key,image_id,status,top_prediction")
    assert len(lines) == 4
    data = token_client.get(f"/api/v1/jobs/{job.id}/export.json")
    assert data["Content-Disposition"] == f'attachment; filename="job-{job.id}.json"'


def test_cancel_retry_delete(token_client, user, images):
    job = make_job(user, images)
    assert token_client.post(f"/api/v1/jobs/{job.id}/cancel").json()["status"] == "canceled"
    assert token_client.post(f"/api/v1/jobs/{job.id}/cancel").status_code == 409
    assert token_client.delete(f"/api/v1/jobs/{job.id}").status_code == 204
    assert Job.objects.count() == 0


def test_other_user_gets_404_everywhere_and_nothing_changes(
    other_token_client, client, other_user, user, images
):
    job = make_job(user, images)
    client.force_login(other_user)
    api_calls = [
        ("get", f"/api/v1/status/{job.id}"),
        ("get", f"/api/v1/result/{job.id}"),
        ("get", f"/api/v1/jobs/{job.id}/export.csv"),
        ("get", f"/api/v1/jobs/{job.id}/export.json"),
        ("post", f"/api/v1/jobs/{job.id}/cancel"),
        ("post", f"/api/v1/jobs/{job.id}/retry"),
        ("delete", f"/api/v1/jobs/{job.id}"),
    ]
    for method, url in api_calls:
        assert getattr(other_token_client, method)(url).status_code == 404, url
    page_calls = [
        ("get", f"/jobs/{job.id}/"),
        ("get", f"/jobs/{job.id}/export.csv"),
        ("post", f"/jobs/{job.id}/cancel/"),
        ("post", f"/jobs/{job.id}/retry/"),
        ("post", f"/jobs/{job.id}/delete/"),
    ]
    for method, url in page_calls:
        assert getattr(client, method)(url).status_code == 404, url
    partial = client.get(f"/jobs/{job.id}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-progress")
    assert partial.status_code == 404
    assert other_token_client.get("/api/v1/jobs").json()["total"] == 0
    job.refresh_from_db()
    assert (job.status, job.owner_id, JobImage.objects.filter(job=job).count()) == (
        "pending",
        user.pk,
        3,
    )


@pytest.mark.django_db(transaction=True)
def test_ten_parallel_submits_with_one_idempotency_key_make_one_job(user, images):
    token, _ = Token.objects.get_or_create(user=user)
    payload = {"job_type": "image_classification", "image_ids": [str(i.id) for i in images]}
    barrier = threading.Barrier(10)
    results: list = []

    def submit():
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_IDEMPOTENCY_KEY="k-1")
        try:
            barrier.wait()
            response = api.post("/api/v1/submit", payload, format="json")
            results.append((response.status_code, response.json()["job_id"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Job.objects.count() == 1
    job = Job.objects.get()
    assert sorted(code for code, _ in results) == [200] * 9 + [201]
    assert {job_id for _, job_id in results} == {str(job.id)}
    assert JobImage.objects.filter(job=job).count() == 3


def test_submit_for_a_model_no_worker_can_run_is_409_at_once(token_client, images):
    from inference.models import ModelAvailability, ModelVersion

    clip = ModelVersion.objects.get(kind="zero_shot", is_active=True)
    # The worker found the CLIP weights missing at start: what it records (with the path).
    ModelAvailability.objects.filter(model_version__kind="zero_shot").update(
        ready=False, reason="Weights for open_clip/... are missing: put x.bin at /srv/weights/x.bin"
    )
    payload = {
        "job_type": "custom_classification",
        "image_ids": [str(images[0].id)],
        "custom_labels": ["cat", "dog"],
    }
    response = token_client.post("/api/v1/submit", payload, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "conflict",
        "message": "model_version: No model for this job type is available right now: the "
        "workers cannot run one yet. Try again later or contact the administrator.",
        "fields": {
            "model_version": [
                "No model for this job type is available right now: the workers cannot "
                "run one yet. Try again later or contact the administrator."
            ]
        },
    }
    response = token_client.post(
        "/api/v1/submit", {**payload, "model_version": clip.pk}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["message"] == (
        f"model_version: The model {clip.name} is not available right now: no worker can run it. "
        "Choose another model or contact the administrator."
    )
    assert "/srv" not in response.content.decode()
    assert Job.objects.count() == 0
