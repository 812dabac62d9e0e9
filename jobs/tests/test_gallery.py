from __future__ import annotations

import pytest

from classifier_site.core.errors import Conflict
from images import services as image_services
from images.models import Image
from images.selectors import ImageFilters, image_list
from jobs import services
from jobs.models import JobImage

pytestmark = pytest.mark.django_db


def test_gallery_filters_by_predicted_label_and_detail_lists_predictions(client_user, user, images):
    job = services.job_submit(
        owner=user,
        job_type="custom_classification",
        image_ids=[i.id for i in images[:2]],  # the last image is never classified
        custom_labels=["cat", "dog"],
    ).job
    services.job_run(job_id=job.id)
    label = JobImage.objects.get(job=job, image=images[0]).top_label
    expected = set(
        JobImage.objects.filter(job=job, top_label=label).values_list("image_id", flat=True)
    )
    found = image_list(user=user, filters=ImageFilters.from_params({"label": label.upper()}))
    assert set(found.values_list("id", flat=True)) == expected
    # Only images with that label: the never-classified image is filtered out.
    assert images[2].id not in expected
    assert images[0].id in expected
    page = client_user.get(f"/images/{images[0].id}/")
    assert page.status_code == 200
    assert f'href="/images/?label={label}"'.encode() in page.content
    gallery = client_user.get("/images/", {"label": label}).content.decode()
    assert f'name="label" value="{label}"' in gallery
    shown = {str(i.id) for i in images if f'value="{i.id}"' in gallery}
    assert shown == {str(i) for i in expected}


def test_image_in_unfinished_job_cannot_be_deleted(user, images):
    job = services.job_submit(
        owner=user, job_type="image_classification", image_ids=[images[0].id]
    ).job
    with pytest.raises(Conflict):
        image_services.image_delete(user=user, image=images[0])
    assert Image.objects.filter(pk=images[0].pk).exists()
    services.job_run(job_id=job.id)
    image_services.image_delete(user=user, image=images[0])
    assert JobImage.objects.get(job=job).image_id is None
