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

    assert _run(tmp_path) == [
        f"skipped: {tmp_path / 'sub'}: a folder (use --recursive)",
        f"skipped: {tmp_path / '.DS_Store'}: a hidden file",
        "Imported into alice's gallery: 1 stored, 0 duplicates, 0 rejected, 2 skipped.",
    ]

    lines = _run(tmp_path, recursive=True)
    assert lines[0] == f"skipped: {tmp_path / '.DS_Store'}: a hidden file"
    assert lines[1].startswith(f"rejected: {tmp_path / 'sub' / 'c.zip'}:readme.txt: This is a text")
    assert (
        lines[2] == "Imported into alice's gallery: 3 stored, 1 duplicates, 1 rejected, 1 skipped."
    )
    assert lines[3].startswith("  rejected (unsupported_type): 1")
    assert sorted(Image.objects.values_list("original_filename", flat=True)) == [
        "a.jpg",
        "b.png",
        "c1.gif",
        "c2.webp",
    ]

    files_before = local_files(local_storage)
    assert _run(tmp_path, recursive=True)[2] == (
        "Imported into alice's gallery: 0 stored, 4 duplicates, 1 rejected, 1 skipped."
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


# --- Entries that are not images: pipes, links, hidden files, terminal escapes (row 12) ----


def test_named_pipe_is_skipped_without_hanging(user, local_storage, tmp_path):
    import os
    import signal

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.png").write_bytes(corpus.png(seed=1))
    os.mkfifo(folder / "pipe.jpg")

    def give_up(signum, frame):
        raise TimeoutError("import_images hung on the named pipe")

    # A deadline: the old command blocked forever opening the pipe.
    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(30)
    try:
        lines = _run(folder)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)

    assert lines == [
        f"skipped: {folder / 'pipe.jpg'}: a named pipe, not a regular file",
        "Imported into alice's gallery: 1 stored, 0 duplicates, 0 rejected, 1 skipped.",
    ]


def test_symlinks_out_of_the_given_folder_need_follow_symlinks(user, local_storage, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(corpus.png(seed=5))
    (outside / "more").mkdir()
    (outside / "more" / "x.png").write_bytes(corpus.png(seed=6))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "own.png").write_bytes(corpus.png(seed=7))
    (folder / "link.png").symlink_to(outside / "secret.png")
    (folder / "inside-link.png").symlink_to(folder / "own.png")  # stays inside: followed
    (folder / "dirlink").symlink_to(outside / "more")
    (folder / "loop").symlink_to(folder)

    lines = _run(folder, recursive=True)

    assert lines == [
        f"skipped: {folder / 'dirlink'}: a symbolic link leading outside the given paths "
        "(use --follow-symlinks)",
        f"skipped: {folder / 'loop'}: a folder already walked",
        f"skipped: {folder / 'link.png'}: a symbolic link leading outside the given paths "
        "(use --follow-symlinks)",
        "Imported into alice's gallery: 1 stored, 1 duplicates, 0 rejected, 3 skipped.",
    ]
    assert Image.objects.count() == 1

    lines = _run(folder, recursive=True, follow_symlinks=True)
    assert lines[-1] == (
        "Imported into alice's gallery: 2 stored, 2 duplicates, 0 rejected, 1 skipped."
    )
    assert Image.objects.count() == 3


def test_terminal_escapes_in_names_are_printed_escaped_and_hidden_entries_counted(
    user, local_storage, tmp_path
):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / ".hidden.png").write_bytes(corpus.png(seed=8))
    with zipfile.ZipFile(folder / "pack.zip", "w") as archive:
        archive.writestr("\x1b]0;pwned\x07\x1b[2Jevil.txt", corpus.TEXT)
        archive.writestr("__MACOSX/._a.png", b"\x00")
        link = zipfile.ZipInfo("link.png")
        link.external_attr = 0o120777 << 16  # a symbolic link member
        archive.writestr(link, "/etc/passwd")

    lines = _run(folder)

    assert lines[0] == f"skipped: {folder / '.hidden.png'}: a hidden file"
    assert lines[1].startswith(
        f"rejected: {folder / 'pack.zip'}:\\x1b]0;pwned\\x07\\x1b[2Jevil.txt: This is a text"
    )
    assert lines[2:4] == [
        f"skipped: {folder / 'pack.zip'}:__MACOSX/._a.png: a hidden file",
        f"skipped: {folder / 'pack.zip'}:link.png: a symbolic link, not a regular file",
    ]
    assert all("\x1b" not in line and "\x07" not in line for line in lines)
    assert (
        lines[4] == "Imported into alice's gallery: 0 stored, 0 duplicates, 1 rejected, 3 skipped."
    )
