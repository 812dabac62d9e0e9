"""Pytest plugin loaded with ``-p`` before Django starts: real services for the suite.

It must run before pytest-django imports the settings, because the settings choose the
database and the broker once. It provides
- PostgreSQL: the server at 127.0.0.1:5432 when there, otherwise a throwaway cluster;
- an S3 + SQS server speaking the real protocol on loopback (moto's server mode);
- environment for a production-like run of the settings on those services.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


_children: list[subprocess.Popen] = []


def _stop_children() -> None:
    for proc in _children:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


atexit.register(_stop_children)


def _throwaway_postgres(tmp: Path) -> str:
    """Start a private PostgreSQL cluster (trust auth, loopback, free port)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [
        shutil.which("initdb") or ""
    ]
    initdb = candidates[-1]
    if not initdb or not Path(initdb).exists():
        raise RuntimeError(
            "No PostgreSQL at 127.0.0.1:5432 and no initdb to start one: "
            "install PostgreSQL (make test does: apt-get install postgresql)."
        )
    bindir = Path(initdb).parent
    datadir = tmp / "pgdata"
    port = free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        run_as = ["runuser", "-u", "postgres", "--"]
        tmp.chmod(0o777)
    subprocess.run(
        [*run_as, str(initdb), "-D", str(datadir), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    proc = subprocess.Popen(
        [
            *run_as,
            str(bindir / "postgres"),
            "-D",
            str(datadir),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-k",
            str(tmp),
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _children.append(proc)
    for _ in range(100):
        if _port_open("127.0.0.1", port):
            break
        time.sleep(0.1)
    return f"postgres://postgres@127.0.0.1:{port}/classifier"


def _start_moto() -> str:
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _children.append(proc)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)  # noqa: S310 - loopback
            return url
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("moto server did not start")


def _configure() -> None:
    if os.environ.get("CLASSIFIER_TEST_ENV") == "1":
        return  # already set up (a worker subprocess inherits it)
    tmp = Path(tempfile.mkdtemp(prefix="classifier-tests-"))
    atexit.register(shutil.rmtree, tmp, True)

    db_url = os.environ.get("TEST_DATABASE_URL")
    if not db_url:
        db_url = (
            # A name of its own, so concurrent test sessions never share a test database.
            f"postgres://postgres@127.0.0.1:5432/classifier_{uuid.uuid4().hex[:8]}"
            if _port_open("127.0.0.1", 5432)
            else _throwaway_postgres(tmp)
        )
    moto_url = _start_moto()
    env = {
        "CLASSIFIER_TEST_ENV": "1",
        # Worker and server processes the tests start load the test settings too.
        "DJANGO_SETTINGS_MODULE": "classifier_site.testing.settings",
        "DATABASE_URL": db_url,
        "SECRET_KEY": "tests-" + uuid.uuid4().hex,
        "DEBUG": "0",
        "EMBEDDED": "1",
        "DATA_DIR": str(tmp / "data"),
        "BROKER_URL": "sqs://",
        "SQS_ENDPOINT_URL": moto_url,
        "SQS_NAMESPACE": "t" + uuid.uuid4().hex[:10],
        "MOTO_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "INPROCESS_WORKER": "0",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    os.environ.pop("S3_BUCKET", None)


_configure()
