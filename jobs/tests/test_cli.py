"""The `classifier` command-line client end to end: the real program in a subprocess,
against a live server and a real worker process (tiny random-weight CLIP, SQS on
loopback). It speaks only the public API, so it is a real client of it."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from classifier_site.testing.images import jpeg, png
from images.models import Image
from jobs.models import Job

PASSWORD = "correct-horse-battery"  # the user factory's
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tmp_path, live_server):
    """Run ``classifier ARGS`` as a separate process with its own config folder."""
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("CLASSIFIER_URL", "CLASSIFIER_TOKEN", "CLASSIFIER_USERNAME"):
        env.pop(name, None)

    def run(*args: str, extra_env: dict[str, str] | None = None, check: bool = True):
        done = subprocess.run(
            [sys.executable, "-m", "classifier_site.cli", *args],
            cwd=tmp_path,
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done

    run.config = tmp_path / "config" / "classifier" / "config.json"  # type: ignore[attr-defined]
    return run


def test_the_cli_never_imports_django():
    code = (
        "import sys, classifier_site.cli\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == ""


@pytest.mark.workers
def test_login_upload_classify_results_end_to_end(
    cli, tmp_path, live_server, user, other_user, queues, dramatiq_worker, inference_weights
):
    worker = dramatiq_worker(queues=["inference"], env=inference_weights)
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    (photos / "a.jpg").write_bytes(jpeg(seed=1))
    (photos / "b.png").write_bytes(png(seed=2))
    (photos / "c.jpg").write_bytes(jpeg(seed=3))
    shutil.copy(photos / "a.jpg", photos / "a-copy.jpg")  # the same bytes twice
    (photos / "sub" / "d.jpg").write_bytes(jpeg(seed=4))  # only with --recursive
    (photos / "notes.txt").write_text("not an image")

    # Wrong password: a clear message, nothing stored.
    bad = cli(
        "login",
        live_server.url,
        extra_env={"CLASSIFIER_USERNAME": "alice", "CLASSIFIER_PASSWORD": "nope"},
        check=False,
    )
    assert bad.returncode == 1 and "HTTP 400" in bad.stderr, bad.stderr
    assert not cli.config.exists()

    login = cli(
        "login",
        live_server.url,
        extra_env={"CLASSIFIER_USERNAME": "alice", "CLASSIFIER_PASSWORD": PASSWORD},
    )
    assert "as alice" in login.stdout
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600
    assert json.loads(cli.config.read_text())["url"] == live_server.url

    # One photo first (an interrupted run, say), then the folder: what's there is skipped.
    first = cli("upload", str(photos / "a.jpg"))
    assert "1 files: 1 uploaded, 0 already there" in first.stdout, first.stdout
    folder = cli("upload", str(photos))
    assert "4 files: 2 uploaded, 2 already there (skipped), 0 failed" in folder.stdout
    again = cli("upload", str(photos))
    assert "4 files: 0 uploaded, 4 already there (skipped), 0 failed" in again.stdout
    assert Image.objects.filter(owner=user).count() == 3
    assert sorted(Image.objects.filter(owner=user).values_list("original_filename", flat=True)) == [
        "a.jpg",
        "b.png",
        "c.jpg",
    ]

    classify = cli("classify", "--labels", "cat", "dog", "--top-k", "2", "--wait", check=False)
    if classify.returncode != 0:
        print(worker.log()[-4000:])
    assert classify.returncode == 0, classify.stdout + classify.stderr
    job = Job.objects.get(owner=user)
    assert f"Job {job.id}: completed" in classify.stdout
    assert (job.status, job.total, job.classified + job.unknown) == ("completed", 3, 3)

    results = cli("results", str(job.id), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(results.stdout)))
    assert sorted(r["filename"] for r in rows) == ["a.jpg", "b.png", "c.jpg"]
    assert {r["status"] for r in rows} <= {"classified", "unknown"}
    assert all(r["top_prediction"] in {"cat", "dog", ""} for r in rows)

    out = tmp_path / "job.json"
    cli("results", str(job.id), "--format", "json", "-o", str(out))
    body = json.loads(out.read_text())
    assert (body["job_id"], body["result"]["total_images"]) == (str(job.id), 3)

    jobs = cli("jobs")
    assert str(job.id) in jobs.stdout and "3/3" in jobs.stdout

    # --recursive finds the subfolder's photo; classify --last-upload names that run's images.
    deeper = cli("upload", str(photos), "--recursive")
    assert "5 files: 1 uploaded, 4 already there" in deeper.stdout, deeper.stdout
    second = cli("classify", "--last-upload", "--wait")
    assert second.returncode == 0
    latest = Job.objects.filter(owner=user).order_by("-created_at").first()
    assert latest is not None and latest.total == 4

    # Another user's token sees none of it: the job is a 404 for them.
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=other_user)
    cli("login", live_server.url, "--token", token.key)
    other = cli("results", str(job.id), check=False)
    assert other.returncode == 1 and "HTTP 404" in other.stderr


def test_upload_goes_straight_to_s3_and_resumes(cli, tmp_path, live_server, user, s3_storage):
    """On S3 the bytes go to the bucket by the presigned PUT, not through the app."""
    from rest_framework.authtoken.models import Token

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        (photos / f"p{i}.jpg").write_bytes(jpeg(seed=10 + i))
    shutil.copy(photos / "p0.jpg", photos / "p0-again.jpg")
    token, _ = Token.objects.get_or_create(user=user)
    cli("login", live_server.url, "--token", token.key)

    first = cli("upload", str(photos))
    assert "4 files: 3 uploaded, 1 already there (skipped), 0 failed" in first.stdout, (
        first.stdout + first.stderr
    )
    images = Image.objects.filter(owner=user)
    assert images.count() == 3
    assert all(i.file.storage.exists(i.file.name) for i in images)  # in the bucket
    again = cli("upload", str(photos))
    assert "4 files: 0 uploaded, 4 already there (skipped), 0 failed" in again.stdout

    # A file that is not an image is refused with the server's reason; the rest is kept.
    (photos / "broken.jpg").write_bytes(b"not a jpeg at all")
    bad = cli("upload", str(photos), check=False)
    assert bad.returncode == 1
    assert "1 failed" in bad.stdout and "broken.jpg" in bad.stderr, bad.stderr
    assert Image.objects.filter(owner=user).count() == 3
