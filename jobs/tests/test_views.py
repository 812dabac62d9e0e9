from __future__ import annotations

import pytest

from jobs import services
from jobs.models import Job

pytestmark = pytest.mark.django_db


def make_job(user, images, **kwargs):
    kwargs.setdefault("job_type", "image_classification")
    return services.job_submit(owner=user, image_ids=[i.id for i in images], **kwargs).job


def test_new_job_form_lists_the_selection(client_user, images):
    response = client_user.get(f"/jobs/new/?image={images[0].id}&image={images[1].id}")
    assert response.status_code == 200
    assert response.context["count"] == 2
    assert [i.id for i in response.context["preview"]] == [images[1].id, images[0].id]


def test_new_job_for_all_filtered_images(client_user, images):
    response = client_user.post(
        "/jobs/new/",
        {
            "all": "1",
            "job_type": "image_classification",
            "top_k": "5",
            "confidence_threshold": "0.1",
        },
    )
    job = Job.objects.get()
    assert response["Location"] == f"/jobs/{job.id}/"
    assert (job.total, job.confidence_threshold) == (3, 0.1)


def test_new_job_errors_name_every_field_at_once(client_user, images):
    """Issue 12, bug 9: every problem the form can see is reported in one submit."""
    response = client_user.post(
        "/jobs/new/",
        {
            "image": [images[0].id],
            "job_type": "custom_classification",
            "top_k": "11",
            "confidence_threshold": "0",
        },
    )
    assert response.status_code == 400
    assert sorted(response.context["form"].errors) == ["custom_labels", "top_k"]
    assert response.content.decode().count("Ensure this value is less than or equal to 10") == 1
    assert Job.objects.count() == 0


def test_detail_polls_until_terminal(client_user, user, images):
    job = make_job(user, images)
    page = client_user.get(f"/jobs/{job.id}/")
    assert b'hx-trigger="every 2s"' in page.content
    partial = client_user.get(
        f"/jobs/{job.id}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-progress"
    )
    assert partial.content.decode().lstrip().startswith('<section id="job-progress"')
    assert "HX-Refresh" not in partial
    services.job_run(job_id=job.id)
    partial = client_user.get(
        f"/jobs/{job.id}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-progress"
    )
    assert b"every 2s" not in partial.content
    assert partial["HX-Refresh"] == "true"
    page = client_user.get(f"/jobs/{job.id}/?sort=-confidence")
    assert b"Label distribution" in page.content
    assert len(page.context["items"]) == 3


def test_history_list_filters_and_no_n_plus_one(
    client_user, user, images, django_assert_num_queries
):
    for _ in range(5):
        make_job(user, images[:1])
    done = make_job(user, images)
    services.job_run(job_id=done.id)
    # session, user, count, page of jobs (+ model versions joined), nav badge
    with django_assert_num_queries(5):
        response = client_user.get("/jobs/")
    assert response.context["page"].paginator.count == 6
    response = client_user.get("/jobs/?status=completed&sort=-size")
    assert [j.id for j in response.context["page"].object_list] == [done.id]


def test_delete_finished_job_from_page(client_user, user, images):
    job = make_job(user, images)
    services.job_cancel(job=job)
    response = client_user.post(f"/jobs/{job.id}/delete/")
    assert response["Location"] == "/jobs/"
    assert Job.objects.count() == 0
