"""The embedded default end to end, as `make run` starts it: one process, SQLite, local
files, the in-process queue and worker, and the offline ImageNet model on a real photo."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import pytest
import requests
from PIL import Image as PILImage
from skimage import data as samples

from classifier_site.testing.processes import ROOT, clean_env, run_manage
from classifier_site.testing.pytest_env import free_port


def _manage(env: dict[str, str], *args: str) -> str:
    result = run_manage(*args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def embedded_server(tmp_path):
    env = clean_env(tmp_path / "data", HF_HUB_OFFLINE="1")
    _manage(env, "release")  # as `make run` does
    assert "username=demo password=demo-password" in _manage(env, "ensure_demo_user")
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.3)
        else:
            raise AssertionError((tmp_path / "serve.log").read_text())
        yield base, tmp_path
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_embedded_default_classifies_a_real_photo(embedded_server):
    base, tmp_path = embedded_server
    health = requests.get(base + "/health", timeout=10).json()
    assert health["checks"] == {"database": "ok", "storage": "ok", "broker": "ok"}
    login_page = requests.get(base + "/accounts/login/", timeout=10)
    assert login_page.status_code == 200
    for asset in ("/static/css/app.css", "/static/vendor/htmx.min.js"):
        assert requests.get(base + asset, timeout=10).status_code == 200

    token = requests.post(
        base + "/api/v1/auth/token",
        data={"username": "demo", "password": "demo-password"},
        timeout=10,
    ).json()["token"]
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token}"

    photo = io.BytesIO()
    PILImage.fromarray(samples.chelsea()).save(photo, "JPEG", quality=92)
    upload = api.post(
        base + "/api/v1/images", files=[("files", ("chelsea.jpg", photo.getvalue()))], timeout=30
    )
    assert upload.status_code == 201, upload.text
    image_id = upload.json()["results"][0]["image"]["id"]
    stored = list((tmp_path / "data" / "media" / "uploads").rglob("*.jpg"))
    assert len(stored) == 1

    submit = api.post(
        base + "/api/v1/submit",
        json={"job_type": "image_classification", "image_ids": [image_id], "top_k": 3},
        timeout=30,
    )
    assert submit.status_code == 201, submit.text
    job_id = submit.json()["job_id"]

    deadline = time.monotonic() + 180
    status = ""
    while time.monotonic() < deadline:
        status = api.get(f"{base}/api/v1/status/{job_id}", timeout=10).json()["status"]
        if status in ("completed", "failed"):
            break
        time.sleep(1)
    assert status == "completed", (tmp_path / "serve.log").read_text()[-4000:]
    result = api.get(f"{base}/api/v1/result/{job_id}", timeout=10).json()["result"]
    assert result["total_images"] == 1
    top = result["images"][0]["top_prediction"]
    assert top in {"tabby", "tiger cat", "Egyptian cat"}, result
