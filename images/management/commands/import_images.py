"""Bulk import: ``manage.py import_images PATH [PATH ...] --user NAME [--recursive]``.

Files, folders and .zip archives go through the same intake as uploads. A re-run is
cheap and stores nothing twice: intake hashes the bytes and returns the existing image
before any decoding.

Only regular files are read (a named pipe would block forever, a device never ends);
a symbolic link is followed only when it stays inside the given paths, unless
``--follow-symlinks``; every entry not imported gets a ``skipped:`` line and is counted.
Names are printed with control characters escaped, so a file or archive member name
cannot drive the terminal.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from images.services import ImageRejected, image_ingest

# Zip-bomb care: members are read through a bounded reader (never more than the upload
# limit + 1 byte, whatever the header claims), and these caps stop an archive early.
ZIP_MAX_MEMBERS = 100_000
ZIP_MAX_TOTAL_BYTES = 50 * 1024**3
ZIP_MAX_RATIO = 200  # images barely compress; 1 KB inflating to 200 KB is not a photo


@dataclass
class Source:
    label: str  # shown in messages
    name: str  # the file name intake records
    open: Callable[[], AbstractContextManager[IO[bytes]]]
    pre_rejected: ImageRejected | None = None  # known without reading
    skip: str = ""  # why this entry is not imported at all (not an image candidate)


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped (terminal escape sequences,
    bidi overrides, newlines): what the terminal shows is what the name is."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


class Command(BaseCommand):
    help = "Import images from files, folders and .zip archives into a user's gallery."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--user", required=True, help="username of the owner")
        parser.add_argument("--recursive", action="store_true", help="descend into subfolders")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--follow-symlinks",
            action="store_true",
            help="follow symbolic links that lead outside the given paths",
        )

    def handle(
        self,
        *args,
        paths: list[str],
        user: str,
        recursive: bool,
        no_progress: bool,
        follow_symlinks: bool = False,
        **options,
    ) -> None:
        try:
            owner = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {user!r}.") from None
        for raw in paths:
            if not Path(raw).exists():
                raise CommandError(f"{raw}: no such file or folder.")

        self._archives: dict[Path, zipfile.ZipFile] = {}
        self._follow = follow_symlinks
        self._roots = [Path(p).resolve() for p in paths]
        self._visited: set[Path] = set()
        sources = list(self._sources([Path(p) for p in paths], recursive))
        counts: Counter[str] = Counter()
        rejected: dict[str, list[tuple[str, str]]] = defaultdict(list)
        bar = tqdm(total=len(sources), unit="file", disable=no_progress, dynamic_ncols=True)

        def say(line: str) -> None:
            bar.clear()
            self.stdout.write(printable(line))
            bar.refresh()

        for source in sources:
            if source.skip:
                counts["skipped"] += 1
                say(f"skipped: {source.label}: {source.skip}")
                bar.update(1)
                continue
            try:
                if source.pre_rejected:
                    raise source.pre_rejected
                with source.open() as fh:
                    result = image_ingest(owner=owner, fileobj=fh, filename=source.name)
            except ImageRejected as exc:
                counts["rejected"] += 1
                rejected[exc.code].append((source.label, exc.message))
                say(f"rejected: {source.label}: {exc.message}")
            except (OSError, zipfile.BadZipFile) as exc:
                counts["rejected"] += 1
                rejected["unreadable"].append((source.label, str(exc)))
                say(f"rejected: {source.label}: cannot read it ({exc})")
            else:
                counts["duplicate" if result.duplicate else "stored"] += 1
            bar.update(1)
        bar.close()
        for archive in self._archives.values():
            archive.close()

        self.stdout.write(
            f"Imported into {owner.get_username()}'s gallery: {counts['stored']} stored, "
            f"{counts['duplicate']} duplicates, {counts['rejected']} rejected, "
            f"{counts['skipped']} skipped."
        )
        for code, items in sorted(rejected.items(), key=lambda kv: -len(kv[1])):
            self.stdout.write(printable(f"  rejected ({code}): {len(items)}  e.g. {items[0][1]}"))

    # --- Walking -------------------------------------------------------------------------

    def _sources(self, paths: list[Path], recursive: bool) -> Iterator[Source]:
        for path in paths:
            if path.is_dir():
                yield from self._folder(path, recursive)
            else:
                yield from self._file(path)

    def _folder(self, folder: Path, recursive: bool) -> Iterator[Source]:
        real = folder.resolve()
        if real in self._visited:  # a link back to a folder already walked: a loop
            yield Source(
                label=str(folder), name=folder.name, open=_never, skip="a folder already walked"
            )
            return
        self._visited.add(real)
        # Links to folders are entered by hand below (os.walk would not detect a loop).
        for root, dirs, files in os.walk(folder):
            kept = []
            for name in sorted(dirs):
                path = Path(root) / name
                reason = (
                    "a hidden folder"
                    if name.startswith(".")
                    else "a folder (use --recursive)"
                    if not recursive
                    else self._link_reason(path)
                )
                if reason:
                    yield Source(label=str(path), name=name, open=_never, skip=reason)
                else:
                    kept.append(name)
            dirs[:] = [name for name in kept if not (Path(root) / name).is_symlink()]
            for name in kept:
                if (Path(root) / name).is_symlink():
                    yield from self._folder(Path(root) / name, recursive)
            for name in sorted(files):
                path = Path(root) / name
                if name.startswith("."):  # .DS_Store and friends
                    yield Source(label=str(path), name=name, open=_never, skip="a hidden file")
                    continue
                yield from self._file(path)

    def _link_reason(self, path: Path) -> str:
        """Why a symbolic link is not followed ("" if it may be)."""
        if self._follow or not path.is_symlink():
            return ""
        target = path.resolve()
        if any(target == root or target.is_relative_to(root) for root in self._roots):
            return ""
        return "a symbolic link leading outside the given paths (use --follow-symlinks)"

    def _file(self, path: Path) -> Iterator[Source]:
        label = str(path)
        reason = self._link_reason(path)
        if reason:
            yield Source(label=label, name=path.name, open=_never, skip=reason)
            return
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            yield Source(label=label, name=path.name, open=_never, skip=f"cannot read it ({exc})")
            return
        if not stat.S_ISREG(mode):
            yield Source(label=label, name=path.name, open=_never, skip=_kind(mode))
            return
        if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
            yield from self._archive(path)
            return
        yield Source(label=label, name=path.name, open=partial(_open_binary, path))

    def _archive(self, path: Path) -> Iterator[Source]:
        limit = settings.IMAGE_MAX_BYTES
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > ZIP_MAX_MEMBERS:
            raise CommandError(f"{path}: {len(members)} entries; the limit is {ZIP_MAX_MEMBERS}.")
        total = sum(m.file_size for m in members)
        if total > ZIP_MAX_TOTAL_BYTES:
            raise CommandError(
                f"{path}: unpacks to {total} bytes; the limit is {ZIP_MAX_TOTAL_BYTES}."
            )
        for member in members:
            label = f"{path}:{member.filename}"
            reason = None
            kind = stat.S_IFMT(member.external_attr >> 16)
            if kind and kind != stat.S_IFREG:
                yield Source(label=label, name=member.filename, open=_never, skip=_kind(kind))
                continue
            if member.filename.rsplit("/", 1)[-1].startswith(".") or (
                member.filename.startswith("__MACOSX/")
            ):
                yield Source(label=label, name=member.filename, open=_never, skip="a hidden file")
                continue
            if member.flag_bits & 0x1:
                reason = ImageRejected("The archive entry is encrypted.", code="encrypted")
            elif member.file_size > limit:
                reason = ImageRejected(
                    f"The file is larger than the {limit} byte limit.",
                    code="too_large",
                    status_code=413,
                )
            elif member.compress_size and member.file_size / member.compress_size > ZIP_MAX_RATIO:
                reason = ImageRejected(
                    "The archive entry expands suspiciously (a zip bomb?); skipped.",
                    code="zip_bomb",
                )
            yield Source(
                label=label,
                name=member.filename,
                open=partial(self._open_member, path, member),
                pre_rejected=reason,
            )

    def _open_member(self, path: Path, member: zipfile.ZipInfo) -> _ZipMember:
        if path not in self._archives:  # one open archive for all its members
            self._archives[path] = zipfile.ZipFile(path)
        return _ZipMember(self._archives[path], member)


def _open_binary(path: Path) -> IO[bytes]:
    # Non-blocking, then checked again on the open file: a regular file found by the walk
    # could have been swapped for a named pipe since, and opening a pipe would block.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(f"{_kind(mode)}, not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _never() -> AbstractContextManager[IO[bytes]]:
    raise AssertionError("a skipped entry is never opened")


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe, not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    if stat.S_ISLNK(mode):
        return "a symbolic link, not a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


class _ZipMember(AbstractContextManager):
    """One member of an open archive, read through zipfile's streaming reader."""

    def __init__(self, archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
        self.archive, self.member = archive, member

    def __enter__(self) -> IO[bytes]:
        try:
            self.handle = self.archive.open(self.member)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:
            raise OSError(str(exc)) from exc
        return self.handle

    def __exit__(self, *exc) -> None:
        self.handle.close()
