"""/api/v1/ images: list, upload, retrieve, delete, bulk delete, direct-to-S3 upload."""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.validators import ProhibitNullCharactersValidator
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import APISettings, api_settings
from rest_framework.views import APIView

from classifier_site.core.errors import error_body
from images import selectors, services
from images.files import image_file_response
from images.models import Image
from images.selectors import SORTS, ImageFilters
from images.uploads import limit_upload_size

# --- Serializers ------------------------------------------------------------------------------


class ImageSerializer(serializers.ModelSerializer):
    key = serializers.CharField(source="file.name", help_text="Storage key of the original.")
    filename = serializers.CharField(source="original_filename")
    size = serializers.IntegerField(source="size_bytes", help_text="Stored size in bytes.")
    last_modified = serializers.DateTimeField(source="created_at")
    file_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = [
            "id",
            "key",
            "filename",
            "size",
            "last_modified",
            "format",
            "mime_type",
            "width",
            "height",
            "sha256",
            "created_at",
            "file_url",
            "thumbnail_url",
        ]
        read_only_fields = fields

    def _url(self, name: str, image: Image) -> str:
        path = reverse(name, args=[image.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_file_url(self, image: Image) -> str:
        return self._url("api-image-file", image)

    def get_thumbnail_url(self, image: Image) -> str:
        return self._url("api-image-thumbnail", image)


class ImagePageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = ImageSerializer(many=True)


class UploadRequestSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        help_text="One or more image files (repeat the `files` field).",
    )


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class UploadOutcomeSerializer(serializers.Serializer):
    filename = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["stored", "duplicate", "rejected"])
    image = ImageSerializer(allow_null=True)
    error = ErrorDetailSerializer(allow_null=True)


class UploadResponseSerializer(serializers.Serializer):
    results = UploadOutcomeSerializer(many=True)


class BulkDeleteRequestSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=10000)


class BulkDeleteResponseSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()


class FilenameField(serializers.CharField):
    """Any client-side name: intake sanitizes it (controls, NUL, bidi marks, length)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, allow_blank=True, trim_whitespace=False, **kwargs)
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]


class UploadUrlRequestSerializer(serializers.Serializer):
    filename = FilenameField(help_text="Ignored for the key; pass it to finalize.")
    content_type = serializers.CharField(
        required=False, allow_blank=True, help_text="Ignored: the type is read from the bytes."
    )


class UploadUrlResponseSerializer(serializers.Serializer):
    upload_url = serializers.URLField(
        help_text="POST a multipart form here: `fields`, then `file`."
    )
    fields = serializers.DictField(child=serializers.CharField())  # type: ignore[assignment]
    key = serializers.CharField(help_text="Pass to /api/v1/images/finalize.")
    expires_in = serializers.IntegerField(help_text="Seconds the form is valid for.")
    max_bytes = serializers.IntegerField()


class FinalizeRequestSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=300)
    filename = FilenameField(max_length=4000)


class FinalizeResponseSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["stored", "duplicate"])
    image = ImageSerializer()


def _outcome_data(outcome: services.IngestOutcome, request: Request) -> dict:
    return {
        "filename": outcome.filename,
        "outcome": outcome.outcome,
        "image": ImageSerializer(outcome.image, context={"request": request}).data
        if outcome.image
        else None,
        "error": {"code": outcome.error.code, "message": outcome.error.message}
        if outcome.error
        else None,
    }


# --- Views ------------------------------------------------------------------------------------

_FILTER_PARAMS = [
    OpenApiParameter("q", str, description="Filename contains (case-insensitive)."),
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="Uploaded on or after."),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="Uploaded on or before."),
    OpenApiParameter("format", str, enum=sorted(selectors.FORMAT_CHOICES)),
    OpenApiParameter("sort", str, enum=list(SORTS), default="newest"),
    OpenApiParameter("after", str, description="Cursor from `next`."),
    OpenApiParameter("before", str, description="Cursor from `previous`."),
    OpenApiParameter("limit", int, description="Page size, 1-200 (default 50)."),
]


class _FormatIsAFilter(DefaultContentNegotiation):
    """Here ``?format=png`` filters by image format; DRF would read it as a renderer name."""

    settings = APISettings(  # type: ignore[assignment]
        {**api_settings.user_settings, "URL_FORMAT_OVERRIDE": None}  # type: ignore[arg-type]
    )


class ImageListCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser]
    content_negotiation_class = _FormatIsAFilter

    def initialize_request(self, request, *args, **kwargs):
        limit_upload_size(request)  # before any authentication or parser reads the body
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        operation_id="images_list", parameters=_FILTER_PARAMS, responses=ImagePageSerializer
    )
    def get(self, request: Request) -> Response:
        filters = ImageFilters.from_params(request.query_params, strict=True)
        try:
            limit = min(max(int(request.query_params.get("limit", 50)), 1), 200)
        except ValueError:
            limit = 50
        images = selectors.image_list(user=request.user, filters=filters)
        page = selectors.image_page(
            images,
            sort=filters.sort,
            after=request.query_params.get("after"),
            before=request.query_params.get("before"),
            size=limit,
        )
        params = {**filters.to_params(), "limit": str(limit)}

        def link(**cursor: str) -> str:
            return request.build_absolute_uri(
                f"{reverse('api-images')}?{urlencode({**params, **cursor})}"
            )

        return Response(
            {
                "count": images.count(),
                "next": link(after=page.next_cursor) if page.next_cursor else None,
                "previous": link(before=page.prev_cursor) if page.prev_cursor else None,
                "results": ImageSerializer(
                    page.items, many=True, context={"request": request}
                ).data,
            }
        )

    @extend_schema(
        operation_id="images_upload",
        request={"multipart/form-data": UploadRequestSerializer},
        responses={201: UploadResponseSerializer, 200: UploadResponseSerializer},
        description=(
            "Upload one or more images (repeat the `files` field). Each file gets an outcome: "
            "stored, duplicate (the same bytes were uploaded before) or rejected with a reason. "
            "201 when at least one was stored; when every file was rejected, the rejection's "
            "status (413 too large, 415 not an accepted type, 400 otherwise) and an `error`."
        ),
    )
    def post(self, request: Request) -> Response:
        files = request.FILES.getlist("files")
        if not files:
            return Response(
                error_body(
                    "validation_error",
                    "files: send at least one file in `files`.",
                    {"files": ["send at least one file in `files`."]},
                ),
                status=status.HTTP_400_BAD_REQUEST,
            )
        outcomes = services.images_ingest_many(
            owner=request.user, files=[(f, f.name) for f in files]
        )
        results = [_outcome_data(o, request) for o in outcomes]
        failed = services.rejected_status(outcomes)
        if failed:
            first = outcomes[0].error
            assert first is not None
            message = (
                first.message
                if len(outcomes) == 1
                else (
                    f"None of the {len(outcomes)} files was stored; see `results` for each reason."
                )
            )
            body = error_body(first.code if len(outcomes) == 1 else "all_rejected", message)
            return Response({**body, "results": results}, status=failed)
        stored = any(o.outcome == "stored" for o in outcomes)
        return Response(
            {"results": results}, status=status.HTTP_201_CREATED if stored else status.HTTP_200_OK
        )


class ImageDetailApi(APIView):
    @extend_schema(operation_id="images_retrieve", responses=ImageSerializer)
    def get(self, request: Request, image_id) -> Response:
        image = selectors.image_get(user=request.user, image_id=image_id)
        return Response(ImageSerializer(image, context={"request": request}).data)

    @extend_schema(operation_id="images_delete", responses={204: None})
    def delete(self, request: Request, image_id) -> Response:
        image = selectors.image_get(user=request.user, image_id=image_id)
        services.image_delete(user=request.user, image=image)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageFileApi(APIView):
    @extend_schema(
        operation_id="images_file",
        responses={(200, "image/*"): OpenApiTypes.BINARY},
        description="The stored image: streamed, or a 302 to a short-lived S3 URL.",
    )
    def get(self, request: Request, image_id) -> HttpResponseBase:
        image = selectors.image_get(user=request.user, image_id=image_id)
        return image_file_response(image, download=request.query_params.get("download") == "1")


class ImageThumbnailApi(APIView):
    @extend_schema(
        operation_id="images_thumbnail", responses={(200, "image/webp"): OpenApiTypes.BINARY}
    )
    def get(self, request: Request, image_id) -> HttpResponseBase:
        image = selectors.image_get(user=request.user, image_id=image_id)
        return image_file_response(image, thumbnail=True)


class ImageBulkDeleteApi(APIView):
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        operation_id="images_bulk_delete",
        request=BulkDeleteRequestSerializer,
        responses=BulkDeleteResponseSerializer,
        description="Delete several images. All or nothing: an id that is not one of your "
        "images gives 404 and deletes none.",
    )
    def post(self, request: Request) -> Response:
        body = BulkDeleteRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deleted = services.images_delete(user=request.user, ids=body.validated_data["ids"])
        return Response({"deleted": deleted})


class DirectUploadCreateApi(APIView):
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        operation_id="images_upload_url",
        request=UploadUrlRequestSerializer,
        responses=UploadUrlResponseSerializer,
        description=(
            "A presigned S3 POST for one new object under your prefix, valid for a few "
            "minutes and limited in size. POST `fields` plus `file` to `upload_url`, then "
            "call /api/v1/images/finalize with `key`. Needs S3 storage (400 otherwise)."
        ),
    )
    def post(self, request: Request) -> Response:
        UploadUrlRequestSerializer(data=request.data).is_valid(raise_exception=True)
        upload = services.direct_upload_create(user=request.user)
        return Response(
            {
                "upload_url": upload.url,
                "fields": upload.fields,
                "key": upload.key,
                "expires_in": upload.expires_in,
                "max_bytes": upload.max_bytes,
            }
        )


class DirectUploadFinalizeApi(APIView):
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        operation_id="images_finalize",
        request=FinalizeRequestSerializer,
        responses={201: FinalizeResponseSerializer, 200: FinalizeResponseSerializer},
        description="Check and register an object uploaded with /api/v1/upload-url. "
        "The uploaded object is removed afterwards, also when it is rejected.",
    )
    def post(self, request: Request) -> Response:
        body = FinalizeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.direct_upload_finalize(
            user=request.user,
            key=body.validated_data["key"],
            filename=body.validated_data.get("filename", ""),
        )
        return Response(
            {
                "outcome": "duplicate" if result.duplicate else "stored",
                "image": ImageSerializer(result.image, context={"request": request}).data,
            },
            status=status.HTTP_200_OK if result.duplicate else status.HTTP_201_CREATED,
        )
