"""Page states added for people who live in the product (issue 12), through the test client."""

from __future__ import annotations

import pytest

from images.selectors import ImageFilters, image_list
from images.tests.factories import ImageFactory
from jobs import services
from jobs.models import ItemStatus, JobStatus

pytestmark = pytest.mark.django_db


def make_job(user, images, **kwargs):
    kwargs.setdefault("job_type", "image_classification")
    return services.job_submit(owner=user, image_ids=[i.id for i in images], **kwargs).job


def finish(job, labels, *, from_cache=False):
    """Record results as a worker would have (label per item, in position order)."""
    for item, label in zip(job.items.order_by("position"), labels, strict=True):
        item.status = ItemStatus.CLASSIFIED
        item.top_label, item.top_score = label, 0.75
        item.predictions = [{"label": label, "score": 0.75}]
        item.from_cache = from_cache
        item.save()
    job.status = JobStatus.COMPLETED
    job.processed = job.classified = len(labels)
    job.save()


def test_results_paginate_past_100_rows_and_groups_start_collapsed(client_user, user):
    images = ImageFactory.create_batch(101, owner=user)
    job = make_job(user, images)
    finish(job, ["cat" if i % 2 else "dog" for i in range(101)])

    page = client_user.get(f"/jobs/{job.id}/")
    html = page.content.decode()
    assert len(page.context["items"]) == 100
    assert "Rows 1–100 of 101 · page 1 of 2" in html
    assert '<details class="label-group" id="group-1">' in html  # not open
    assert 'href="#group-1" data-open-group>dog</a>' in html  # 51 dogs: the biggest bar

    second = client_user.get(
        f"/jobs/{job.id}/?sort=position&page=2",
        headers={"HX-Request": "true", "HX-Target": "job-results"},
    )
    assert len(second.context["items"]) == 1
    assert second.content.decode().lstrip().startswith('<section id="job-results">')


def test_job_page_says_loading_model_then_reused_results(client_user, user, images):
    job = make_job(user, images)
    assert "Waiting for a worker" in client_user.get(f"/jobs/{job.id}/").content.decode()

    job.status = JobStatus.PROCESSING
    job.save()
    assert "Loading model…" in client_user.get(f"/jobs/{job.id}/").content.decode()

    finish(job, ["cat", "cat", "dog"], from_cache=True)
    html = client_user.get(f"/jobs/{job.id}/").content.decode()
    assert "Reused stored results" in html
    assert "images/s" not in html


def test_failed_job_hides_server_paths_from_users_but_not_staff(
    client, client_user, user, staff_user, images
):
    job = make_job(user, images)
    message = "Weights not found: /srv/weights/mobilenet_v2-b0353104.pth (run the fetch command)"
    job.status, job.error_message = JobStatus.FAILED, message
    job.save()
    html = client_user.get(f"/jobs/{job.id}/").content.decode()
    assert "Weights not found: [server file] (run the fetch command)" in html
    assert "/srv/weights" not in html
    assert f'action="/jobs/{job.id}/retry/"' in html  # a failed job offers Retry

    job.owner = staff_user
    job.save()
    client.force_login(staff_user)
    assert (
        "/srv/weights/mobilenet_v2-b0353104.pth" in client.get(f"/jobs/{job.id}/").content.decode()
    )


def test_labels_on_tiles_facet_counts_and_unclassified_filter(client_user, user, other_user):
    images = [ImageFactory(owner=user, original_filename=f"p{i}.jpg") for i in range(4)]
    theirs = ImageFactory(owner=other_user)
    finish(make_job(user, images[:3]), ["tabby cat", "tabby cat", "dog"])
    finish(make_job(other_user, [theirs]), ["tabby cat"])

    html = client_user.get("/images/").content.decode()
    assert html.count('class="chip classified"') == 3
    assert 'title="tabby cat · score 0.750"' in html
    facet = client_user.get("/images/").context["facet"]()
    assert facet == [("tabby cat", 2), ("dog", 1)]  # only this user's images count

    # Part of a label, any case, matches; "unclassified" is what no job has labelled yet.
    assert {
        i.id for i in image_list(user=user, filters=ImageFilters.from_params({"label": "TABBY"}))
    } == {
        images[0].id,
        images[1].id,
    }
    unclassified = client_user.get("/images/?unclassified=1")
    assert [i.id for i in unclassified.context["page"].items] == [images[3].id]
    assert unclassified.context["filter_params"] == {"unclassified": "1"}


def test_running_badge_and_live_rows(client_user, user, images):
    assert client_user.get("/jobs/running/").content.decode().count("is-empty") == 1
    job = make_job(user, images)
    badge = client_user.get("/jobs/running/").content.decode()
    assert '>1<span class="visually-hidden"> running</span>' in badge
    assert 'hx-trigger="every 3s"' in badge
    row = client_user.get(f"/jobs/{job.id}/row/").content.decode()
    assert f'hx-get="/jobs/{job.id}/row/"' in row  # keeps polling while it runs
    finish(job, ["a", "b", "c"])
    row = client_user.get(f"/jobs/{job.id}/row/").content.decode()
    assert "hx-get" not in row and "Completed" in row


def test_another_users_job_row_is_404(client, other_user, user, images):
    job = make_job(user, images)
    client.force_login(other_user)
    response = client.get(f"/jobs/{job.id}/row/")
    assert response.status_code == 404
    assert b'class="error-page"' in response.content


def test_delete_confirm_shows_thumbnails(client_user, user):
    images = ImageFactory.create_batch(3, owner=user)
    html = client_user.get(
        "/images/delete/?" + "&".join(f"image={i.id}" for i in images)
    ).content.decode()
    assert html.count('<div class="tile"><img src="/images/') == 3


def test_upload_outcome_offers_classify_these(client_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from images.tests.corpus import jpeg

    files = [
        SimpleUploadedFile("a.jpg", jpeg(seed=1), content_type="image/jpeg"),
        SimpleUploadedFile("b.jpg", jpeg(seed=2), content_type="image/jpeg"),
        SimpleUploadedFile("c.jpg", jpeg(seed=1), content_type="image/jpeg"),  # duplicate of a
    ]
    response = client_user.post("/images/upload/", {"files": files})
    assert response.status_code == 200
    assert "Classify these 2" in response.content.decode()
