"""Slow clients vs gunicorn worker classes: /health latency while N connections trickle.

    .venv/bin/python bench/slow_clients.py

Runs deploy/gunicorn.conf.py (one worker, embedded settings in a temporary folder) with
the old gthread setup (4 threads) as the baseline and with the shipped gevent worker,
each idle and under 16 and 64 slow connections. "no answer" = none within 8 s.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifier_site.testing.slowclients import (  # noqa: E402
    gunicorn_server,
    health_latency,
    slow_clients,
)

CONFIGS = {
    "gthread (baseline)": {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "4"},
    "gevent (shipped)": {"GUNICORN_WORKER_CLASS": "gevent"},
}


def _fmt(values: list[float | None]) -> str:
    answered = [v for v in values if v is not None]
    if not answered:
        return "no answer"
    return f"median {statistics.median(answered) * 1000:.1f} ms ({len(answered)}/{len(values)})"


def main() -> None:
    for name, env in CONFIGS.items():
        with (
            tempfile.TemporaryDirectory() as tmp,
            gunicorn_server(Path(tmp), GUNICORN_WORKERS="1", **env) as url,
        ):
            idle = [health_latency(url, timeout=8) for _ in range(5)]
            print(f"{name:20} idle: {_fmt(idle)}")
            for count in (16, 64):
                with slow_clients(url, count, seconds=40):
                    time.sleep(2)
                    loaded = [health_latency(url, timeout=8) for _ in range(3)]
                print(f"{name:20} {count} slow clients: {_fmt(loaded)}")


if __name__ == "__main__":
    main()
