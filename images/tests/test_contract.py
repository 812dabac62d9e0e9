"""The seed's image endpoints, as its API Reference documents them, over real HTTP.

POST /upload-url {filename, content_type} -> {upload_url, s3_key}; PUT the bytes to
upload_url; GET /images -> [{key, size, last_modified}]; DELETE /images/{s3_key}.
Run with local storage (the app serves the upload URL) and with S3 (a presigned PUT).
"""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest
from django.core import signing
from rest_framework.authtoken.models import Token

from classifier_site.testing.seed_client import SeedClient
from images.models import Image, StagedUpload
from images.tests import corpus
from images.tests.helpers import local_files, s3_keys

pytestmark = pytest.mark.django_db(transaction=True)

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@pytest.fixture
def seed(live_server, user):
    token, _ = Token.objects.get_or_create(user=user)
    return SeedClient(f"{live_server.url}/api/v1", token.key)


@pytest.fixture
def other_seed(live_server, other_user):
    token, _ = Token.objects.get_or_create(user=other_user)
    return SeedClient(f"{live_server.url}/api/v1", token.key)


@pytest.fixture(params=["local", "s3"])
def storage(request):
    """Both deployments: the local folder (embedded) and S3 (moto on loopback)."""
    return request.param, request.getfixturevalue(f"{request.param}_storage")


def _upload(seed: SeedClient, filename: str, data: bytes, content_type: str) -> str:
    grant = seed.upload_url(filename, content_type)
    assert grant.status_code == 200, grant.text
    body = grant.json()
    assert isinstance(body["upload_url"], str) and body["upload_url"].startswith("http")
    assert isinstance(body["s3_key"], str) and body["s3_key"].startswith("uploads/")
    put = seed.put_file(body["upload_url"], data, content_type)
    assert put.status_code in (200, 201), put.text
    return body["s3_key"]


def test_upload_url_then_put_then_list_then_delete_by_key(seed, storage, user):
    data = corpus.jpeg(seed=21, size=(64, 48))

    s3_key = _upload(seed, "image1.jpg", data, "image/jpeg")
    listing = seed.list_images()

    assert listing.status_code == 200
    images = listing.json()
    assert isinstance(images, list)
    assert [i["key"] for i in images] == [s3_key]
    assert isinstance(images[0]["size"], int) and images[0]["size"] > 0
    assert ISO_Z.match(images[0]["last_modified"])
    image = Image.objects.get(owner=user)
    assert (image.original_filename, image.width, image.height) == ("image1.jpg", 64, 48)

    deleted = seed.delete_image(s3_key)

    assert 200 <= deleted.status_code < 300
    assert seed.list_images().json() == []
    assert Image.objects.count() == 0


def test_the_same_bytes_under_two_keys_are_one_image_named_by_both(seed, storage, user):
    data = corpus.png(seed=22)
    first = _upload(seed, "a.png", data, "image/png")
    second = _upload(seed, "b.png", data, "image/png")

    images = seed.list_images().json()

    assert [i["key"] for i in images] == [first]
    assert Image.objects.count() == 1
    assert 200 <= seed.delete_image(second).status_code < 300
    assert Image.objects.count() == 0


def test_put_bytes_that_are_not_an_image_never_become_one(seed, storage, user):
    kind, root = storage
    grant = seed.upload_url("notes.jpg", "image/jpeg").json()

    put = seed.put_file(grant["upload_url"], corpus.TEXT, "image/jpeg")

    if kind == "local":
        # The app's upload URL checks at once and says why.
        assert put.status_code == 415
        assert put.json()["error"]["code"] == "unsupported_type"
    else:
        assert put.status_code == 200  # S3 stores anything; intake runs on first use
    assert seed.list_images().json() == []
    assert Image.objects.count() == 0
    assert StagedUpload.objects.get().state == "rejected"
    if kind == "s3":
        assert s3_keys(root) == []  # the staged object was removed once judged
    else:
        assert local_files(root) == []


def test_local_upload_url_is_signed_single_use_and_expires(seed, local_storage, settings):
    grant = seed.upload_url("x.png", "image/png").json()
    token = grant["upload_url"].rsplit("/", 1)[1]
    forged = grant["upload_url"].replace(token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))

    assert seed.put_file(forged, corpus.png(seed=1), "image/png").status_code == 404
    assert seed.put_file(grant["upload_url"], corpus.png(seed=1), "image/png").status_code == 201
    again = seed.put_file(grant["upload_url"], corpus.png(seed=2), "image/png")
    assert (again.status_code, again.json()["error"]["code"]) == (404, "not_found")
    assert Image.objects.count() == 1

    # An unused URL past its lifetime: the signature's timestamp says no.
    late = seed.upload_url("y.png", "image/png").json()
    staged_id = signing.loads(late["upload_url"].rsplit("/", 1)[1], salt="images.upload-url")
    settings.IMAGE_UPLOAD_URL_EXPIRY_SECONDS = 1
    time.sleep(2.1)
    expired = seed.put_file(late["upload_url"], corpus.png(seed=3), "image/png")
    assert expired.status_code == 404
    assert "expired" in expired.json()["error"]["message"]
    assert StagedUpload.objects.get(pk=staged_id).state == "waiting"


def test_a_key_is_404_for_another_user_and_changes_nothing(seed, other_seed, storage, user):
    s3_key = _upload(seed, "mine.jpg", corpus.jpeg(seed=23), "image/jpeg")
    image_ids = list(Image.objects.values_list("id", flat=True))

    assert other_seed.delete_image(s3_key).status_code == 404
    assert other_seed.list_images().json() == []
    assert other_seed.http.get(f"{other_seed.base}/images/{s3_key}").status_code == 404

    assert list(Image.objects.values_list("id", flat=True)) == image_ids
    assert [i["key"] for i in seed.list_images().json()] == [s3_key]


def test_images_by_id_and_by_stored_key_too(seed, local_storage, user):
    s3_key = _upload(seed, "x.png", corpus.png(seed=24), "image/png")
    image = Image.objects.get()

    by_id = seed.http.get(f"{seed.base}/images/{image.pk}").json()
    by_storage_key = seed.http.get(f"{seed.base}/images/{image.file.name}").json()

    assert by_id == by_storage_key
    assert (by_id["key"], by_id["storage_key"]) == (s3_key, image.file.name)
    assert datetime.fromisoformat(by_id["last_modified"].replace("Z", "+00:00"))


def test_an_unused_key_is_404_with_what_to_do(seed, s3_storage):
    grant = seed.upload_url("later.jpg", "image/jpeg").json()

    response = seed.delete_image(grant["s3_key"])

    assert response.status_code == 404
    assert "PUT the file to its upload_url first" in response.json()["error"]["message"]
