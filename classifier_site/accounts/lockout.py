"""What a client sees once django-axes has locked it out (too many failed log-ins).

One response for every log-in door: the JSON error shape under /api/, a page elsewhere.
Both say how long the lock-out lasts, so a person who mistyped knows when to try again.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from classifier_site.core.errors import error_body


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (
        f"Too many failed log-in attempts for this account or from this address. "
        f"Try again in {minutes} minutes, or ask an administrator to unlock the account."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    status = settings.AXES_HTTP_RESPONSE_CODE
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body("locked_out", lockout_message()), status=status)
    else:
        response = render(
            request, "accounts/locked_out.html", {"message": lockout_message()}, status=status
        )
    response["Retry-After"] = retry_after
    return response
