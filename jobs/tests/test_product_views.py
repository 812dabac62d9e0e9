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


def test_cancel_at_64_of_80_reads_64_classified_16_canceled_everywhere(client_user, user):
    """Bug 6: a job canceled at 64/80 later read "Canceled" with 80/80 classified."""
    from django.utils import timezone

    from jobs.runs import _record

    job = make_job(user, ImageFactory.create_batch(80, owner=user))
    items = list(job.items.order_by("position"))

    def results(batch):
        # What a worker's batch writes, through the runner's own write path.
        by_shard: dict[int, dict] = {}
        for item in batch:
            by_shard.setdefault(item.shard_id, {})[item.pk] = {
                "status": ItemStatus.CLASSIFIED,
                "top_label": "cat",
                "top_score": 0.9,
                "predictions": [{"label": "cat", "score": 0.9}],
                "processing_ms": 1.0,
                "from_cache": False,
                "completed_at": timezone.now(),
                "error": "",
            }
        return sum(_record(job, shard, rows) for shard, rows in by_shard.items())

    type(job).objects.filter(pk=job.pk).update(status=JobStatus.PROCESSING)
    assert results(items[:64]) == 64
    services.job_cancel(job=job)
    # A batch already in flight when the cancel came finishes later: it writes nothing.
    assert results(items) == 0
    job.refresh_from_db()
    assert (job.status, job.processed, job.classified, job.canceled) == ("canceled", 64, 64, 16)

    page = client_user.get(f"/jobs/{job.id}/").content.decode()
    assert "Canceled</span> 64 classified, 16 canceled." in page
    assert "<h2>16</h2><p>canceled (never ran)</p>" in page
    # Each of the 16 result rows says canceled, none reads pending.
    assert page.count('class="item-canceled"') == 16
    assert page.count('<span class="badge canceled">canceled</span>') == 16
    assert '<span class="badge pending">' not in page
    assert "80 / 80" not in page and "64 / 80" in page

    history = client_user.get("/jobs/").content.decode()
    row = history[history.index(f'id="job-row-{job.id}"') :]
    row = row[: row.index("</tr>")]
    assert "64 / 80" in row and "(16 canceled)" in row and "Canceled" in row

    dashboard = client_user.get("/").content.decode()
    assert "(16 canceled)" in dashboard

    csv_rows = client_user.get(f"/jobs/{job.id}/export.csv").content.decode().splitlines()
    assert sum(",canceled," in line for line in csv_rows) == 16
    assert sum(",classified," in line for line in csv_rows) == 64


def test_job_names_given_or_made_from_labels_or_category_show_in_history(client_user, user, images):
    from categories.services import category_create
    from jobs.models import Job

    def submit(**fields):
        data = {"image": [i.id for i in images[:2]], "top_k": "5", "confidence_threshold": "0"}
        response = client_user.post("/jobs/new/", {**data, **fields})
        assert response.status_code == 302, response.content.decode()[:2000]
        return Job.objects.get(pk=response["Location"].split("/")[2])

    named = submit(job_type="image_classification", name="  Holiday   sort ")
    assert named.name == "Holiday sort"
    labels = submit(job_type="custom_classification", custom_labels="cat\ndog\nbird\nfish")
    assert labels.name == "cat, dog, bird +1 · 2 images"
    pets = category_create(owner=user, name="Pets", labels=["cat", "dog"])
    from_category = submit(job_type="custom_classification", category=str(pets.pk))
    assert from_category.name == "Pets · 2 images"
    imagenet = submit(job_type="image_classification")
    assert imagenet.name == f"{imagenet.model_version.name} · 2 images"

    page = client_user.get(f"/jobs/{named.id}/").content.decode()
    assert '<h1><span id="job-name">Holiday sort</span>' in page
    assert "<title>Holiday sort" in page
    history = client_user.get("/jobs/").content.decode()
    for job in (named, labels, from_category, imagenet):
        assert f'<a class="job-name" href="/jobs/{job.id}/">{job.name}</a>' in history

    # Too long: the form says so and nothing is created.
    response = client_user.post(
        "/jobs/new/",
        {
            "image": [images[0].id],
            "job_type": "image_classification",
            "top_k": "5",
            "confidence_threshold": "0",
            "name": "x" * 121,
        },
    )
    assert response.status_code == 400
    assert "at most 120 characters" in response.content.decode()
    assert Job.objects.count() == 4


def test_new_uploads_and_jobs_show_as_a_polled_n_new_line(client_user, user, other_user, images):
    """The gallery and the history poll a small "N new" line, never the whole list."""
    import re

    gallery = client_user.get("/images/?q=a").content.decode()
    poll = re.search(r'id="gallery-fresh"[^>]*hx-get="([^"]+)" hx-trigger="every 10s"', gallery)
    assert poll, gallery
    url = poll.group(1).replace("&amp;", "&")
    assert "since=" in url
    # Nothing new yet: an empty line that keeps polling.
    line = client_user.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "new image" not in line and 'hx-trigger="every 10s"' in line

    ImageFactory(owner=other_user)  # someone else's upload is not news to this user
    ImageFactory.create_batch(2, owner=user)
    line = client_user.get(
        url,
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/images/?q=a&sort=name"},
    ).content.decode()
    assert '<span class="fresh-count">2 new images</span>' in line
    assert 'href="/images/?q=a&amp;sort=name">Show</a>' in line  # the filters in effect
    # The line it swaps in polls on from the same mark: still 2, not 0.
    again = re.search(r'hx-get="([^"]+)"', line).group(1).replace("&amp;", "&")
    assert again == url

    history = client_user.get("/jobs/").content.decode()
    poll = re.search(r'id="job-fresh"[^>]*hx-get="([^"]+)"', history)
    assert poll, history
    url = poll.group(1).replace("&amp;", "&")
    assert "new job" not in client_user.get(url).content.decode()
    make_job(user, images)
    make_job(other_user, [ImageFactory(owner=other_user)])
    line = client_user.get(url, headers={"HX-Current-URL": "http://evil.example/jobs/"})
    assert '<span class="fresh-count">1 new job</span>' in line.content.decode()
    assert 'href="/jobs/">Show</a>' in line.content.decode()  # another host: not followed

    bad = client_user.get("/jobs/fresh/?since=yesterday")
    assert bad.status_code == 400
    assert "ISO 8601" in bad.content.decode()
