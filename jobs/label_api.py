"""API: accept predictions as own labels; export a labelled dataset as a streamed zip."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import labels, selectors
from jobs.label_views import dataset_response


class AcceptInputSerializer(serializers.Serializer):
    image_ids = serializers.ListField(child=serializers.CharField(), required=False)
    job_id = serializers.CharField(required=False)

    def validate(self, attrs):
        if bool(attrs.get("image_ids")) == bool(attrs.get("job_id")):
            raise serializers.ValidationError("Give either image_ids or job_id.")
        return attrs


class AcceptOutputSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    skipped = serializers.IntegerField()


class DatasetInputSerializer(serializers.Serializer):
    image_ids = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        allow_null=True,
        default=None,
        help_text="Omit for all your images.",
    )


class LabelAcceptApi(APIView):
    @extend_schema(
        operation_id="labels_accept",
        request=AcceptInputSerializer,
        responses=AcceptOutputSerializer,
        description="Make predictions your own labels: each image's latest prediction "
        "(image_ids), or one job's results (job_id). Unknown (below threshold) are skipped.",
    )
    def post(self, request: Request) -> Response:
        data = AcceptInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v.get("job_id"):
            job = selectors.job_get(user=request.user, job_id=v["job_id"])
            result = labels.user_labels_accept_job(user=request.user, job=job)
        else:
            result = labels.user_labels_accept(user=request.user, image_ids=v["image_ids"])
        return Response({"accepted": result.accepted, "skipped": result.skipped})


class DatasetApi(APIView):
    @extend_schema(
        operation_id="dataset_export",
        request=DatasetInputSerializer,
        responses={(200, "application/zip"): OpenApiTypes.BINARY},
        description="A zip streamed as it is made: one folder per label (your own label, "
        "else the latest prediction) and labels.csv (file,label).",
    )
    def post(self, request: Request) -> StreamingHttpResponse:
        data = DatasetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entries = labels.dataset_entries(
            user=request.user, image_ids=data.validated_data["image_ids"]
        )
        return dataset_response(entries)
