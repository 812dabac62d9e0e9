"""Fresh interpreters for tests: settings read at start-up can only be tested that way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Only the basics of this environment: what a fresh laptop (or server) would have."""
    keep = {"PATH", "HOME", "LANG", "SYSTEMROOT"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({"DJANGO_SETTINGS_MODULE": "classifier_site.settings", "DATA_DIR": str(data_dir)})
    env.update(extra)
    return env


def run_python(code: str, env: dict[str, str], *, timeout: int = 180):
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_manage(*args: str, env: dict[str, str], timeout: int = 300):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
