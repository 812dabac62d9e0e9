"""Request middleware of the shared kernel."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, close_old_connections
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


def _unavailable(request: HttpRequest) -> HttpResponse:
    message = "The service is briefly unavailable (its database cannot be reached). Try again."
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"error": {"code": "unavailable", "message": message, "fields": {}}}, status=503
        )
    else:
        response = HttpResponse(message + "\n", status=503, content_type="text/plain")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """A database outage answers 503 with Retry-After (JSON on the API), not a 500 page.

    Clients and load balancers treat 503 + Retry-After as "come back shortly"; a 500
    says the request itself is broken. Outermost, so it also covers the session and
    authentication middleware, which query the database first.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        except (OperationalError, InterfaceError):
            return self._handle(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, OperationalError | InterfaceError):
            return self._handle(request)
        return None

    def _handle(self, request: HttpRequest) -> HttpResponse:
        logger.warning("database unavailable for %s %s", request.method, request.path)
        close_old_connections()  # a broken connection is replaced on the next request
        return _unavailable(request)
