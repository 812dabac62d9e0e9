"""Operations endpoints: /health for load balancers, /metrics for Prometheus."""

from __future__ import annotations

import hmac
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

from classifier_site.core.broker import QUEUE_JOBS, queue_depth

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_storage() -> None:
    bucket = getattr(default_storage, "bucket_name", None)
    if bucket:
        # HEAD on the bucket proves credentials, bucket and network; a HEAD on a missing
        # object would not (it answers 404 for a missing bucket too).
        default_storage.connection.meta.client.head_bucket(Bucket=bucket)  # type: ignore[attr-defined]
        return
    location = Path(default_storage.location)  # type: ignore[attr-defined]
    location.mkdir(parents=True, exist_ok=True)
    if not os.access(location, os.W_OK):
        raise PermissionError(f"{location} is not writable")


def _check_broker() -> None:
    queue_depth(QUEUE_JOBS)  # a round trip to the queue service


CHECKS = {"database": _check_database, "storage": _check_storage, "broker": _check_broker}


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # any failure means "not healthy", whatever its type
            logger.warning("health check %s failed: %s", name, exc)
            checks[name] = f"error: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "service": settings.SERVICE_NAME,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "checks": checks,
    }
    return JsonResponse(body, status=200 if healthy else 503)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = getattr(settings, "METRICS_TOKEN", "")
    production = not settings.DEBUG and not settings.EMBEDDED
    if not token and production and not settings.METRICS_PUBLIC:
        # Request counts per view, error rates and process details are reconnaissance
        # for an attacker: in production they are served only with a token, or when the
        # deployment says so (a private network that only Prometheus can reach).
        return HttpResponse(
            "metrics are not public: set METRICS_TOKEN (or METRICS_PUBLIC=1 on a private "
            "network)\n",
            status=403,
            content_type="text/plain",
        )
    if token:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied, token):
            return HttpResponse("metrics token required\n", status=401, content_type="text/plain")
    return ExportToDjangoView(request)
