"""The single-image API: POST /api/v1/predict, GET /api/v1/predictions.

Kept apart from the inference engine: the web process stores the upload and queues a
one-image job on the high-priority queue; a worker classifies it.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from classifier_site.core.pagination import list_response, page_links, window_from_page
from classifier_site.core.params import MAX_OFFSET
from jobs import selectors as job_selectors
from jobs import services as job_services
from jobs.models import Job, JobImage


class PredictInputSerializer(serializers.Serializer):
    file = serializers.FileField()


class PredictOutputSerializer(serializers.Serializer):
    prediction_id = serializers.UUIDField()
    image_id = serializers.UUIDField(allow_null=True)
    status = serializers.CharField()
    predicted_class = serializers.CharField(allow_null=True)
    confidence_score = serializers.FloatField(allow_null=True)
    prediction_time_ms = serializers.IntegerField(allow_null=True)
    model_version = serializers.CharField()
    all_predictions = serializers.ListField(child=serializers.DictField())
    error = serializers.CharField(allow_null=True)
    status_url = serializers.CharField()


PREDICTIONS_DEFAULT_LIMIT = 20
PREDICTIONS_MAX_LIMIT = 100


class PredictionListQuerySerializer(serializers.Serializer):
    """Documents the query for the schema; core.pagination parses it."""

    page = serializers.IntegerField(
        min_value=1, max_value=MAX_OFFSET // PREDICTIONS_MAX_LIMIT, default=1
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=PREDICTIONS_MAX_LIMIT, default=PREDICTIONS_DEFAULT_LIMIT
    )
    user_id = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Accepted for compatibility and ignored: the token says whose list it is.",
    )


class PredictionItemSerializer(serializers.Serializer):
    prediction_id = serializers.UUIDField()
    image_id = serializers.UUIDField(allow_null=True)
    status = serializers.CharField()
    predicted_class = serializers.CharField(allow_null=True)
    confidence_score = serializers.FloatField(allow_null=True)
    created_at = serializers.DateTimeField()


def prediction_data(job: Job, item: JobImage | None, request: Request) -> dict:
    done = item is not None and item.status in ("classified", "unknown")
    return {
        "prediction_id": job.id,
        "image_id": item.image_id if item else None,
        "status": job.status,
        "predicted_class": item.top_label if item and done else None,
        "confidence_score": item.top_score if item and done else None,
        "prediction_time_ms": (
            round(item.processing_ms) if item and item.processing_ms is not None else None
        ),
        "model_version": job.model_version.name,
        "all_predictions": item.predictions if item and done else [],
        "error": (item.error if item and item.error else None) or job.error_message or None,
        "status_url": reverse("api-job-status", args=[job.id], request=request),
    }


class PredictApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="predict",
        request={"multipart/form-data": PredictInputSerializer},
        responses={200: PredictOutputSerializer, 202: PredictOutputSerializer},
        description="Classify one uploaded photo. Answers 200 with the prediction when it "
        "is ready within PREDICT_WAIT_SECONDS, else 202 with `status_url` to poll.",
    )
    def post(self, request: Request) -> Response:
        data = PredictInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        job = job_services.predict_submit(
            owner=request.user, fileobj=upload, filename=upload.name or "upload"
        )
        job = job_selectors.job_wait(
            user=request.user, job_id=job.id, timeout=settings.PREDICT_WAIT_SECONDS
        )
        item = job.items.first()
        body = PredictOutputSerializer(prediction_data(job, item, request)).data
        return Response(body, status=status.HTTP_200_OK if job.is_terminal else 202)


class PredictionListApi(APIView):
    @extend_schema(
        operation_id="predictions_list",
        parameters=[PredictionListQuerySerializer],
        responses=inline_serializer(
            "PredictionList",
            {
                "predictions": PredictionItemSerializer(many=True),
                "total": serializers.IntegerField(),
                "page": serializers.IntegerField(),
                "limit": serializers.IntegerField(),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        window = window_from_page(
            request.query_params,
            default_limit=PREDICTIONS_DEFAULT_LIMIT,
            max_limit=PREDICTIONS_MAX_LIMIT,
        )
        items = job_selectors.prediction_list(user=request.user)
        total = items.count()
        rows = [
            {
                "prediction_id": item.job_id,
                "image_id": item.image_id,
                "status": item.job.status,
                "predicted_class": item.top_label or None,
                "confidence_score": item.top_score,
                "created_at": item.job.created_at,
            }
            for item in window.slice(items)
        ]
        return list_response(
            request,
            PredictionItemSerializer(rows, many=True).data,
            total=total,
            links=page_links(window, total),
            envelope="predictions",
            extra={"page": window.offset // window.limit + 1, "limit": window.limit},
        )
