"""`make cluster` smoke test: the production topology as separate processes on loopback."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

from classifier_site.testing.images import jpeg
from classifier_site.testing.pytest_env import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.workers, pytest.mark.cluster]


def _drop_database(name: str) -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_cluster_starts_completes_a_job_over_http_and_stops(inference_weights_env, tmp_path):
    database = f"cluster_smoke_{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SQS_", "DATABASE", "MOTO"))}
    env.update(inference_weights_env)
    env.update({"JOB_SHARD_SIZE": "2", "LOG_LEVEL": "INFO"})
    cmd = [
        sys.executable, "scripts/cluster.py", "--workers", "2", "--web-workers", "1",
        "--port", str(port), "--database", database, "--data-dir", str(tmp_path / "run"),
        "--namespace", "smoke" + uuid.uuid4().hex[:6], "--demo",
    ]  # fmt: skip
    log = open(tmp_path / "cluster.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        state = tmp_path / "run/cluster.json"
        # Bounded but generous: collectstatic (hashing and compressing ~40 MB of static
        # files) and the migrations take minutes on a loaded two-core machine.
        deadline = time.monotonic() + 420
        while not state.exists():
            assert proc.poll() is None, (tmp_path / "cluster.log").read_text()[-4000:]
            assert time.monotonic() < deadline, "cluster did not come up"
            time.sleep(0.5)
        assert json.loads(state.read_text())["workers"] == 2
        # Pages render with the production static files (hashed names from a manifest).
        login = requests.get(f"{base}/accounts/login/", timeout=30)
        assert login.status_code == 200, login.text[-2000:]
        css = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', login.text)
        assert css, login.text[:2000]
        assert requests.get(base + css.group(1), timeout=30).status_code == 200
        token = (tmp_path / "run/demo-token").read_text().strip()
        auth = {"Authorization": f"Token {token}"}

        files = [
            ("files", (f"p{i}.jpg", jpeg(seed=i, size=(48, 40)), "image/jpeg")) for i in range(6)
        ]
        upload = requests.post(f"{base}/api/v1/images", files=files, headers=auth, timeout=30)
        assert upload.status_code == 201, upload.text
        ids = [r["image"]["id"] for r in upload.json()["results"]]
        submit = requests.post(
            f"{base}/api/v1/submit",
            json={"job_type": "image_classification", "image_ids": ids},
            headers=auth,
            timeout=10,
        )
        assert submit.status_code == 201, submit.text
        job_id = submit.json()["job_id"]
        status = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = requests.get(f"{base}/api/v1/status/{job_id}", headers=auth, timeout=10).json()
            if status["status"] in ("completed", "failed", "canceled"):
                break
            time.sleep(1)
        assert status["status"] == "completed", status
        result = requests.get(f"{base}/api/v1/result/{job_id}", headers=auth, timeout=10).json()
        assert result["result"]["total_images"] == 6
        assert len({i["filename"] for i in result["result"]["images"]}) == 6
        # The shards ran in the bulk worker processes, each exactly once.
        logs = "".join(p.read_text() for p in (tmp_path / "run/logs").glob("worker-*.log"))
        assert logs.count(f"completed (job {job_id})") == 3
        worker_logs = sorted(p.name for p in (tmp_path / "run/logs").glob("*.log"))
        assert {"web.log", "sweeper.log", "predict-worker.log", "worker-1.log"} <= set(worker_logs)
    finally:
        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            proc.wait(timeout=150)  # SIGTERM each process, SIGKILL at 30 s, sequentially under load
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
            _drop_database(database)
    print(f"cluster stopped {time.monotonic() - stopped_at:.1f}s after Ctrl-C")
    assert proc.returncode == 0, (tmp_path / "cluster.log").read_text()[-3000:]
    assert "stopped" in (tmp_path / "cluster.log").read_text()
