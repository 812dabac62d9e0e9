"""Request type for views that read ``request.htmx`` (set by django-htmx's middleware),
and the query helpers of the "N new" polls."""

from datetime import datetime
from urllib.parse import urlsplit

from django.http import HttpRequest
from django.utils.dateparse import parse_datetime
from django_htmx.middleware import HtmxDetails

from classifier_site.core.errors import DomainError


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


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
