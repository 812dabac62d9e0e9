"""API for preview, compare and score histograms (pages in jobs/insight_views.py)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from images import services as image_services
from jobs import compare, preview, selectors, thresholds
from jobs.api import SubmitInputSerializer
from jobs.services import JobRequest


class PreviewChangeSerializer(serializers.Serializer):
    image_id = serializers.UUIDField()
    filename = serializers.CharField()
    before = serializers.CharField()
    after = serializers.CharField()
    score = serializers.FloatField()


class PreviewOutputSerializer(serializers.Serializer):
    model_version = serializers.CharField()
    ready = serializers.BooleanField(
        help_text="False while label texts are being encoded by a worker: ask again shortly."
    )
    labels_pending = serializers.ListField(child=serializers.CharField())
    total = serializers.IntegerField()
    embedded = serializers.IntegerField(help_text="Images scored from stored vectors.")
    missing = serializers.IntegerField(help_text="Images not embedded by this model yet.")
    changed = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    first_result = serializers.IntegerField(help_text="Embedded images never classified.")
    after_counts = serializers.DictField(child=serializers.IntegerField())
    changes = PreviewChangeSerializer(many=True)
    elapsed_ms = serializers.FloatField()


def preview_data(result: preview.Preview) -> dict:
    return {
        "model_version": result.model_version.name,
        "ready": result.ready,
        "labels_pending": result.labels_pending,
        "total": result.total,
        "embedded": result.embedded,
        "missing": result.missing,
        "changed": result.changed,
        "unchanged": result.unchanged,
        "first_result": result.first_result,
        "after_counts": result.after_counts,
        "changes": [vars(c) for c in result.changes],
        "elapsed_ms": round(result.elapsed_ms, 3),
    }


class PreviewApi(APIView):
    @extend_schema(
        operation_id="jobs_preview",
        request=SubmitInputSerializer,
        responses=PreviewOutputSerializer,
        description="What a submit with these parameters would change, computed from stored "
        "embeddings without running a job: how many images would get another label than "
        "their latest result, and which. Nothing is created.",
    )
    def post(self, request: Request) -> Response:
        data = SubmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        # The images are named as in a submit: seed keys or ids, in either field.
        images = image_services.images_for_references(
            user=request.user,
            refs=[*v.get("s3_keys", []), *v.get("image_ids", [])],
            field_name="s3_keys" if v.get("s3_keys") else "image_ids",
        )
        result = preview.job_preview(
            owner=request.user,
            request=JobRequest(
                job_type=v["job_type"],
                image_ids=[image.pk for image in images],
                top_k=v["top_k"],
                confidence_threshold=v["confidence_threshold"],
                custom_labels=v["custom_labels"],
                category_id=v["category_id"],
                model_version_id=v["model_version"],
            ),
        )
        return Response(PreviewOutputSerializer(preview_data(result)).data)


class CompareSideSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    model = serializers.DictField()
    settings = serializers.DictField()


class ChangedImageSerializer(serializers.Serializer):
    image_id = serializers.UUIDField(allow_null=True)
    filename = serializers.CharField()
    label_a = serializers.CharField()
    label_b = serializers.CharField()
    score_a = serializers.FloatField(allow_null=True)
    score_b = serializers.FloatField(allow_null=True)


class CompareOutputSerializer(serializers.Serializer):
    a = CompareSideSerializer()
    b = CompareSideSerializer()
    overlap = serializers.IntegerField()
    agree = serializers.IntegerField()
    agreement = serializers.FloatField(allow_null=True)
    only_a = serializers.IntegerField()
    only_b = serializers.IntegerField()
    labels_a = serializers.ListField(child=serializers.CharField())
    labels_b = serializers.ListField(child=serializers.CharField())
    confusion = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="confusion[i][j]: images labelled labels_a[i] by A and labels_b[j] by B.",
    )
    changed_total = serializers.IntegerField()
    changed = ChangedImageSerializer(many=True)


class CompareApi(APIView):
    @extend_schema(
        operation_id="jobs_compare",
        parameters=[
            OpenApiParameter("a", str, required=True, description="First job id."),
            OpenApiParameter("b", str, required=True, description="Second job id."),
        ],
        responses=CompareOutputSerializer,
    )
    def get(self, request: Request) -> Response:
        c = compare.jobs_compare(
            user=request.user,
            job_a_id=request.query_params.get("a", ""),
            job_b_id=request.query_params.get("b", ""),
        )
        body = {
            "a": {"job_id": c.a.job.id, "model": c.a.model, "settings": c.a.settings},
            "b": {"job_id": c.b.job.id, "model": c.b.model, "settings": c.b.settings},
            "overlap": c.overlap,
            "agree": c.agree,
            "agreement": c.agreement,
            "only_a": c.only_a,
            "only_b": c.only_b,
            "labels_a": c.labels_a,
            "labels_b": c.labels_b,
            "confusion": c.confusion,
            "changed_total": c.changed_total,
            "changed": [vars(x) for x in c.changed],
        }
        return Response(CompareOutputSerializer(body).data)


class BucketSerializer(serializers.Serializer):
    low = serializers.FloatField()
    high = serializers.FloatField()
    count = serializers.IntegerField()
    below_threshold = serializers.BooleanField()


class UnknownReasonSerializer(serializers.Serializer):
    image_id = serializers.UUIDField(allow_null=True)
    filename = serializers.CharField()
    best_label = serializers.CharField()
    best_score = serializers.FloatField()
    threshold = serializers.FloatField()
    text = serializers.CharField()


class HistogramOutputSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    threshold = serializers.FloatField()
    scored = serializers.IntegerField()
    buckets = BucketSerializer(many=True)
    unknown = UnknownReasonSerializer(many=True)


class HistogramApi(APIView):
    @extend_schema(operation_id="jobs_histogram", responses=HistogramOutputSerializer)
    def get(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(user=request.user, job_id=job_id)
        h = thresholds.job_histogram(job=job)
        body = {
            "job_id": job.id,
            "threshold": h.threshold,
            "scored": h.scored,
            "buckets": h.buckets,
            "unknown": h.unknown,
        }
        return Response(HistogramOutputSerializer(body).data)
