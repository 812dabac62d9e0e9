"""Categories API: /api/v1/categories and /api/v1/categories/<id>."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from categories import selectors, services
from categories.models import Category
from classifier_site.core.fields import StrictCharField
from classifier_site.core.pagination import list_response, offset_links, window_from_params
from classifier_site.core.params import MAX_OFFSET
from inference.labels import MAX_LABEL_LENGTH, MAX_LABELS

CATEGORY_LIST_DEFAULT_LIMIT = 100
CATEGORY_LIST_MAX_LIMIT = 1000


class CategoryOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "description", "labels", "created_at", "updated_at"]


class CategoryListQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1, max_value=CATEGORY_LIST_MAX_LIMIT, default=CATEGORY_LIST_DEFAULT_LIMIT
    )
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)


def _labels_field(**kwargs) -> serializers.ListField:
    # Duplicates (ignoring case) are refused by labels_clean; the schema cannot say so.
    return serializers.ListField(
        child=StrictCharField(max_length=MAX_LABEL_LENGTH),
        min_length=1,
        max_length=MAX_LABELS,
        **kwargs,
    )


class CategoryInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100)
    description = StrictCharField(required=False, allow_blank=True, default="", max_length=2000)
    labels = _labels_field()


class CategoryPatchSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100, required=False)
    description = StrictCharField(required=False, allow_blank=True, max_length=2000)
    labels = _labels_field(required=False)


class CategoryListCreateApi(APIView):
    @extend_schema(
        operation_id="categories_list",
        parameters=[CategoryListQuerySerializer],
        responses=CategoryOutputSerializer(many=True),
        description="Your categories by name: a JSON array; further pages in the `Link` "
        "header, the count in `X-Total-Count`.",
    )
    def get(self, request: Request) -> Response:
        window = window_from_params(
            request.query_params,
            default_limit=CATEGORY_LIST_DEFAULT_LIMIT,
            max_limit=CATEGORY_LIST_MAX_LIMIT,
        )
        categories = selectors.category_list(user=request.user)
        total = categories.count()
        return list_response(
            request,
            CategoryOutputSerializer(window.slice(categories), many=True).data,
            total=total,
            links=offset_links(window, total),
        )

    @extend_schema(
        operation_id="categories_create",
        request=CategoryInputSerializer,
        responses={201: CategoryOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = CategoryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        category = services.category_create(owner=request.user, **data.validated_data)
        return Response(CategoryOutputSerializer(category).data, status=status.HTTP_201_CREATED)


class CategoryDetailApi(APIView):
    @extend_schema(operation_id="categories_retrieve", responses=CategoryOutputSerializer)
    def get(self, request: Request, category_id: int) -> Response:
        category = selectors.category_get(user=request.user, category_id=category_id)
        return Response(CategoryOutputSerializer(category).data)

    @extend_schema(
        operation_id="categories_update",
        request=CategoryInputSerializer,
        responses=CategoryOutputSerializer,
    )
    def put(self, request: Request, category_id: int) -> Response:
        return self._update(request, category_id, partial=False)

    @extend_schema(
        operation_id="categories_partial_update",
        request=CategoryPatchSerializer,
        responses=CategoryOutputSerializer,
    )
    def patch(self, request: Request, category_id: int) -> Response:
        return self._update(request, category_id, partial=True)

    def _update(self, request: Request, category_id: int, *, partial: bool) -> Response:
        category = selectors.category_get(user=request.user, category_id=category_id)
        serializer_class = CategoryPatchSerializer if partial else CategoryInputSerializer
        data = serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        services.category_update(category=category, **data.validated_data)
        return Response(CategoryOutputSerializer(category).data)

    @extend_schema(operation_id="categories_destroy", responses={204: None})
    def delete(self, request: Request, category_id: int) -> Response:
        category = selectors.category_get(user=request.user, category_id=category_id)
        services.category_delete(category=category)
        return Response(status=status.HTTP_204_NO_CONTENT)
