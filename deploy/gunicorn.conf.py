"""gunicorn settings for the web container (`gunicorn --config deploy/gunicorn.conf.py ...`).

Access logs are one JSON object per request on stdout, like the app's own logs, so
CloudWatch Logs Insights can filter on status or path without parsing text.
"""

from __future__ import annotations

import json
import os

from gunicorn.glogging import Logger

bind = os.environ.get("BIND", "0.0.0.0:8000")
# WEB_CONCURRENCY is gunicorn's conventional knob; the task definition sets it per size.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4
# Requests reach the container only through the load balancer (security group), which
# sets X-Forwarded-For/-Proto.
forwarded_allow_ips = "*"
# Below the ALB idle timeout (60 s), above a slow multi-file upload.
timeout = 55
graceful_timeout = 25  # ECS waits 30 s for the web container after SIGTERM
keepalive = 75  # above the ALB idle timeout, so the ALB closes idle connections first
accesslog = "-"
errorlog = "-"


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
