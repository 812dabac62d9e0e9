"""Storage round trips on the local folder and on S3 over the real protocol (moto)."""

from __future__ import annotations

import base64
import io
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from PIL import Image as PILImage

from images.models import Image
from images.services import image_delete, image_ingest, image_open, image_open_pil
from images.tests import corpus
from images.tests.helpers import direct_upload, local_files, s3_keys

KEY = r"uploads/{owner}/\d{{4}}/\d{{2}}/\d{{2}}/{id}\.{ext}"


def _ingest(user, data=None, name="cat.jpg"):
    data = data or corpus.jpeg(seed=1, size=(600, 400))
    return image_ingest(owner=user, fileobj=io.BytesIO(data), filename=name)


def test_local_round_trip(user, local_storage, django_capture_on_commit_callbacks):
    data = corpus.jpeg(seed=1, size=(600, 400))

    result = _ingest(user, data)

    image = result.image
    assert result.duplicate is False
    assert re.fullmatch(KEY.format(owner=user.pk, id=image.pk, ext="jpg"), image.file.name)
    assert image.thumbnail.name == image.file.name.replace("uploads/", "thumbnails/").replace(
        ".jpg", ".webp"
    )
    assert (image.format, image.mime_type, image.width, image.height) == (
        "JPEG",
        "image/jpeg",
        600,
        400,
    )
    assert image.size_bytes == len(data)
    with image_open(image) as fh:
        assert fh.read() == data
    assert image_open_pil(image).size == (600, 400)
    with PILImage.open(local_storage / image.thumbnail.name) as thumb:
        assert (thumb.format, thumb.size) == ("WEBP", (320, 213))
    assert local_files(local_storage) == sorted([image.file.name, image.thumbnail.name])

    with django_capture_on_commit_callbacks(execute=True):
        image_delete(user=user, image=image)

    assert Image.objects.count() == 0
    assert local_files(local_storage) == []


def test_same_bytes_again_is_a_duplicate(user, local_storage):
    first = _ingest(user)
    again = _ingest(user, name="copy.jpg")

    assert again.duplicate is True
    assert again.image.pk == first.image.pk
    assert Image.objects.count() == 1
    assert len(local_files(local_storage)) == 2


def test_same_bytes_for_another_user_is_their_own_image(user, other_user, local_storage):
    first = _ingest(user)
    theirs = _ingest(other_user)

    assert theirs.duplicate is False
    assert theirs.image.pk != first.image.pk
    assert len(local_files(local_storage)) == 4


def test_s3_round_trip_and_presigned_get(
    user, s3_storage, client_user, django_capture_on_commit_callbacks
):
    data = corpus.png(seed=4, size=(300, 200))

    image = _ingest(user, data, name="chart.png").image

    assert s3_keys(s3_storage) == sorted([image.file.name, image.thumbnail.name])
    with image_open(image) as fh:
        assert fh.read() == data
    response = client_user.get(f"/images/{image.pk}/file")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    # SigV4 (the row 10): no legacy SigV2 Signature/AWSAccessKeyId/Expires fields.
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["300"]
    assert not {"Signature", "AWSAccessKeyId", "Expires"} & set(query)
    fetched = requests.get(response["Location"], timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == data
    assert fetched.headers["Content-Type"] == "image/png"
    thumb = requests.get(client_user.get(f"/images/{image.pk}/thumbnail")["Location"], timeout=10)
    assert thumb.headers["Content-Type"] == "image/webp"
    # Without the signature the private bucket says no.
    assert requests.get(response["Location"].split("?")[0], timeout=10).status_code == 403

    with django_capture_on_commit_callbacks(execute=True):
        image_delete(user=user, image=image)

    assert s3_keys(s3_storage) == []


def test_direct_upload_then_finalize(token_client, user, s3_storage):
    data = corpus.jpeg(seed=7, size=(120, 90))

    s3_reply, final = direct_upload(token_client, data, "direct.jpg")

    assert s3_reply.status_code == 204
    assert final.status_code == 201
    image = Image.objects.get()
    assert final.json()["outcome"] == "stored"
    assert final.json()["image"]["id"] == str(image.pk)
    assert (image.original_filename, image.width, image.height) == ("direct.jpg", 120, 90)
    assert s3_keys(s3_storage) == sorted([image.file.name, image.thumbnail.name])

    s3_reply, again = direct_upload(token_client, data, "again.jpg")

    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    assert Image.objects.count() == 1
    assert s3_keys(s3_storage) == sorted([image.file.name, image.thumbnail.name])


def test_upload_url_grant_is_limited(token_client, user, s3_storage, settings):
    response = token_client.post("/api/v1/upload-url", {"filename": "x.jpg"}, format="json")

    body = response.json()
    token = re.fullmatch(rf"uploads/{user.pk}/([0-9a-f]{{32}})-x.jpg", body["s3_key"])[1]
    assert body["key"] == body["s3_key"]
    assert body["fields"]["key"] == f"incoming/{user.pk}/{token}"
    assert body["method"] == "PUT"
    assert f"/{s3_storage}/incoming/{user.pk}/{token}?" in body["upload_url"]
    assert body["expires_in"] == 300
    assert body["max_bytes"] == settings.IMAGE_MAX_BYTES
    assert body["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"  # SigV4, not SigV2
    assert "AWSAccessKeyId" not in body["fields"]
    policy = json.loads(base64.b64decode(body["fields"]["policy"]))
    assert ["content-length-range", 1, settings.IMAGE_MAX_BYTES] in policy["conditions"]
    assert {"key": body["fields"]["key"]} in policy["conditions"]


def test_upload_url_on_local_storage_is_served_by_the_app(token_client, local_storage):
    response = token_client.post("/api/v1/upload-url", {"filename": "x.jpg"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["upload_url"].startswith("http://testserver/api/v1/uploads/")
    assert (body["post_url"], body["fields"]) == (None, {})


def test_finalize_refuses_a_key_outside_the_users_prefix(token_client, other_user, s3_storage):
    response = token_client.post(
        "/api/v1/images/finalize", {"key": f"incoming/{other_user.pk}/{'a' * 32}"}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_finalize_refuses_another_users_upload_key(
    token_client, other_token_client, user, s3_storage
):
    grant = other_token_client.post("/api/v1/upload-url", {"filename": "x.jpg"}, format="json")
    response = token_client.post(
        "/api/v1/images/finalize", {"key": grant.json()["s3_key"]}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
def test_bmp_and_tiff_are_stored_as_lossless_png(fmt, user, local_storage):
    source = PILImage.frombytes("RGB", (40, 30), bytes(range(256)) * 14 + bytes(16))
    out = io.BytesIO()
    source.save(out, fmt)

    image = _ingest(user, out.getvalue(), name=f"scan.{fmt.lower()}").image

    assert (image.format, image.mime_type) == (fmt, "image/png")
    assert image.file.name.endswith(".png")
    with image_open(image) as fh, PILImage.open(fh) as stored:
        assert stored.format == "PNG"
        assert stored.convert("RGB").tobytes() == source.tobytes()
