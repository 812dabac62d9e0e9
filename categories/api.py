"""Categories API: /api/v1/categories and /api/v1/categories/<id>."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from categories import selectors, services
from categories.models import Category


class CategoryOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "description", "labels", "created_at", "updated_at"]


class CategoryInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    labels = serializers.ListField(child=serializers.CharField(allow_blank=True), min_length=1)


class CategoryPatchSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    labels = serializers.ListField(
        child=serializers.CharField(allow_blank=True), min_length=1, required=False
    )


class CategoryListCreateApi(APIView):
    @extend_schema(operation_id="categories_list", responses=CategoryOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(
            selectors.category_list(user=request.user), request, view=self
        )
        return paginator.get_paginated_response(CategoryOutputSerializer(page, many=True).data)

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
