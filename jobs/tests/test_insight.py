"""Preview before you run, compare two runs, score histograms: pages and API.

Embeddings come from real runs of the tiny random-weight models (``job_run`` in-process),
so the preview is checked against what a real job with the same parameters reports.
"""

from __future__ import annotations

from collections import Counter

import pytest

from images.tests.factories import ImageFactory
from inference import tasks as inference_tasks
from inference.models import ImageEmbedding
from jobs import preview, services
from jobs.models import Job, JobImage
from jobs.services import JobRequest

pytestmark = pytest.mark.django_db

LABELS = ["cat", "dog", "bird"]


def run_job(user, images, **kwargs) -> Job:
    kwargs.setdefault("job_type", "custom_classification")
    if kwargs["job_type"] == "custom_classification":
        kwargs.setdefault("custom_labels", LABELS)
    job = services.job_submit(owner=user, image_ids=[i.id for i in images], **kwargs).job
    assert services.job_run(job_id=job.id) == "completed"
    job.refresh_from_db()
    return job


def labels_of(job) -> dict:
    return {
        item.image_id: ("unknown" if item.status == "unknown" else item.top_label)
        for item in JobImage.objects.filter(job=job)
    }


def ask(user, images, **kwargs) -> preview.Preview:
    kwargs.setdefault("job_type", "custom_classification")
    kwargs.setdefault("custom_labels", LABELS)
    return preview.job_preview(
        owner=user, request=JobRequest(image_ids=[i.id for i in images], **kwargs)
    )


# --- preview -------------------------------------------------------------------------------


def test_preview_with_the_same_parameters_changes_nothing_and_matches_the_scores(user, images):
    job = run_job(user, images, top_k=3)
    result = ask(user, images, top_k=3)
    assert (result.ready, result.total, result.embedded, result.missing) == (True, 3, 3, 0)
    assert (result.changed, result.unchanged, result.first_result) == (0, 3, 0)
    assert result.after_counts == dict(Counter(labels_of(job).values()))
    # A threshold above every score turns every label into "unknown", and lists them all.
    top = max(JobImage.objects.filter(job=job).values_list("top_score", flat=True))
    high = ask(user, images, confidence_threshold=min(1.0, top + 1e-4))
    assert (high.changed, high.unchanged) == (3, 0)
    assert high.after_counts == {"unknown": 3}
    by_image = {c.image_id: c for c in high.changes}
    assert {i: c.before for i, c in by_image.items()} == labels_of(job)
    scores = dict(JobImage.objects.filter(job=job).values_list("image_id", "top_score"))
    assert {i: round(c.score, 6) for i, c in by_image.items()} == pytest.approx(scores, abs=1e-6)


def test_preview_of_new_labels_waits_for_their_encoding_then_agrees_with_a_real_run(user, images):
    run_job(user, images)
    new_labels = ["cat", "dog", "bird", "fish", "car"]
    waiting = ask(user, images, custom_labels=new_labels)
    assert (waiting.ready, waiting.labels_pending) == (False, ["fish", "car"])
    assert (waiting.changed, waiting.unchanged) == (0, 0)
    # What the worker's actor does on the request (the actor's body, in this process).
    inference_tasks.labels_encode.fn(waiting.model_version.pk, waiting.labels_pending)
    result = ask(user, images, custom_labels=new_labels)
    assert result.ready
    job = run_job(user, images, custom_labels=new_labels)
    assert result.after_counts == dict(Counter(labels_of(job).values()))
    assert result.changed + result.unchanged == 3


def test_preview_imagenet_matches_a_real_run_and_counts_images_never_embedded(user, images):
    job = run_job(user, images[:2], job_type="image_classification", top_k=1)
    result = ask(user, images, job_type="image_classification", custom_labels=None)
    assert (result.embedded, result.missing, result.unchanged, result.changed) == (2, 1, 2, 0)
    assert result.after_counts == dict(Counter(labels_of(job).values()))
    assert ImageEmbedding.objects.count() == 2  # the preview computed nothing


def test_preview_page_and_api_report_the_same_changes(client_user, token_client, user, images):
    job = run_job(user, images)
    top = max(JobImage.objects.filter(job=job).values_list("top_score", flat=True))
    form = {
        "image": [str(i.id) for i in images],
        "job_type": "custom_classification",
        "custom_labels": "\n".join(LABELS),
        "top_k": "3",
        "confidence_threshold": str(min(1.0, top + 1e-4)),
    }
    page = client_user.post("/jobs/preview/", form)
    assert page.status_code == 200
    assert page.context["preview"].changed == 3
    assert '<h2 id="preview-changed">3</h2>' in page.content.decode()
    assert 'formaction="/jobs/new/"' in page.content.decode()  # then run it
    partial = client_user.post("/jobs/preview/", form, HTTP_HX_REQUEST="true")
    assert partial.content.decode().lstrip().startswith('<section id="preview-result"')
    api = token_client.post(
        "/api/v1/preview",
        {
            "job_type": "custom_classification",
            "image_ids": [str(i.id) for i in images],
            "custom_labels": LABELS,
            "confidence_threshold": min(1.0, top + 1e-4),
        },
        format="json",
    )
    assert api.status_code == 200
    body = api.json()
    assert (body["changed"], body["unchanged"], body["ready"], body["missing"]) == (3, 0, True, 0)
    assert sorted(c["image_id"] for c in body["changes"]) == sorted(str(i.id) for i in images)
    assert Job.objects.count() == 1  # previews create nothing


def test_preview_of_another_users_images_is_refused_like_a_submit(
    client_user, token_client, images, other_image
):
    api = token_client.post(
        "/api/v1/preview",
        {"job_type": "image_classification", "image_ids": [str(other_image.id)]},
        format="json",
    )
    assert api.status_code == 400
    assert api.json()["error"]["fields"] == {
        "image_ids": [f"Unknown image id(s): {other_image.id}."]
    }
    bad = token_client.post(
        "/api/v1/preview",
        {"job_type": "image_classification", "image_ids": [str(images[0].id)], "top_k": 11},
        format="json",
    )
    assert (bad.status_code, bad.json()["error"]["fields"]) == (
        400,
        {"top_k": ["Must be between 1 and 10."]},
    )
    page = client_user.post(
        "/jobs/preview/",
        {
            "image": [str(other_image.id)],
            "job_type": "image_classification",
            "top_k": "5",
            "confidence_threshold": "0",
        },
    )
    assert page.status_code == 200
    assert page.context["preview"] is None
    assert "Unknown image id(s)" in page.content.decode()
    assert Job.objects.count() == 0


# --- compare -------------------------------------------------------------------------------


def test_compare_two_runs_page_and_api(client_user, token_client, user, images):
    extra = ImageFactory(stored=True, owner=user, seed=7)
    job_a = run_job(user, images)
    top = max(JobImage.objects.filter(job=job_a).values_list("top_score", flat=True))
    job_b = run_job(user, [*images[:2], extra], confidence_threshold=min(1.0, top + 1e-4), top_k=2)
    labels_a = labels_of(job_a)
    api = token_client.get(f"/api/v1/compare?a={job_a.id}&b={job_b.id}")
    assert api.status_code == 200
    body = api.json()
    assert (body["overlap"], body["agree"], body["only_a"], body["only_b"]) == (2, 0, 1, 1)
    assert body["agreement"] == 0.0
    shared = Counter(labels_a[i.id] for i in images[:2])
    assert body["labels_a"] == sorted(shared)
    assert body["labels_b"] == ["unknown"]
    assert body["confusion"] == [[shared[label]] for label in sorted(shared)]
    assert sorted(c["image_id"] for c in body["changed"]) == sorted(str(i.id) for i in images[:2])
    assert body["a"]["settings"]["confidence_threshold"] == 0.0
    assert body["b"]["settings"]["top_k"] == 2
    assert body["a"]["model"]["weights_sha256"] == job_a.model_version.weights_sha256 != ""
    page = client_user.get(f"/jobs/compare/?a={job_a.id}&b={job_b.id}")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<h2 id="compare-agreement">0%</h2>' in html
    assert job_a.model_version.weights_sha256 in html
    same = token_client.get(f"/api/v1/compare?a={job_a.id}&b={job_a.id}").json()
    assert (same["agreement"], same["changed_total"]) == (1.0, 0)


# --- histogram -----------------------------------------------------------------------------


def test_histogram_and_unknown_reasons_page_and_api(client_user, token_client, user, images):
    first = run_job(user, images)
    scores = sorted(JobImage.objects.filter(job=first).values_list("top_score", flat=True))
    threshold = round((scores[0] + scores[1]) / 2, 6)  # exactly one image falls below
    job = run_job(user, images, confidence_threshold=threshold)
    api = token_client.get(f"/api/v1/jobs/{job.id}/histogram")
    assert api.status_code == 200
    body = api.json()
    assert (body["scored"], body["threshold"]) == (3, threshold)
    assert sum(b["count"] for b in body["buckets"]) == 3
    assert len(body["buckets"]) == 20
    low = JobImage.objects.get(job=job, status="unknown")
    assert [u["image_id"] for u in body["unknown"]] == [str(low.image_id)]
    reason = body["unknown"][0]["text"]
    assert reason == f"best was {low.top_score:.2f} ({low.top_label}), below {threshold:.2f}"
    page = client_user.get(f"/jobs/{job.id}/thresholds/")
    assert page.status_code == 200
    html = page.content.decode()
    assert reason in html
    assert html.count('class="hist-bar') == 20
    assert f'x1="{round(threshold * 200, 2)}"' in html


# --- isolation -----------------------------------------------------------------------------


def test_new_job_routes_are_404_for_another_user(
    client, token_client, other_token_client, other_user, user, images
):
    job = run_job(user, images)
    client.force_login(other_user)
    before = (Job.objects.count(), JobImage.objects.count())
    assert client.get(f"/jobs/{job.id}/thresholds/").status_code == 404
    assert client.get(f"/jobs/compare/?a={job.id}&b={job.id}").status_code == 404
    assert other_token_client.get(f"/api/v1/jobs/{job.id}/histogram").status_code == 404
    assert other_token_client.get(f"/api/v1/compare?a={job.id}&b={job.id}").status_code == 404
    mine = run_job(other_user, [ImageFactory(stored=True, owner=other_user, seed=50)])
    # One of mine and one of theirs: still nothing of theirs is shown.
    assert other_token_client.get(f"/api/v1/compare?a={mine.id}&b={job.id}").status_code == 404
    assert client.get(f"/jobs/compare/?a={mine.id}&b={job.id}").status_code == 404
    assert (Job.objects.count() - 1, JobImage.objects.count() - 1) == before
