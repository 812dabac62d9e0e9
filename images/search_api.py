"""API: search a user's photos by meaning."""

from __future__ import annotations

from django.core.validators import RegexValidator
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from images.search import MAX_RESULTS, image_search
from images.selectors import FORMAT_CHOICES, ImageFilters

# Text parameters never carry NUL (PostgreSQL refuses it): said in the schema as a pattern.
NUL_FREE = [RegexValidator(r"^[^\x00]*$", "Null characters are not allowed.")]


class SearchQuerySerializer(serializers.Serializer):
    text = serializers.CharField(
        help_text="Plain words, e.g. “red cup on a table”.", validators=NUL_FREE
    )
    limit = serializers.IntegerField(min_value=1, max_value=MAX_RESULTS, default=48)
    # The gallery's filters, parsed by ImageFilters.from_params (documented here).
    # An empty value means "no filter" (an empty query parameter is dropped by DRF).
    q = serializers.CharField(required=False, allow_blank=True, validators=NUL_FREE)
    label = serializers.CharField(  # type: ignore[assignment]  # named like Field.label
        required=False, allow_blank=True, validators=NUL_FREE
    )
    user_label = serializers.CharField(required=False, allow_blank=True, validators=NUL_FREE)
    format = serializers.ChoiceField(choices=sorted(FORMAT_CHOICES), required=False)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)


class SearchHitSerializer(serializers.Serializer):
    image_id = serializers.UUIDField(source="image.id")
    filename = serializers.CharField(source="image.original_filename")
    score = serializers.FloatField(help_text="Cosine similarity of the photo to the text.")


class SearchOutputSerializer(serializers.Serializer):
    text = serializers.CharField()
    model_version = serializers.CharField(source="model_version.name")
    ready = serializers.BooleanField()
    encoding = serializers.BooleanField(help_text="The query is being encoded: ask again.")
    considered = serializers.IntegerField()
    pending = serializers.IntegerField(
        help_text="Photos not embedded yet; a worker is embedding them. They are not ranked."
    )
    elapsed_ms = serializers.FloatField()
    results = SearchHitSerializer(many=True, source="hits")


class SearchApi(APIView):
    @extend_schema(
        operation_id="images_search",
        parameters=[SearchQuerySerializer, OpenApiParameter("sort", str, exclude=True)],
        responses=SearchOutputSerializer,
        description="Rank your photos by similarity to the text (CLIP). While the text or "
        "some photos are still being embedded by a worker, ``ready`` is false: ask again.",
    )
    def get(self, request: Request) -> Response:
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = image_search(
            user=request.user,
            text=query.validated_data["text"],
            filters=ImageFilters.from_params(request.query_params, strict=True),
            limit=query.validated_data["limit"],
        )
        return Response(SearchOutputSerializer(result).data)
