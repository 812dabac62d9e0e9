"""Request type for views that read ``request.htmx`` (set by django-htmx's middleware)."""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def client_ip(request: HttpRequest) -> str:
    """The address of the client that sent ``request``, as far as our proxies vouch for it.

    With ``TRUSTED_PROXY_COUNT = N`` each of N proxies in front of us appended the address
    it saw to X-Forwarded-For, so the Nth entry from the right is the one a client cannot
    forge; anything further left was written by the client. 0 trusts no header. Same rule
    as DRF's ``NUM_PROXIES`` (set from the same setting), so throttles and lockouts agree.
    """
    from django.conf import settings

    remote = request.META.get("REMOTE_ADDR", "")
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if count <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",")]
    return addresses[-min(count, len(addresses))] or remote
