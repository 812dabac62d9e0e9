"""Project-level API views: the index and the throttled token endpoint."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from classifier_site.accounts.lockout import lockout_message
from classifier_site.core.errors import error_body


class ApiDocsPermission(BasePermission):
    """The schema and docs pages: public when API_DOCS_PUBLIC (the default), else logged in.

    Read per request, so the setting is one switch for all three views."""

    def has_permission(self, request, view) -> bool:
        return bool(settings.API_DOCS_PUBLIC or request.user.is_authenticated)


class TokenObtainApi(ObtainAuthToken):
    """Exchange username + password for the user's API token.

    DRF's ObtainAuthToken has no throttle of its own; this one allows a few tries a
    minute per client address, and shares the log-in lock-out (per account and per
    address) with the log-in page and the admin.
    """

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token_obtain"
    # ObtainAuthToken names DRF's unbounded JSONParser; this endpoint is anonymous, so it
    # needs the bounded one most of all.
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES  # type: ignore[assignment]

    @extend_schema(
        request=inline_serializer(
            "TokenObtainRequest",
            {"username": serializers.CharField(), "password": serializers.CharField()},
        ),
        responses=inline_serializer("TokenObtainResponse", {"token": serializers.CharField()}),
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            # django-axes flags a lock-out on the request it was given: DRF's wrapper, which
            # its middleware never sees, so the lock-out is answered here.
            if getattr(request, "axes_locked_out", False):
                return Response(
                    error_body("locked_out", lockout_message()),
                    status=settings.AXES_HTTP_RESPONSE_CODE,
                    headers={"Retry-After": str(int(settings.AXES_COOLOFF_TIME.total_seconds()))},
                )
            raise


@extend_schema(
    responses=inline_serializer(
        "ApiIndex", {"user": serializers.CharField(), "links": serializers.DictField()}
    )
)
@api_view(["GET"])
def api_index(request: Request) -> Response:
    return Response(
        {
            "user": request.user.get_username(),
            "links": {
                "schema": reverse("api-schema", request=request),
                "docs": reverse("api-docs", request=request),
                "redoc": reverse("api-redoc", request=request),
            },
        }
    )
