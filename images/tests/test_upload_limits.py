"""The byte cap is enforced while a file streams in, on every upload route, and no
temporary file outlives its request (the issue's rows 5 and 14)."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image as PILImage

from images.models import Image
from images.tests.helpers import local_files, multipart

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def _noise_png(px: int = 1000) -> bytes:
    """A valid PNG of about 3 MB (noise does not compress): above the in-memory size."""
    out = io.BytesIO()
    PILImage.frombytes("RGB", (px, px), os.urandom(px * px * 3)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def upload_tmp(settings, tmp_path):
    """Uploads spill to disk past 2 MB; the cap is 4 MB; temporary files go here."""
    folder = tmp_path / "upload-tmp"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    settings.IMAGE_MAX_BYTES = 4 * MB
    return folder


@pytest.fixture
def temp_writes(monkeypatch):
    """Bytes written to upload temporary files during the test (a spy on their writes)."""
    import tempfile

    from django.core.files import uploadedfile

    written = [0]
    real = tempfile.NamedTemporaryFile

    class Counting:
        def __init__(self, inner):
            self._inner = inner

        def write(self, data):
            written[0] += len(data)
            return self._inner.write(data)

        def __getattr__(self, name):
            return getattr(self._inner, name)

    monkeypatch.setattr(
        uploadedfile.tempfile, "NamedTemporaryFile", lambda *a, **k: Counting(real(*a, **k))
    )
    return written


def test_browser_upload_over_the_cap_leaves_no_temporary_file(
    client_user, local_storage, upload_tmp
):
    body, content_type = multipart([("big.png", b"\x89PNG" + b"\0" * (6 * MB))])
    response = client_user.post("/images/upload/", body, content_type=content_type)
    assert response.status_code == 413
    assert b"larger than the 4 MB limit" in response.content
    assert list(upload_tmp.iterdir()) == []
    assert Image.objects.count() == 0


def test_api_batch_stores_the_good_file_and_deletes_every_temporary_file(
    token_client, local_storage, upload_tmp
):
    good = _noise_png()
    assert 2 * MB < len(good) < 4 * MB  # spilled to a temporary file, under the cap
    body, content_type = multipart([("good.png", good), ("big.png", b"\0" * (6 * MB))])
    response = token_client.post("/api/v1/images", body, content_type=content_type)
    assert response.status_code == 201
    outcomes = [(r["filename"], r["outcome"]) for r in response.json()["results"]]
    assert outcomes == [("good.png", "stored"), ("big.png", "rejected")]
    assert list(upload_tmp.iterdir()) == []
    assert len(local_files(local_storage)) == 2  # the original and its thumbnail


def test_predict_api_is_capped_while_streaming(
    token_client, local_storage, upload_tmp, temp_writes
):
    body, content_type = multipart([("big.jpg", b"\xff\xd8\xff" + b"\0" * (6 * MB))], "file")
    response = token_client.post("/api/v1/predict", body, content_type=content_type)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert list(upload_tmp.iterdir()) == []
    assert temp_writes[0] <= 4 * MB  # the 6 MB body never reached the disk whole
    assert Image.objects.count() == 0


def test_predict_page_is_capped_while_streaming(
    client_user, local_storage, upload_tmp, temp_writes
):
    body, content_type = multipart([("big.jpg", b"\xff\xd8\xff" + b"\0" * (6 * MB))], "file")
    response = client_user.post("/predict/submit/", body, content_type=content_type)
    assert response.status_code == 400
    assert b"larger than the 4 MB limit" in response.content
    assert list(upload_tmp.iterdir()) == []
    assert temp_writes[0] <= 4 * MB


def test_a_batch_over_the_file_count_leaves_no_temporary_file(
    token_client, local_storage, upload_tmp, settings
):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    good = _noise_png()
    body, content_type = multipart([("a.png", good), ("b.png", good), ("c.png", good)])
    response = token_client.post("/api/v1/images", body, content_type=content_type)
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "too_many_files",
            "message": "The request has more than 2 files. Send at most 2 files per request.",
        }
    }
    assert list(upload_tmp.iterdir()) == []
    assert Image.objects.count() == 0


def test_request_body_over_the_request_cap_is_refused_before_reading(token_client, settings):
    settings.REQUEST_MAX_BYTES = 10 * MB
    response = token_client.generic(
        "POST",
        "/api/v1/images",
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(11 * MB),
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_too_many_form_fields_on_the_api_is_the_error_shape(token_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    body = "&".join(f"ids={i}" for i in range(11))
    response = token_client.post(
        "/api/v1/images/bulk-delete", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "too_many_fields",
            "message": "The request has more than 10 form fields. Send at most 10 per request.",
        }
    }


def test_too_many_files_on_the_upload_page_is_a_message_on_the_page(
    client_user, local_storage, settings
):
    from images.tests import corpus

    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    body, content_type = multipart([(f"{i}.png", corpus.png(seed=i)) for i in range(3)])
    response = client_user.post("/images/upload/", body, content_type=content_type)
    assert response.status_code == 400
    assert "text/html" in response["Content-Type"]
    assert b"The request has more than 2 files. Send at most 2 files per request." in (
        response.content
    )
    assert Image.objects.count() == 0


def test_too_many_form_fields_on_a_page_is_a_readable_page(client_user, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    body = "&".join(f"image={i}" for i in range(11))
    response = client_user.post(
        "/images/delete/", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert b"too many form fields or files" in response.content
