"""Another user gets 404 on every image route, by session and by token, and nothing changes."""

from __future__ import annotations

import io

import pytest

from images.models import Image
from images.services import image_ingest
from images.tests import corpus
from images.tests.helpers import local_files


@pytest.fixture
def alices_image(user, local_storage):
    return image_ingest(
        owner=user, fileobj=io.BytesIO(corpus.png(seed=11)), filename="alice.png"
    ).image


def _unchanged(image, local_storage):
    assert list(Image.objects.values_list("id", flat=True)) == [image.pk]
    assert local_files(local_storage) == sorted([image.file.name, image.thumbnail.name])


PAGE_ROUTES = [
    ("get", "/images/{id}/"),
    ("get", "/images/{id}/file"),
    ("get", "/images/{id}/thumbnail"),
    ("get", "/images/{id}/delete/"),
    ("post", "/images/{id}/delete/"),
    ("get", "/images/delete/?image={id}"),
]


@pytest.mark.parametrize(("method", "route"), PAGE_ROUTES)
def test_pages_are_404_for_another_user(
    method,
    route,
    client,
    other_user,
    alices_image,
    local_storage,
    django_capture_on_commit_callbacks,
):
    client.force_login(other_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = getattr(client, method)(route.format(id=alices_image.pk))

    assert response.status_code == 404
    _unchanged(alices_image, local_storage)


def test_bulk_delete_post_is_404_for_another_user(
    client, other_user, alices_image, local_storage, django_capture_on_commit_callbacks
):
    client.force_login(other_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/images/delete/", {"image": [str(alices_image.pk)]})

    assert response.status_code == 404
    _unchanged(alices_image, local_storage)


API_ROUTES = [
    ("get", "/api/v1/images/{id}", None),
    ("get", "/api/v1/images/{id}/file", None),
    ("get", "/api/v1/images/{id}/thumbnail", None),
    ("delete", "/api/v1/images/{id}", None),
    ("post", "/api/v1/images/bulk-delete", {"ids": ["{id}"]}),
]


@pytest.mark.parametrize(("method", "route", "body"), API_ROUTES)
@pytest.mark.parametrize("auth", ["token", "session"])
def test_api_is_404_for_another_user(
    auth,
    method,
    route,
    body,
    other_token_client,
    other_user,
    api_client,
    alices_image,
    local_storage,
    django_capture_on_commit_callbacks,
):
    if auth == "token":
        api = other_token_client
    else:
        api = api_client
        api.force_login(other_user)
    data = {"ids": [str(alices_image.pk)]} if body else None

    with django_capture_on_commit_callbacks(execute=True):
        response = getattr(api, method)(route.format(id=alices_image.pk), data, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    _unchanged(alices_image, local_storage)


def test_api_list_shows_only_own_images(other_token_client, alices_image):
    response = other_token_client.get("/api/v1/images")

    assert response["X-Total-Count"] == "0"
    assert response.json() == []


def test_gallery_shows_only_own_images(client, other_user, alices_image):
    client.force_login(other_user)

    response = client.get("/images/")

    assert str(alices_image.pk).encode() not in response.content
    assert b"0 images" in response.content


def test_bulk_delete_mixing_own_and_foreign_ids_deletes_nothing(
    token_client, user, other_user, local_storage, django_capture_on_commit_callbacks
):
    mine = image_ingest(owner=user, fileobj=io.BytesIO(corpus.png(seed=1)), filename="a.png")
    theirs = image_ingest(
        owner=other_user, fileobj=io.BytesIO(corpus.png(seed=2)), filename="b.png"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = token_client.post(
            "/api/v1/images/bulk-delete",
            {"ids": [str(mine.image.pk), str(theirs.image.pk)]},
            format="json",
        )

    assert response.status_code == 404
    assert Image.objects.count() == 2
    assert len(local_files(local_storage)) == 4


def test_anonymous_is_sent_to_login_or_401(client, api_client, alices_image):
    assert client.get(f"/images/{alices_image.pk}/file").status_code == 302
    assert api_client.get(f"/api/v1/images/{alices_image.pk}").status_code == 401
