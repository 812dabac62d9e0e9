"""The seed's job endpoints, as its documents write them, over real HTTP.

Seed 000: POST /submit {job_type, s3_keys, top_k, confidence_threshold, custom_labels}
-> {job_id, status: "queued", message}; GET /status/{jobId}; GET /result/{jobId};
GET /jobs?limit&status&job_type -> {jobs: [...], total}. Seed 004: POST /predict
(multipart ``file`` + ``user_id``) and GET /predictions?user_id&page&limit.
"""

from __future__ import annotations

import re
import uuid

import pytest
from rest_framework.authtoken.models import Token

from classifier_site.testing.api import link_rels
from classifier_site.testing.seed_client import SeedClient
from images.tests import corpus
from jobs import services
from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
STATUSES = {"pending", "queued", "processing", "completed", "failed"}


@pytest.fixture
def seed(live_server, user, queues):
    # Default storage: the local media folder a worker process started here shares.
    token, _ = Token.objects.get_or_create(user=user)
    return SeedClient(f"{live_server.url}/api/v1", token.key)


def _uploaded(seed: SeedClient, n: int) -> list[str]:
    keys = []
    for i in range(n):
        grant = seed.upload_url(f"image{i + 1}.jpg", "image/jpeg").json()
        put = seed.put_file(grant["upload_url"], corpus.jpeg(seed=40 + i), "image/jpeg")
        assert put.status_code == 201, put.text
        keys.append(grant["s3_key"])
    return keys


def test_submit_status_result_jobs_as_documented(seed):
    keys = _uploaded(seed, 2)

    submitted = seed.submit(
        {
            "job_type": "custom_classification",
            "s3_keys": keys,
            "top_k": 2,
            "confidence_threshold": 0.0,
            "custom_labels": ["cat", "dog", "bird"],
        }
    )

    assert submitted.status_code in (200, 201, 202), submitted.text
    body = submitted.json()
    assert body["status"] == "queued"  # the message is on the queue when the answer leaves
    assert body["message"] == "Job submitted successfully"
    job_id = body["job_id"]
    uuid.UUID(job_id)

    status = seed.status(job_id).json()
    assert status["job_id"] == job_id
    assert status["status"] in STATUSES
    assert ISO.match(status["created_at"]) and ISO.match(status["updated_at"])

    services.job_run(job_id=job_id)  # the worker's step, in this process

    result = seed.result(job_id).json()
    assert (result["job_id"], result["status"]) == (job_id, "completed")
    summary = result["result"]
    assert (summary["total_images"], summary["classified"] + summary["unknown"]) == (2, 2)
    assert [i["s3_key"] for i in summary["images"]] == keys
    assert [i["filename"] for i in summary["images"]] == ["image1.jpg", "image2.jpg"]
    for image in summary["images"]:
        assert image["top_prediction"] in {"cat", "dog", "bird"}
        assert isinstance(image["top_confidence"], float)
        assert [set(p) for p in image["all_predictions"]] == [{"label", "score"}] * 2
        assert image["top_prediction"] == image["all_predictions"][0]["label"]
        assert isinstance(image["processing_time_ms"], float)

    listing = seed.jobs(limit=100, status="completed", job_type="custom_classification")
    assert listing.status_code == 200
    jobs = listing.json()
    assert jobs["total"] == 1
    assert set(jobs["jobs"][0]) >= {"job_id", "status", "job_type", "created_at", "completed_at"}
    assert (jobs["jobs"][0]["job_id"], jobs["jobs"][0]["status"]) == (job_id, "completed")
    assert ISO.match(jobs["jobs"][0]["completed_at"])
    assert seed.jobs(status="failed").json() == {"jobs": [], "total": 0, "limit": 100, "offset": 0}


def test_image_classification_with_the_documented_defaults(seed):
    keys = _uploaded(seed, 1)

    body = seed.submit({"job_type": "image_classification", "s3_keys": keys}).json()
    services.job_run(job_id=body["job_id"])
    result = seed.result(body["job_id"]).json()

    assert result["result"]["total_images"] == 1
    assert len(result["result"]["images"][0]["all_predictions"]) == 5  # top_k's default


def test_submit_names_keys_and_ids_alike(seed, user):
    keys = _uploaded(seed, 2)
    from images.models import Image

    second_id = str(Image.objects.get(staged_uploads__key=keys[1]).pk)

    body = seed.submit({"job_type": "image_classification", "s3_keys": [keys[0], second_id]})

    assert body.status_code == 201
    job = Job.objects.get(pk=body.json()["job_id"])
    assert [i.filename for i in job.items.order_by("position")] == ["image1.jpg", "image2.jpg"]


def test_submit_with_an_unknown_key_is_400_naming_it(seed):
    response = seed.submit({"job_type": "image_classification", "s3_keys": ["uploads/nope.jpg"]})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "s3_keys": ["Unknown image id(s): uploads/nope.jpg."]
    }
    assert Job.objects.count() == 0


def test_jobs_list_pages_in_link_headers(seed, user):
    keys = _uploaded(seed, 1)
    for _ in range(3):
        seed.submit({"job_type": "image_classification", "s3_keys": keys})

    first = seed.jobs(limit=2)
    links = link_rels(first)
    second = seed.http.get(links["next"])

    assert (first.json()["total"], first.headers["X-Total-Count"]) == (3, "3")
    assert len(first.json()["jobs"]) == 2 and len(second.json()["jobs"]) == 1
    assert set(link_rels(second)) == {"first", "prev"}
    ids = [j["job_id"] for j in first.json()["jobs"] + second.json()["jobs"]]
    assert sorted(ids) == sorted(str(i) for i in Job.objects.values_list("id", flat=True))


@pytest.mark.workers
def test_predict_and_history_as_seed_004_documents(
    seed, user, dramatiq_worker, inference_weights, settings
):
    # Long enough for a worker that is still loading on a busy machine.
    settings.PREDICT_WAIT_SECONDS = 150
    dramatiq_worker(queues=["predict"], env={**inference_weights, "INFERENCE_BATCH_SIZE": "2"})

    response = seed.predict("cat.jpg", corpus.jpeg(seed=50), user_id=str(uuid.uuid4()))

    assert response.status_code == 200, response.text
    body = response.json()
    uuid.UUID(body["prediction_id"]) and uuid.UUID(body["image_id"])
    assert isinstance(body["predicted_class"], str) and body["predicted_class"], str(body)
    assert isinstance(body["confidence_score"], float)
    assert isinstance(body["prediction_time_ms"], int)

    history = seed.predictions(user_id=str(uuid.uuid4()), page=1, limit=10).json()
    assert (history["total"], history["page"], history["limit"]) == (1, 1, 10)
    item = history["predictions"][0]
    assert (item["prediction_id"], item["image_id"]) == (body["prediction_id"], body["image_id"])
    assert item["predicted_class"] == body["predicted_class"]
    assert ISO.match(item["created_at"])
