"""One JSON error shape for the whole API.

{"error": {"code": "validation_error", "message": "top_k: must be between 1 and 10.",
           "fields": {"top_k": ["must be between 1 and 10."]}}}
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """Raised by services for a request that cannot be carried out as asked.

    Services stay free of HTTP; the API maps ``status_code`` and ``code`` to a response.
    """

    status_code = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                out.update(_flatten(item, f"{prefix}[{index}]"))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


logger = logging.getLogger(__name__)


def request_limit_error(exc: Exception) -> tuple[int, str, str] | None:
    """(status, code, message) for Django's request-size refusals, else None.

    Django raises these while parsing a body (they would become a bare HTML 400); the API
    answers them in the error shape and the upload page shows the message.
    """
    if isinstance(exc, TooManyFilesSent):
        n = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return (
            400,
            "too_many_files",
            f"The request has more than {n} files. Send at most {n} files per request.",
        )
    if isinstance(exc, TooManyFieldsSent):
        n = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return (
            400,
            "too_many_fields",
            f"The request has more than {n} form fields. Send at most {n} per request.",
        )
    if isinstance(exc, RequestDataTooBig):
        n = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return (
            413,
            "request_too_large",
            f"The form data (files not counted) is larger than {n} bytes.",
        )
    return None


def _framework_rejection(exc: Exception) -> tuple[int, dict] | None:
    """Django's request-level rejections (raised while a view reads the body) as a status
    and the JSON error body."""
    limit = request_limit_error(exc)
    if limit is not None:
        status_code, code, message = limit
        return status_code, error_body(code, message)
    if isinstance(exc, SuspiciousOperation):
        return 400, error_body("bad_request", "The request was refused as malformed.")
    return None
    return None


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is away, not the request wrong: re-raised to the one place that
        # answers it, core.middleware.DatabaseUnavailableMiddleware (503 + Retry-After).
        return None
    rejection = _framework_rejection(exc)
    if rejection is not None:
        return Response(rejection[1], status=rejection[0])
    if isinstance(exc, DomainError):
        fields = {exc.field: [exc.message]} if exc.field else None
        message = f"{exc.field}: {exc.message}" if exc.field else exc.message
        return Response(error_body(exc.code, message, fields), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        # A bug. The client still gets the one JSON shape; the traceback goes where
        # Django's own 500 handling sends it (logs, and the test client re-raises it).
        request = context.get("request")
        logger.error("unhandled API error", exc_info=exc)
        got_request_exception.send(sender=None, request=getattr(request, "_request", request))
        return Response(
            error_body("server_error", "Something went wrong on our side; try again later."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = "; ".join(
            f"{name}: {msgs[0]}" if name != "non_field_errors" else msgs[0]
            for name, msgs in fields.items()
        )
        response.data = error_body("validation_error", message, fields)
        response.status_code = status.HTTP_400_BAD_REQUEST
        return response
    code = getattr(exc, "default_code", "error")
    detail = getattr(exc, "detail", str(exc))
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        detail = f"Too many requests. Try again in {int(wait) + 1} seconds."
    response.data = error_body(str(code), str(detail))
    return response


class DomainErrorMiddleware:
    """Pages get the same mapping as the API: a DomainError no view handled becomes its
    status. NotFound goes through Django's 404 handling (the styled 404 page); the
    others answer with their message. The API's errors never reach here: DRF's
    ``exception_handler`` above answers them first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DomainError):
            return None
        if exception.status_code == 404:
            raise Http404(exception.message)
        message = (
            f"{exception.field}: {exception.message}" if exception.field else exception.message
        )
        return HttpResponse(message, status=exception.status_code, content_type="text/plain")


# --- /api/ outside DRF's views: unknown paths and Django's own error handlers -----------


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


@csrf_exempt  # a 404 whatever the method: a CSRF 403 page would hide the answer
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Every /api/ path no route matched (also an id of the wrong form, like
    /api/v1/categories/abc): the JSON 404, never Django's HTML page."""
    return JsonResponse(
        error_body(
            "not_found",
            f"No API endpoint at {request.path}; see /api/v1/schema/ for the endpoints.",
        ),
        status=404,
    )


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        rejection = _framework_rejection(exception) if exception is not None else None
        status_code, body = rejection or (400, error_body("bad_request", "Bad request."))
        return JsonResponse(body, status=status_code)
    return defaults.bad_request(request, exception)  # type: ignore[arg-type]


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return JsonResponse(error_body("permission_denied", "You may not do this."), status=403)
    return defaults.permission_denied(request, exception)  # type: ignore[arg-type]


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)  # type: ignore[arg-type]


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side; try again later."),
            status=500,
        )
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: JSON under /api/ (a session-authenticated script without the
    CSRF token), Django's page elsewhere."""
    if is_api(request):
        return JsonResponse(
            error_body(
                "csrf_failed",
                f"CSRF check failed ({reason}); send the X-CSRFToken header with session "
                "authentication, or use a token (Authorization: Token <key>).",
            ),
            status=403,
        )
    return csrf.csrf_failure(request, reason)
