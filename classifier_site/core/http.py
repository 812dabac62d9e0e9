"""HTTP helpers every app shares: the request type of views that read ``request.htmx``
(set by django-htmx's middleware), the client address behind trusted proxies, the
request-body limit, and the query helpers of the "N new" polls."""

from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.dateparse import parse_datetime
from django_htmx.middleware import HtmxDetails

from classifier_site.core.errors import DomainError, error_body


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def client_ip(request: HttpRequest) -> str:
    """The address of the client that sent ``request``, as far as our proxies vouch for it.

    With ``TRUSTED_PROXY_COUNT = N`` each of N proxies in front of us appended the address
    it saw to X-Forwarded-For, so the Nth entry from the right is the one a client cannot
    forge; anything further left was written by the client. 0 trusts no header. Same rule
    as DRF's ``NUM_PROXIES`` (set from the same setting), so throttles and lockouts agree.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if count <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",")]
    return addresses[-min(count, len(addresses))] or remote


class RequestBodyLimitMiddleware:
    """Refuse a body larger than REQUEST_MAX_BYTES before anything reads it, and delete the
    upload handlers' temporary files when the request is done, whatever happened.

    The per-file cap lives in the upload handler (FILE_UPLOAD_HANDLERS); this bounds the
    whole request (many files, or a body sent to a page that never reads it).
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        limit = settings.REQUEST_MAX_BYTES
        if declared > limit:
            message = (
                f"The request body is {declared} bytes; the limit is {limit} bytes. "
                "Send fewer or smaller files per request."
            )
            if request.path.startswith("/api/"):
                return JsonResponse(error_body("request_too_large", message), status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        try:
            return self.get_response(request)
        finally:
            # Views have finished with the uploaded files by now (no streaming response
            # reads an upload). Only handlers already created are looked at.
            for handler in getattr(request, "_upload_handlers", None) or []:
                close = getattr(handler, "close_temporary_files", None)
                if close is not None:
                    close()


def since_param(request: HttpRequest) -> datetime | None:
    """The ``since`` of a "N new" poll: the newest ``created_at`` the page was drawn with
    (ISO 8601), or none when the page was empty. 400 on anything else."""
    raw = request.GET.get("since", "")
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise DomainError(
            "since: give the time as ISO 8601 with a time zone, e.g. 2026-01-31T12:00:00+00:00.",
            field="since",
        )
    return value


def fresh_url(request: HttpRequest, *, page: str) -> str:
    """Where "Show" on a "N new" notice leads: the page as the person has it now (htmx
    sends its address, filters included), else ``page`` bare. Only a local path is kept."""
    current = getattr(request, "htmx", None) and request.htmx.current_url  # type: ignore[attr-defined]
    if current:
        parts = urlsplit(current)
        if parts.netloc == request.get_host() and parts.path.startswith(page):
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return page
