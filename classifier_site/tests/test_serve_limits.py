"""The embedded server (`manage.py serve`) and request bodies it never needs to read."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from classifier_site.testing.processes import ROOT, clean_env
from classifier_site.testing.pytest_env import free_port

MIB = 1024 * 1024


def _high_water_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def serve(tmp_path):
    port = free_port()
    env = clean_env(tmp_path / "data", INPROCESS_WORKER="0", REQUEST_MAX_BYTES=str(300 * MIB))
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while _status(port, b"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") is None:
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.3)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _status(port: int, head: bytes, body_bytes: int = 0) -> int | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(head)
            chunk = b"\0" * MIB
            for _ in range(body_bytes // MIB):
                sock.sendall(chunk)
            reply = sock.recv(64)
    except OSError:
        return None
    return int(reply.split()[1]) if reply.startswith(b"HTTP/") else None


def _post_head(length: int) -> bytes:
    return (
        f"POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def test_an_unread_body_is_drained_in_chunks_not_held_in_memory(serve):
    port, pid = serve
    before = _high_water_mb(pid)
    assert _status(port, _post_head(200 * MIB), 200 * MIB) == 404
    grown = _high_water_mb(pid) - before
    print(f"serve memory growth for a 200 MiB body to a 404: {grown:.0f} MB")
    assert grown < 50


def test_a_body_over_the_request_cap_is_refused_without_reading_it(serve):
    port, pid = serve
    before = _high_water_mb(pid)
    # Only the headers are sent: the answer must not wait for the 400 MiB.
    assert _status(port, _post_head(400 * MIB)) == 413
    assert _high_water_mb(pid) - before < 20
