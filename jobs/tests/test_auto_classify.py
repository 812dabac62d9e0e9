"""Auto-classify on upload: an account setting, off by default, tested through real uploads."""

from __future__ import annotations

import pytest

from classifier_site.testing.images import image_bytes
from images.models import Image
from images.tests.helpers import multipart
from jobs import services
from jobs.models import Job, JobImage

pytestmark = pytest.mark.django_db


def upload(client, files):
    body, content_type = multipart(files)
    return client.post("/images/upload/", body, content_type=content_type)


def test_off_by_default_then_new_photos_get_one_imagenet_job(client_user, user, local_storage):
    assert user.auto_classify is False
    assert upload(client_user, [("a.png", image_bytes(seed=1))]).status_code == 200
    assert (Image.objects.count(), Job.objects.count()) == (1, 0)

    settings_page = client_user.post("/accounts/settings/", {"auto_classify": "on"})
    assert settings_page.status_code == 302
    user.refresh_from_db()
    assert user.auto_classify is True

    response = upload(
        client_user,
        [
            ("b.png", image_bytes(seed=2)),
            ("c.png", image_bytes(seed=3)),
            ("again.png", image_bytes(seed=1)),  # a duplicate: classified before or not, not new
        ],
    )
    assert response.status_code == 200
    job = Job.objects.get()
    new = set(
        Image.objects.filter(original_filename__in=["b.png", "c.png"]).values_list("id", flat=True)
    )
    assert (job.owner_id, job.job_type, job.total) == (user.pk, "image_classification", 2)
    assert set(JobImage.objects.filter(job=job).values_list("image_id", flat=True)) == new
    # The gallery's nav shows it waiting; it runs like any other job (in-process here).
    gallery = client_user.get("/images/").content.decode()
    assert 'title="1 job running or waiting">1<' in gallery
    assert services.job_run(job_id=job.id) == "completed"
    assert JobImage.objects.filter(job=job, status="classified").count() == 2
    assert 'title="0 jobs running or waiting">' in client_user.get("/images/").content.decode()


def test_setting_off_again_stops_it(client_user, user, local_storage):
    client_user.post("/accounts/settings/", {"auto_classify": "on"})
    client_user.post("/accounts/settings/", {})
    user.refresh_from_db()
    assert user.auto_classify is False
    upload(client_user, [("d.png", image_bytes(seed=4))])
    assert (Image.objects.count(), Job.objects.count()) == (1, 0)
    page = client_user.get("/accounts/settings/").content.decode()
    assert 'id="auto-classify">' in page and "checked" not in page
