"""Labels people own (per photo, bulk, from a job), filter, CSV export, dataset zip."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from images.models import UserLabel
from jobs import services
from jobs.models import JobImage

pytestmark = pytest.mark.django_db


def run_custom(user, images, **kwargs):
    job = services.job_submit(
        owner=user,
        image_ids=[i.id for i in images],
        job_type="custom_classification",
        custom_labels=["cat", "dog", "bird"],
        **kwargs,
    ).job
    services.job_run(job_id=job.id)
    return job


def test_accept_and_override_per_photo_and_in_bulk(client_user, user, images):
    job = run_custom(user, images)
    predicted = dict(JobImage.objects.filter(job=job).values_list("image_id", "top_label"))
    # Bulk accept from the gallery's selection.
    response = client_user.post(
        "/jobs/labels/accept/", {"image": [str(i.id) for i in images], "next": "/images/"}
    )
    assert response.status_code == 302 and response["Location"] == "/images/"
    rows = {r.image_id: (r.label, r.source, r.labelled_by_id) for r in UserLabel.objects.all()}
    assert rows == {i: (label, "accepted", user.id) for i, label in predicted.items()}
    # Override one photo by hand; re-running a job leaves it alone.
    page = client_user.post(f"/images/{images[0].id}/label/", {"label": "  my   tabby "})
    assert page.status_code == 302
    run_custom(user, images)
    assert UserLabel.objects.get(image=images[0]).label == "my tabby"
    assert UserLabel.objects.get(image=images[0]).source == "override"
    detail = client_user.get(f"/images/{images[0].id}/").content.decode()
    assert '<strong class="user-label">my tabby</strong>' in detail
    # Shown on tiles and filterable.
    gallery = client_user.get("/images/?user_label=MY+TABBY")
    assert [i.id for i in gallery.context["page"].items] == [images[0].id]
    assert "✔ my tabby" in gallery.content.decode()
    # Bulk set and clear through the confirm page.
    ids = [str(i.id) for i in images[1:]]
    assert client_user.get("/images/labels/", {"image": ids}).context["count"] == 2
    client_user.post("/images/labels/", {"image": ids, "label": "pet", "action": "set"})
    assert set(UserLabel.objects.values_list("label", flat=True)) == {"my tabby", "pet"}
    client_user.post("/images/labels/", {"image": ids, "action": "clear"})
    assert list(UserLabel.objects.values_list("label", flat=True)) == ["my tabby"]
    bad = client_user.post("/images/labels/", {"image": ids, "label": "   ", "action": "set"})
    assert bad.status_code == 302 and UserLabel.objects.count() == 1


def test_labels_api_set_accept_job_list_and_csv(token_client, user, images):
    job = run_custom(user, images, confidence_threshold=0.0)
    accepted = token_client.post("/api/v1/labels/accept", {"job_id": str(job.id)}, format="json")
    assert accepted.json() == {"accepted": 3, "skipped": 0}
    response = token_client.post(
        "/api/v1/labels", {"image_ids": [str(images[0].id)], "label": "mug"}, format="json"
    )
    assert response.json() == {"count": 1}
    listed = token_client.get("/api/v1/labels?label=mug").json()
    assert [(r["image_id"], r["source"], r["labelled_by"]) for r in listed] == [
        (str(images[0].id), "override", "alice")
    ]
    exported = token_client.get("/api/v1/labels/export.csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert sorted(r["image_id"] for r in rows) == sorted(str(i.id) for i in images)
    empty = token_client.post("/api/v1/labels", {"image_ids": [], "label": "x"}, format="json")
    assert empty.status_code == 400
    assert empty.json()["error"]["fields"] == {"image_ids": ["Choose at least one image."]}
    neither = token_client.post("/api/v1/labels/accept", {}, format="json")
    assert neither.status_code == 400


def test_dataset_zip_has_a_folder_per_label_and_a_csv(client_user, token_client, user, images):
    job = run_custom(user, images[:2])
    predicted = dict(JobImage.objects.filter(job=job).values_list("image_id", "top_label"))
    token_client.post(
        "/api/v1/labels", {"image_ids": [str(images[2].id)], "label": "my mug"}, format="json"
    )
    response = client_user.get("/jobs/dataset.zip", {"all": "1"})
    assert response.status_code == 200 and response.streaming
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    expected = {f"{predicted[i.id]}/{i.original_filename}" for i in images[:2]}
    expected.add(f"my mug/{images[2].original_filename}")
    assert set(archive.namelist()) == expected | {"labels.csv"}
    table = list(csv.reader(io.StringIO(archive.read("labels.csv").decode())))
    assert table[0] == ["file", "label"]
    assert {tuple(r) for r in table[1:]} == {(p, p.split("/")[0]) for p in expected}
    stored = images[2].file.open("rb").read()
    assert archive.read(f"my mug/{images[2].original_filename}") == stored
    api = token_client.post("/api/v1/dataset", {"image_ids": [str(images[2].id)]}, format="json")
    names = zipfile.ZipFile(io.BytesIO(b"".join(api.streaming_content))).namelist()
    assert names == [f"my mug/{images[2].original_filename}", "labels.csv"]


def test_label_routes_are_404_or_refused_for_another_user(
    client, other_user, other_token_client, user, images
):
    job = run_custom(user, images)
    client.force_login(other_user)
    assert client.post(f"/images/{images[0].id}/label/", {"label": "x"}).status_code == 404
    assert client.get("/images/labels/", {"image": [str(images[0].id)]}).status_code == 404
    assert client.post(f"/jobs/{job.id}/accept/").status_code == 404
    assert client.get("/jobs/dataset.zip", {"image": [str(images[0].id)]}).status_code == 404
    api = other_token_client.post(
        "/api/v1/labels", {"image_ids": [str(images[0].id)], "label": "x"}, format="json"
    )
    assert api.status_code == 400
    assert (
        other_token_client.post(
            "/api/v1/labels/accept", {"job_id": str(job.id)}, format="json"
        ).status_code
        == 404
    )
    assert (
        other_token_client.post(
            "/api/v1/dataset", {"image_ids": [str(images[0].id)]}, format="json"
        ).status_code
        == 400
    )
    assert other_token_client.get("/api/v1/labels").json() == []
    assert UserLabel.objects.count() == 0
