"""A real gunicorn on loopback and clients that send their requests a byte at a time.

Used by the slow-client test and bench/slow_clients.py. Everything is bounded: the
clients stop trickling after ``seconds`` and the server is stopped by the caller.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from classifier_site.testing.processes import ROOT, clean_env
from classifier_site.testing.pytest_env import free_port

CONFIG = ROOT / "deploy" / "gunicorn.conf.py"


@contextmanager
def gunicorn_server(data_dir: Path, *args: str, **env: str) -> Iterator[str]:
    """Run ``gunicorn -c deploy/gunicorn.conf.py`` (embedded settings) and yield its URL."""
    port = free_port()
    environ = clean_env(data_dir, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_ACCESS_LOG="", **env)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(
        [gunicorn, "-c", str(CONFIG), *args, "classifier_site.wsgi"],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {proc.communicate()[1][-2000:]}")
            try:
                urllib.request.urlopen(url + "/health", timeout=5)  # noqa: S310 - loopback
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not answer /health") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def slow_clients(url: str, count: int, *, seconds: float) -> Iterator[list[socket.socket]]:
    """``count`` connections that send a request a byte every half second for ``seconds``.

    Half send their headers slowly (slowloris), half send complete headers for a 1 MB
    form POST and then the body slowly, as the issue's attacker did.
    """
    host, port = url.removeprefix("http://").split(":")
    sockets: list[socket.socket] = []
    stop = threading.Event()
    for i in range(count):
        sock = socket.create_connection((host, int(port)), timeout=5)
        if i % 2:
            sock.sendall(
                b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 1000000\r\n\r\nusername="
            )
        else:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(sock)

    def trickle() -> None:
        deadline = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < deadline:
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(b"a")  # never completes a header line or the body
            stop.wait(0.5)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield sockets
    finally:
        stop.set()
        thread.join(timeout=5)
        for sock in sockets:
            sock.close()


def health_latency(url: str, *, timeout: float) -> float | None:
    """Seconds /health took to answer 200, or None if it did not within ``timeout``."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url + "/health", timeout=timeout) as response:  # noqa: S310
            if response.status != 200:
                return None
    except OSError:
        return None
    return time.monotonic() - started
