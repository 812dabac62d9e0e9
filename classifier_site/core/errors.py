"""One JSON error shape for the whole API.

{"error": {"code": "validation_error", "message": "top_k: must be between 1 and 10.",
           "fields": {"top_k": ["must be between 1 and 10."]}}}
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404
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


def exception_handler(exc: Exception, context: dict) -> Response | None:
    limit = request_limit_error(exc)
    if limit is not None:
        status_code, code, message = limit
        return Response(error_body(code, message), status=status_code)
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
        return None
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
