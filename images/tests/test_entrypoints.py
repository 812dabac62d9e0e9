"""The bad-input corpus and odd file names through every door: browser form, API
multipart, direct upload finalize, and the import command."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.management import call_command
from django.utils.html import escape

from images.models import Image
from images.tests import corpus
from images.tests.helpers import direct_upload, local_files, multipart, s3_keys

BAD = sorted(corpus.BAD_INPUTS)


@pytest.fixture
def bad(request, settings):
    filename, data, status, code = corpus.bad_input(request.param)
    if request.param == "oversize":
        settings.IMAGE_MAX_BYTES = corpus.OVERSIZE_LIMIT
    return filename, data, status, code


def _message_for(filename, data):
    """The reason intake gives, taken from the service so all doors can be compared."""
    from images.services import ImageRejected, image_ingest

    try:
        image_ingest(owner=None, fileobj=io.BytesIO(data), filename=filename)
    except ImageRejected as exc:
        return exc.message
    raise AssertionError("not rejected")


@pytest.mark.parametrize("bad", BAD, indirect=True)
def test_browser_form_rejects(bad, client_user, local_storage):
    filename, data, status, code = bad
    body, content_type = multipart([(filename, data)])

    response = client_user.post("/images/upload/", body, content_type=content_type)

    assert response.status_code == status
    assert escape(_message_for(filename, data)).encode() in response.content
    assert b'<span class="badge rejected">rejected</span>' in response.content
    assert Image.objects.count() == 0
    assert local_files(local_storage) == []


@pytest.mark.parametrize("bad", BAD, indirect=True)
def test_api_multipart_rejects(bad, token_client, local_storage):
    filename, data, status, code = bad
    body, content_type = multipart([(filename, data)])

    response = token_client.post("/api/v1/images", body, content_type=content_type)

    assert response.status_code == status
    payload = response.json()
    assert payload["error"] == {"code": code, "message": _message_for(filename, data)}
    assert payload["results"] == [
        {
            "filename": filename,
            "outcome": "rejected",
            "image": None,
            "error": {"code": code, "message": _message_for(filename, data)},
        }
    ]
    assert Image.objects.count() == 0
    assert local_files(local_storage) == []


@pytest.mark.parametrize("bad", BAD, indirect=True)
def test_direct_upload_finalize_rejects(bad, token_client, s3_storage):
    filename, data, status, code = bad

    s3_reply, final = direct_upload(token_client, data, filename)

    if code == "too_large" and s3_reply.status_code == 400:
        # Real S3 refuses the body (content-length-range); finalize then finds nothing.
        assert final.status_code == 404
        assert final.json()["error"]["code"] == "not_found"
    else:  # moto does not enforce the range: finalize's own size check answers 413
        assert s3_reply.status_code == 204
        assert final.status_code == status
        assert final.json() == {"error": {"code": code, "message": _message_for(filename, data)}}
    assert Image.objects.count() == 0
    assert s3_keys(s3_storage) == []  # the staging object is gone too


@pytest.mark.parametrize("bad", BAD, indirect=True)
def test_import_command_rejects(bad, user, local_storage, tmp_path):
    filename, data, status, code = bad
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / filename).write_bytes(data)
    out = io.StringIO()

    call_command("import_images", str(folder), user="alice", no_progress=True, stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == f"rejected: {folder / filename}: {_message_for(filename, data)}"
    assert (
        lines[1] == "Imported into alice's gallery: 0 stored, 0 duplicates, 1 rejected, 0 skipped."
    )
    assert Image.objects.count() == 0
    assert local_files(local_storage) == []


# --- Odd names: accepted, stored sanitized ----------------------------------------------------


def test_browser_form_sanitizes_names(client_user, user, local_storage):
    files = [(raw, corpus.png(seed=i)) for i, (raw, _) in enumerate(corpus.ODD_NAMES)]
    body, content_type = multipart(files)

    response = client_user.post("/images/upload/", body, content_type=content_type)

    assert response.status_code == 200
    names = sorted(Image.objects.values_list("original_filename", flat=True))
    assert names == sorted(clean for _, clean in corpus.ODD_NAMES)
    for image in Image.objects.all():
        assert image.file.name.startswith(f"uploads/{user.pk}/")
        assert image.file.name.endswith(f"/{image.pk}.png")


def test_api_multipart_sanitizes_names(token_client, local_storage):
    files = [(raw, corpus.png(seed=i)) for i, (raw, _) in enumerate(corpus.ODD_NAMES)]
    body, content_type = multipart(files)

    response = token_client.post("/api/v1/images", body, content_type=content_type)

    assert response.status_code == 201
    assert [r["outcome"] for r in response.json()["results"]] == ["stored"] * 3
    assert [r["filename"] for r in response.json()["results"]] == [c for _, c in corpus.ODD_NAMES]
    assert sorted(Image.objects.values_list("original_filename", flat=True)) == sorted(
        clean for _, clean in corpus.ODD_NAMES
    )


def test_browser_form_shortens_a_1000_character_name_and_stores_the_batch(
    client_user, local_storage
):
    body, content_type = multipart(
        [(corpus.LONG_NAME[0], corpus.png()), ("second.png", corpus.png(seed=3))]
    )

    response = client_user.post("/images/upload/", body, content_type=content_type)

    assert response.status_code == 200
    assert sorted(Image.objects.values_list("original_filename", flat=True)) == sorted(
        [corpus.LONG_NAME[1], "second.png"]
    )
    assert len(local_files(local_storage)) == 4  # two originals, two thumbnails


def test_api_multipart_shortens_a_1000_character_name_and_stores_the_file(
    token_client, local_storage
):
    body, content_type = multipart([(corpus.LONG_NAME[0], corpus.png())])

    response = token_client.post("/api/v1/images", body, content_type=content_type)

    assert response.status_code == 201
    assert [r["filename"] for r in response.json()["results"]] == [corpus.LONG_NAME[1]]
    assert list(Image.objects.values_list("original_filename", flat=True)) == [corpus.LONG_NAME[1]]


@pytest.mark.parametrize(("raw", "clean"), [*corpus.ODD_NAMES, corpus.LONG_NAME])
def test_direct_upload_sanitizes_names(raw, clean, token_client, user, s3_storage):
    s3_reply, final = direct_upload(token_client, corpus.png(seed=2), raw)

    assert final.status_code == 201
    image = Image.objects.get()
    assert image.original_filename == clean
    assert final.json()["image"]["filename"] == clean
    assert s3_keys(s3_storage) == sorted([image.file.name, image.thumbnail.name])


def test_import_command_sanitizes_names(user, local_storage, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "photo\u202egnp.exe").write_bytes(corpus.png(seed=1))
    with zipfile.ZipFile(folder / "batch.zip", "w") as archive:
        archive.writestr("../../x.png", corpus.png(seed=2))
        archive.writestr("A" * 1000 + ".png", corpus.png(seed=3))

    call_command("import_images", str(folder), user="alice", no_progress=True, stdout=io.StringIO())

    assert sorted(Image.objects.values_list("original_filename", flat=True)) == sorted(
        ["photognp.exe", "x.png", "A" * 196 + ".png"]
    )
    assert len(local_files(local_storage)) == 6
    assert all(not name.startswith("..") for name in local_files(local_storage))
