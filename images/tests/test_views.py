from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile

from images.models import Image
from images.services import image_ingest
from images.tests import corpus
from images.tests.factories import ImageFactory
from images.tests.helpers import local_files


def test_upload_page_renders_a_plain_form(client_user):
    response = client_user.get("/images/upload/")

    assert response.status_code == 200
    assert b'enctype="multipart/form-data"' in response.content
    assert b'name="files"' in response.content and b"multiple" in response.content


def test_upload_many_files_reports_each_outcome(client_user, user, local_storage):
    image_ingest(owner=user, fileobj=io.BytesIO(corpus.png(seed=1)), filename="old.png")
    files = [
        SimpleUploadedFile("new.png", corpus.png(seed=2)),
        SimpleUploadedFile("again.png", corpus.png(seed=1)),
        SimpleUploadedFile("notes.jpg", corpus.TEXT),
    ]

    response = client_user.post("/images/upload/", {"files": files}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # the partial alone
    assert "1 stored, 1 duplicate, 1 rejected" in html
    assert html.count('<span class="badge stored">stored</span>') == 1
    assert html.count('<span class="badge duplicate">duplicate</span>') == 1
    assert "This is a text file, not an image, whatever its name says." in html
    assert sorted(Image.objects.values_list("original_filename", flat=True)) == [
        "new.png",
        "old.png",
    ]
    assert len(local_files(local_storage)) == 4


def test_upload_without_files_is_a_form_error(client_user):
    response = client_user.post("/images/upload/", {})

    assert response.status_code == 400
    assert b"Choose at least one image file." in response.content


def test_gallery_selection_form_targets_jobs_and_carries_filters(client_user, user):
    image = ImageFactory(owner=user, original_filename="cat.jpg")

    response = client_user.get("/images/?q=cat&format=jpeg")

    html = response.content.decode()
    assert '<form id="image-selection" method="get" action="/jobs/new/" data-total="1">' in html
    assert f'<input type="checkbox" name="image" value="{image.pk}"' in html
    assert '<input type="checkbox" name="all" value="1"> Select all 1 matching' in html
    assert '<input type="hidden" name="q" value="cat">' in html
    assert '<input type="hidden" name="format" value="jpeg">' in html
    assert f'src="/images/{image.pk}/thumbnail"' in html
    assert f"/images/{image.pk}/file" not in html  # the gallery never loads originals


def test_gallery_pager_links_have_href_and_hx_get(client_user, user):
    ImageFactory.create_batch(50, owner=user)

    html = client_user.get("/images/?sort=name").content.decode()

    assert html.count('class="tile"') == 48
    assert 'href="/images/?sort=name&amp;after=' in html
    assert 'hx-get="/images/?sort=name&amp;after=' in html


def test_detail_page_has_metadata_and_predictions_placeholder(client_user, user):
    image = ImageFactory(owner=user, original_filename="cat.jpg", width=640, height=480)

    html = client_user.get(f"/images/{image.pk}/").content.decode()

    assert "640 × 480 px" in html
    assert image.sha256 in html
    assert '<section id="predictions">' in html


def test_bulk_delete_confirms_then_deletes(
    client_user, user, local_storage, django_capture_on_commit_callbacks
):
    a = image_ingest(owner=user, fileobj=io.BytesIO(corpus.png(seed=1)), filename="a.png").image
    b = image_ingest(owner=user, fileobj=io.BytesIO(corpus.png(seed=2)), filename="b.png").image

    confirm = client_user.get(f"/images/delete/?image={a.pk}")
    assert b"Delete 1 image" in confirm.content
    assert Image.objects.count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        response = client_user.post("/images/delete/", {"image": [str(a.pk)]})

    assert response.status_code == 302
    assert list(Image.objects.values_list("id", flat=True)) == [b.pk]
    assert local_files(local_storage) == sorted([b.file.name, b.thumbnail.name])


def test_bulk_delete_all_matching_uses_the_filters(
    client_user, user, django_capture_on_commit_callbacks
):
    ImageFactory.create_batch(3, owner=user, original_filename="cat.jpg")
    dog = ImageFactory(owner=user, original_filename="dog.jpg")

    confirm = client_user.get("/images/delete/?all=1&q=cat")
    assert b"Delete 3 images" in confirm.content

    with django_capture_on_commit_callbacks(execute=True):
        client_user.post("/images/delete/", {"all": "1", "q": "cat"})

    assert list(Image.objects.values_list("id", flat=True)) == [dog.pk]


def test_file_view_serves_local_bytes_with_safe_headers(client_user, user, local_storage):
    data = corpus.png(seed=3)
    image = image_ingest(owner=user, fileobj=io.BytesIO(data), filename="x.png").image

    response = client_user.get(f"/images/{image.pk}/file")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="x.png"'
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
