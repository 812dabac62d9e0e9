"""API for labels people own (accepting predictions is jobs' part: jobs/label_api.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from images import labels


class UserLabelSerializer(serializers.Serializer):
    image_id = serializers.UUIDField()
    filename = serializers.CharField(source="image.original_filename")
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    source = serializers.CharField()  # type: ignore[assignment]  # named like Field.source
    labelled_by = serializers.CharField(source="labelled_by.username", allow_null=True)
    labelled_at = serializers.DateTimeField()


EMPTY_SELECTION: dict[str, Any] = {"empty": "Choose at least one image."}


class LabelSetInputSerializer(serializers.Serializer):
    image_ids = serializers.ListField(
        child=serializers.CharField(), allow_empty=False, error_messages=EMPTY_SELECTION
    )
    label = serializers.CharField(max_length=100)  # type: ignore[assignment]  # as above


class LabelClearInputSerializer(serializers.Serializer):
    image_ids = serializers.ListField(
        child=serializers.CharField(), allow_empty=False, error_messages=EMPTY_SELECTION
    )


class LabelCountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class UserLabelListApi(APIView):
    @extend_schema(operation_id="labels_list", responses=UserLabelSerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = labels.user_label_list(user=request.user)
        wanted = request.query_params.get("label", "").strip()
        if wanted:
            rows = rows.filter(label__iexact=wanted)
        return Response(UserLabelSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="labels_set",
        request=LabelSetInputSerializer,
        responses=LabelCountSerializer,
        description="Give these images your own label (overrides any earlier one).",
    )
    def post(self, request: Request) -> Response:
        data = LabelSetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        n = labels.user_labels_set_one(
            user=request.user,
            image_ids=data.validated_data["image_ids"],
            label=data.validated_data["label"],
        )
        return Response({"count": n})


class UserLabelClearApi(APIView):
    @extend_schema(
        operation_id="labels_clear",
        request=LabelClearInputSerializer,
        responses=LabelCountSerializer,
    )
    def post(self, request: Request) -> Response:
        data = LabelClearInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        n = labels.user_labels_clear(user=request.user, image_ids=data.validated_data["image_ids"])
        return Response({"count": n})


class UserLabelCsvApi(APIView):
    @extend_schema(
        operation_id="labels_export",
        responses={
            (200, "text/csv"): inline_serializer("LabelsCsv", {"csv": serializers.CharField()})
        },
    )
    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(
            labels.user_labels_csv(user=request.user), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="labels.csv"'
        return response
