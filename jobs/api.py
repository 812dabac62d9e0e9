"""Jobs API: submit, status, result, list, cancel, retry, export, delete (the shapes the
system we replace documented)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from classifier_site.core.errors import DomainError
from classifier_site.core.fields import StrictCharField, StrictFloatField, StrictIntegerField
from classifier_site.core.pagination import list_response, offset_links, window_from_params
from classifier_site.core.params import MAX_OFFSET, text_clean
from images import services as image_services
from inference.labels import MAX_LABEL_LENGTH, MAX_LABELS
from jobs import exports, selectors, services
from jobs.models import Job, JobStatus, JobType

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Repeat a request with the same key to get the same job, never a second one.",
)


def _image_ref() -> StrictCharField:
    return StrictCharField(max_length=300)


class SubmitInputSerializer(serializers.Serializer):
    """The seed's body (``s3_keys``); ``image_ids`` is ours. Both take ids or keys."""

    job_type = serializers.ChoiceField(choices=JobType.choices)
    s3_keys = serializers.ListField(
        child=_image_ref(),
        required=False,
        min_length=1,
        max_length=settings.JOB_MAX_IMAGES,
        help_text="Keys from /upload-url (or image keys or ids). This or `image_ids`.",
    )
    image_ids = serializers.ListField(
        child=_image_ref(),
        required=False,
        min_length=1,
        max_length=settings.JOB_MAX_IMAGES,
        help_text="Image ids (or keys). This or `s3_keys`.",
    )
    top_k = StrictIntegerField(default=5, min_value=1, max_value=10)
    confidence_threshold = StrictFloatField(default=0.0, min_value=0.0, max_value=1.0)
    custom_labels = serializers.ListField(
        child=StrictCharField(max_length=MAX_LABEL_LENGTH),
        required=False,
        default=list,
        max_length=MAX_LABELS,
        help_text="Required for custom_classification unless `category_id` is given.",
    )
    category_id = StrictIntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=2**31 - 1
    )
    model_version = StrictIntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=2**31 - 1
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("s3_keys") and not attrs.get("image_ids"):
            raise serializers.ValidationError(
                {"s3_keys": ["Name the images: `s3_keys` (or `image_ids`)."]}
            )
        return attrs


class LabelWarningSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=["near_duplicate", "empty_label", "not_imagenet"])
    message = serializers.CharField()
    labels = serializers.ListField(child=serializers.CharField())


class SubmitOutputSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    message = serializers.CharField()
    warnings = LabelWarningSerializer(
        many=True,
        help_text="Label-set checks (near-duplicate, empty or non-ImageNet labels). The job "
        "was created regardless; fix the labels and submit again if they were a mistake.",
    )


class ProgressSerializer(serializers.Serializer):
    processed = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField()
    classified = serializers.IntegerField()
    unknown = serializers.IntegerField()
    failed = serializers.IntegerField()
    images_per_second = serializers.FloatField(allow_null=True)
    eta_seconds = serializers.IntegerField(allow_null=True)


class StatusOutputSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    job_type = serializers.ChoiceField(choices=JobType.choices)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    progress = ProgressSerializer()


class PredictionScoreSerializer(serializers.Serializer):
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    score = serializers.FloatField()


class ResultImageSerializer(serializers.Serializer):
    image_id = serializers.UUIDField(allow_null=True)
    filename = serializers.CharField()
    s3_key = serializers.CharField(help_text="The key the image was named by (the seed's).")
    key = serializers.CharField(help_text="The same as `s3_key`.")
    status = serializers.CharField()
    top_prediction = serializers.CharField(allow_null=True)
    top_confidence = serializers.FloatField(allow_null=True)
    all_predictions = PredictionScoreSerializer(many=True)
    processing_time_ms = serializers.FloatField(allow_null=True)
    error = serializers.CharField(allow_null=True)


class ResultBodySerializer(serializers.Serializer):
    total_images = serializers.IntegerField()
    classified = serializers.IntegerField()
    unknown = serializers.IntegerField()
    failed = serializers.IntegerField()
    processing_time_ms = serializers.FloatField()
    images = ResultImageSerializer(many=True)


class ResultOutputSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.CharField()
    job_type = serializers.CharField()
    model_version = serializers.CharField()
    labels = serializers.ListField(child=serializers.CharField())
    top_k = serializers.IntegerField()
    confidence_threshold = serializers.FloatField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    result = ResultBodySerializer()


class JobListItemSerializer(serializers.Serializer):
    job_id = serializers.UUIDField(source="id")
    status = serializers.CharField()
    job_type = serializers.CharField()
    total_images = serializers.IntegerField(source="total")
    processed = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


JOB_LIST_DEFAULT_LIMIT = 100
JOB_LIST_MAX_LIMIT = 1000


class JobListQuerySerializer(serializers.Serializer):
    """Documents the query for the schema; core.pagination and JobFilters parse it."""

    limit = serializers.IntegerField(
        min_value=1, max_value=JOB_LIST_MAX_LIMIT, default=JOB_LIST_DEFAULT_LIMIT
    )
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)
    # Documents the filters for the schema; JobFilters.from_params parses them.
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False)
    job_type = serializers.ChoiceField(choices=JobType.choices, required=False)
    created_from = serializers.DateField(required=False)
    created_to = serializers.DateField(required=False)
    sort = serializers.ChoiceField(choices=list(selectors.JOB_SORTS), default="-created")


class JobListOutputSerializer(serializers.Serializer):
    jobs = JobListItemSerializer(many=True)
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


def status_data(job: Job) -> dict:
    progress = selectors.job_progress(job=job)
    return {
        "job_id": job.id,
        "status": job.status,
        "job_type": job.job_type,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "completed_at": job.completed_at,
        "error": job.error_message or None,
        "progress": {
            "processed": job.processed,
            "total": job.total,
            "percent": progress.percent,
            "classified": job.classified,
            "unknown": job.unknown,
            "failed": job.failed,
            "images_per_second": (
                round(progress.images_per_second, 3) if progress.images_per_second else None
            ),
            "eta_seconds": progress.eta_seconds,
        },
    }


class SubmitApi(APIView):
    @extend_schema(
        operation_id="jobs_submit",
        request=SubmitInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: SubmitOutputSerializer, 200: SubmitOutputSerializer},
        description="Submit a classification job for images you own. With an "
        "Idempotency-Key, a repeated request returns the first job (200).",
    )
    def post(self, request: Request) -> Response:
        data = SubmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        idempotency_key = text_clean(
            request.headers.get("Idempotency-Key", ""), name="Idempotency-Key", max_length=255
        )
        field_name = "s3_keys" if v.get("s3_keys") else "image_ids"
        images = image_services.images_for_references(
            user=request.user,
            refs=[*v.get("s3_keys", []), *v.get("image_ids", [])],
            field_name=field_name,
        )
        result = services.job_submit(
            owner=request.user,
            job_type=v["job_type"],
            image_ids=[image.pk for image in images],
            top_k=v["top_k"],
            confidence_threshold=v["confidence_threshold"],
            custom_labels=v["custom_labels"],
            category_id=v["category_id"],
            model_version_id=v["model_version"],
            idempotency_key=idempotency_key,
        )
        # The messages are sent after commit by a background sender (a submit never waits
        # on the queue), so a new job is still "pending" in the database for a moment. It is
        # accepted for processing all the same (the sweeper re-sends whatever a send loses):
        # the documented answer "queued" says exactly that. A repeated request reports the
        # job's real status.
        result.job.refresh_from_db(fields=["status"])
        shown = result.job.status
        if result.created and shown == JobStatus.PENDING:
            shown = JobStatus.QUEUED
        body = {
            "job_id": result.job.id,
            "status": shown,
            "message": "Job submitted successfully" if result.created else "Job already submitted",
            "warnings": [w.as_dict() for w in result.warnings],
        }
        return Response(body, status=status.HTTP_201_CREATED if result.created else 200)


class StatusApi(APIView):
    @extend_schema(operation_id="jobs_status", responses=StatusOutputSerializer)
    def get(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(user=request.user, job_id=job_id)
        return Response(StatusOutputSerializer(status_data(job)).data)


class ResultApi(APIView):
    @extend_schema(operation_id="jobs_result", responses=ResultOutputSerializer)
    def get(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(user=request.user, job_id=job_id)
        items = list(selectors.job_items(job=job))
        return Response(exports.result_data(job, items))


class JobListApi(APIView):
    @extend_schema(
        operation_id="jobs_list",
        parameters=[JobListQuerySerializer],
        responses=JobListOutputSerializer,
    )
    def get(self, request: Request) -> Response:
        window = window_from_params(
            request.query_params,
            default_limit=JOB_LIST_DEFAULT_LIMIT,
            max_limit=JOB_LIST_MAX_LIMIT,
        )
        filters = selectors.JobFilters.from_params(request.query_params, strict=True)
        jobs = selectors.job_list(user=request.user, filters=filters)
        total = jobs.count()
        return list_response(
            request,
            JobListItemSerializer(window.slice(jobs), many=True).data,
            total=total,
            links=offset_links(window, total),
            envelope="jobs",
            extra={"limit": window.limit, "offset": window.offset},
        )


class JobDetailApi(APIView):
    @extend_schema(operation_id="jobs_destroy", responses={204: None})
    def delete(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(user=request.user, job_id=job_id)
        services.job_delete(job=job)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CancelApi(APIView):
    @extend_schema(operation_id="jobs_cancel", request=None, responses=StatusOutputSerializer)
    def post(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(user=request.user, job_id=job_id)
        job = services.job_cancel(job=job)
        return Response(StatusOutputSerializer(status_data(job)).data)


class RetryApi(APIView):
    @extend_schema(
        operation_id="jobs_retry",
        request=None,
        responses=StatusOutputSerializer,
        description="Run the failed images of a finished job again.",
    )
    def post(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(user=request.user, job_id=job_id)
        job = services.job_retry_failed(job=job)
        return Response(StatusOutputSerializer(status_data(job)).data)


class ExportApi(APIView):
    @extend_schema(
        operation_id="jobs_export",
        parameters=[
            OpenApiParameter("file_format", str, OpenApiParameter.PATH, enum=["csv", "json"])
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/json"): ResultOutputSerializer,
        },
    )
    def get(self, request: Request, job_id: str, file_format: str) -> HttpResponse:
        job = selectors.job_get(user=request.user, job_id=job_id)
        return export_response(job, file_format)


EXPORT_FORMATS = ("csv", "json")


def export_response(job: Job, file_format: str) -> HttpResponse:
    # Checked before it reaches a header: the format is part of the download's name.
    if file_format not in EXPORT_FORMATS:
        raise DomainError(
            f"Unknown export format; use one of: {', '.join(EXPORT_FORMATS)}.",
            field="file_format",
        )
    items = list(selectors.job_items(job=job))
    if file_format == "csv":
        body, content_type = exports.as_csv(job, items), "text/csv; charset=utf-8"
    else:
        body, content_type = exports.as_json(job, items), "application/json"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="job-{job.id}.{file_format}"'
    return response
