"""Slow clients against the shipped gunicorn configuration: /health keeps answering."""

from __future__ import annotations

import os
import time

from classifier_site.testing.slowclients import gunicorn_server, health_latency, slow_clients

SLOW_CLIENTS = 64  # 16 was enough to hold every thread of the old gthread setup


def test_health_answers_while_slow_clients_hold_connections(tmp_path):
    # One worker, so the slow clients are not spread out: the hardest case for the config.
    with (
        gunicorn_server(tmp_path, GUNICORN_WORKERS="1") as url,
        slow_clients(url, SLOW_CLIENTS, seconds=30),
    ):
        time.sleep(2)  # every slow request has been accepted and is mid-way
        latencies = [health_latency(url, timeout=10) for _ in range(3)]
    print(f"/health under {SLOW_CLIENTS} slow clients: {latencies} s")
    assert None not in latencies, latencies


def test_config_reads_its_values_from_the_environment(monkeypatch):
    import runpy

    from classifier_site.testing.slowclients import CONFIG

    monkeypatch.setenv("GUNICORN_WORKERS", "7")
    monkeypatch.setenv("GUNICORN_WORKER_CLASS", "gthread")
    monkeypatch.setenv("GUNICORN_KEEPALIVE", "70")
    config = runpy.run_path(str(CONFIG))
    assert (config["workers"], config["worker_class"], config["keepalive"]) == (7, "gthread", 70)
    monkeypatch.delenv("GUNICORN_WORKER_CLASS")
    monkeypatch.delenv("DB_CONN_MAX_AGE", raising=False)  # restored by monkeypatch after
    assert runpy.run_path(str(CONFIG))["worker_class"] == "gevent"
    # Greenlets are threads to Django: no connection kept per greenlet unless asked.
    assert os.environ["DB_CONN_MAX_AGE"] == "0"
