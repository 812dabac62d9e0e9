"""/livez: what the load balancer calls by IP over HTTP, and gunicorn's JSON access log."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

from classifier_site.testing.processes import ROOT, clean_env
from classifier_site.testing.pytest_env import free_port

TARGET_IP = "10.40.8.23"  # what an ALB health check sends as Host


def test_livez_answers_a_host_that_is_not_allowed(client):
    response = client.get("/livez", HTTP_HOST=TARGET_IP)
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Cache-Control"] == "no-store"
    # The same Host on any other path is still refused: only /livez skips the check.
    assert client.get("/health", HTTP_HOST=TARGET_IP).status_code == 400


def test_livez_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/livez", HTTP_HOST=TARGET_IP).status_code == 200
    assert client.get("/accounts/login/").status_code == 301


def test_livez_checks_no_dependency(client, settings):
    # No database access is allowed in this test (no db fixture): /livez must not query.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": "/nonexistent/media", "base_url": None},
        },
    }
    assert client.get("/livez").status_code == 200


def test_livez_only_for_reads(client):
    response = client.post("/livez", HTTP_HOST=TARGET_IP)
    assert response.status_code == 400  # falls through to Host validation


def test_gunicorn_writes_json_access_logs(tmp_path):
    port = free_port()
    env = clean_env(tmp_path, GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "deploy/gunicorn.conf.py",
            "classifier_site.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/livez?probe=1",
                    headers={"Host": TARGET_IP, "User-Agent": 'ELB-HealthChecker/2.0 "q"'},
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert response.status == 200
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.3)
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    access = [json.loads(line) for line in output.splitlines() if '"gunicorn.access"' in line]
    records = [r for r in access if r["query"] == "probe=1"]
    assert records, output
    record = records[-1]
    assert record["method"] == "GET"
    assert record["path"] == "/livez"
    assert record["status"] == 200
    assert record["user_agent"] == 'ELB-HealthChecker/2.0 "q"'
    assert record["duration_ms"] >= 0
