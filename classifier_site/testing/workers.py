"""Real Dramatiq worker processes for tests that cross process boundaries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """``manage.py rundramatiq`` against the test database and the loopback SQS."""

    def __init__(
        self,
        *,
        queues: list[str] | None = None,
        threads: int = 1,
        processes: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        self.queues = queues
        self.threads = threads
        self.processes = processes
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(os.environ["DATA_DIR"]) / f"worker-{time.monotonic_ns()}.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The worker must see the test database pytest-django created, not the base name.
        settings_dict = connection.settings_dict
        env["DATABASE_URL"] = (
            f"postgres://{settings_dict['USER'] or 'postgres'}@{settings_dict['HOST']}:"
            f"{settings_dict['PORT']}/{settings_dict['NAME']}"
        )
        env["dramatiq_queue_prefetch"] = "1"
        env.update(self.extra_env)
        return env

    def start(self) -> WorkerProcess:
        Path(self.log_path).parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "manage.py",
            "rundramatiq",
            "--processes",
            str(self.processes),
            "--threads",
            str(self.threads),
        ]
        if self.queues:
            cmd += ["--queues", *self.queues]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean-up, no ack, no nack."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None):
            self._log.close()


def wait_for(predicate, *, timeout: float = 60.0, interval: float = 0.25, message: str = ""):
    """Poll ``predicate`` until it returns a truthy value; fail with ``message`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}")
