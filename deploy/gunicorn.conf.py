"""Gunicorn settings for the web process.

    gunicorn -c deploy/gunicorn.conf.py classifier_site.wsgi

Every value can be overridden by an environment variable (listed in .env.example), so a
task definition tunes it without a new image.

Why gevent: with the sync or gthread workers each connection holds an OS thread from the
first byte of the request to the last, so a handful of clients sending their headers or
body a byte at a time (slowloris) hold every thread and /health stops answering (the load
balancer then kills healthy tasks). A gevent worker gives each connection a greenlet that
costs a few KB while it waits on the socket, so `worker_connections` slow clients per
worker are needed before anyone else waits. The test
classifier_site/tests/test_gunicorn.py opens slow connections against this file and
shows /health still answers; bench/slow_clients.py compares it with gthread.

What gevent does not do: CPU-bound work (image decoding) in one greenlet blocks the
others of that worker until it finishes, so decoding is bounded in size and concurrency
(images/intake.py), and there are several workers per task.

Access logs are one JSON object per request on stdout, like the app's own logs, so
CloudWatch Logs Insights can filter on status or path without parsing text.
"""

from __future__ import annotations

import json
import os

from gunicorn.glogging import Logger


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
# GUNICORN_WORKERS, else WEB_CONCURRENCY (gunicorn's own convention, which the task
# definitions set per task size).
workers = _env_int("GUNICORN_WORKERS", _env_int("WEB_CONCURRENCY", 3))
# Concurrent connections per gevent worker (slow clients included) before new ones queue.
worker_connections = _env_int("GUNICORN_WORKER_CONNECTIONS", 1000)
threads = _env_int("GUNICORN_THREADS", 1)  # only used by the gthread worker class
# A worker that does not notify the arbiter for this long is killed and replaced.
timeout = _env_int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Longer than the AWS load balancer's idle timeout (60 s), or it sends a request on a
# connection gunicorn has just closed and answers 502.
keepalive = _env_int("GUNICORN_KEEPALIVE", 65)
# Bounds on what a request line and headers may cost before Django sees the request.
limit_request_line = _env_int("GUNICORN_LIMIT_REQUEST_LINE", 4094)
limit_request_fields = _env_int("GUNICORN_LIMIT_REQUEST_FIELDS", 100)
limit_request_field_size = _env_int("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", 8190)
# Recycle workers now and then, so a slow leak cannot grow without end.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 500)
# X-Forwarded-Proto is believed only from these peers. In AWS the task's only ingress is
# the load balancer (security group), so every peer is it.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "*")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"

if worker_class == "gevent":
    # Django keeps a connection per thread, and every greenlet is a thread under gevent:
    # persistent connections would pile up (one per open client), so close them after
    # each request unless the deployment says otherwise.
    os.environ.setdefault("DB_CONN_MAX_AGE", "0")


class JsonAccessLogger(Logger):
    """Writes each access line as JSON (values escaped properly, unlike a format string)."""

    def access(self, resp, req, environ, request_time):
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog):
            return
        atoms = self.atoms(resp, req, environ, request_time)
        record = {
            "logger": "gunicorn.access",
            "remote": atoms["h"],
            "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR", ""),
            "method": atoms["m"],
            "path": atoms["U"],
            "query": atoms["q"],
            "status": int(atoms["s"]),
            "bytes": atoms["B"],
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "user_agent": atoms["a"],
            "trace_id": environ.get("HTTP_X_AMZN_TRACE_ID", ""),
        }
        try:
            self.access_log.info(json.dumps(record))
        except Exception:
            self.exception("Failed to write an access log line")


logger_class = JsonAccessLogger
