"""Project-level API views: the index and the throttled token endpoint."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle


class TokenObtainApi(ObtainAuthToken):
    """Exchange username + password for the user's API token.

    DRF's ObtainAuthToken has no throttle of its own; this one allows a few tries a
    minute per client address, which makes password guessing impractical.
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
        return super().post(request, *args, **kwargs)


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
