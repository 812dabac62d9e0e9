from __future__ import annotations

import io
import zipfile

import pytest
from django.core.management import CommandError, call_command

from images.models import Image
from images.tests import corpus
from images.tests.helpers import local_files


def _run(*paths, **options):
    out = io.StringIO()
    call_command(
        "import_images", *map(str, paths), user="alice", no_progress=True, stdout=out, **options
    )
    return out.getvalue().splitlines()


def test_folder_zip_recursive_and_rerun(user, local_storage, tmp_path):
    tmp_path = tmp_path / "in"  # not the media folder, which local_storage keeps in tmp_path
    (tmp_path / "sub").mkdir(parents=True)
    (tmp_path / "a.jpg").write_bytes(corpus.jpeg(seed=1))
    (tmp_path / "sub" / "b.png").write_bytes(corpus.png(seed=2))
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    with zipfile.ZipFile(tmp_path / "sub" / "c.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("c1.gif", corpus.image_bytes("GIF"))
        archive.writestr("dir/c2.webp", corpus.image_bytes("WEBP", seed=3))
        archive.writestr("readme.txt", corpus.TEXT)

    assert (
        _run(tmp_path)[-1] == "Imported into alice's gallery: 1 stored, 0 duplicates, 0 rejected."
    )

    lines = _run(tmp_path, recursive=True)
    assert lines[0].startswith(f"rejected: {tmp_path / 'sub' / 'c.zip'}:readme.txt: This is a text")
    assert lines[1] == "Imported into alice's gallery: 3 stored, 1 duplicates, 1 rejected."
    assert lines[2].startswith("  rejected (unsupported_type): 1")
    assert sorted(Image.objects.values_list("original_filename", flat=True)) == [
        "a.jpg",
        "b.png",
        "c1.gif",
        "c2.webp",
    ]

    files_before = local_files(local_storage)
    assert _run(tmp_path, recursive=True)[1] == (
        "Imported into alice's gallery: 0 stored, 4 duplicates, 1 rejected."
    )
    assert local_files(local_storage) == files_before
    assert Image.objects.count() == 4


def test_zip_bomb_member_is_refused_without_inflating(user, local_storage, tmp_path):
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.png", b"\x00" * 5_000_000)

    lines = _run(tmp_path / "bomb.zip")

    assert lines[0] == (
        f"rejected: {tmp_path / 'bomb.zip'}:zeros.png: "
        "The archive entry expands suspiciously (a zip bomb?); skipped."
    )
    assert Image.objects.count() == 0


def test_unknown_user_is_an_error(db, tmp_path):
    with pytest.raises(CommandError, match="No user named 'alice'"):
        _run(tmp_path)
