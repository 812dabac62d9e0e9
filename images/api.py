"""/api/v1/ images: list, upload, retrieve, delete, bulk delete, direct-to-S3 upload."""

from __future__ import annotations

from typing import IO, Any, cast

from django.core.validators import ProhibitNullCharactersValidator
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import APISettings, api_settings
from rest_framework.views import APIView

from classifier_site.core.errors import error_body
from classifier_site.core.fields import StrictCharField
from classifier_site.core.pagination import LIST_HEADERS_DOC, list_response
from classifier_site.core.params import int_param, text_param
from classifier_site.core.parsers import BoundedJSONParser
from classifier_site.core.schema import ErrorDetailSerializer
from images import selectors, services
from images.files import image_file_response
from images.models import Image
from images.selectors import SORTS, ImageFilters
from images.uploads import limit_upload_size

# --- Serializers ------------------------------------------------------------------------------


class ImageSerializer(serializers.ModelSerializer):
    """The seed's ``{key, size, last_modified}`` and our richer fields beside them."""

    key = serializers.SerializerMethodField(
        help_text="The key that names this image: the `s3_key` /upload-url gave, else the "
        "stored object's key. Accepted wherever an image id is."
    )
    storage_key = serializers.CharField(source="file.name", help_text="Stored object's key.")
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
            "storage_key",
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

    def get_key(self, image: Image) -> str:
        keys = self.context.get("client_keys")
        if keys is None:
            keys = selectors.client_keys(image_ids=[image.pk])
        return keys.get(image.pk) or image.file.name or ""

    def get_file_url(self, image: Image) -> str:
        return self._url("api-image-file", image)

    def get_thumbnail_url(self, image: Image) -> str:
        return self._url("api-image-thumbnail", image)


class UploadRequestSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        help_text="One or more image files (repeat the `files` field).",
    )


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
    filename = FilenameField(max_length=4000, help_text="Kept as the image's name.")
    content_type = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Accepted for compatibility; the type is read from the bytes.",
    )


class UploadUrlResponseSerializer(serializers.Serializer):
    upload_url = serializers.URLField(
        help_text="PUT the file's bytes here (any Content-Type) before `expires_in` seconds."
    )
    s3_key = serializers.CharField(
        help_text="Names the image from now on: in /submit `s3_keys`, DELETE /images/{key}, "
        "and as `key` in GET /images (which stores what was uploaded)."
    )
    key = serializers.CharField(help_text="The same as `s3_key`.")
    method = serializers.ChoiceField(choices=["PUT"])
    expires_in = serializers.IntegerField(help_text="Seconds the URL is valid for.")
    max_bytes = serializers.IntegerField()
    post_url = serializers.URLField(
        allow_null=True,
        help_text="S3 only: a POST form alternative that S3 itself limits to `max_bytes`.",
    )
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.CharField(), help_text="The POST form's fields (then `file`)."
    )


class FinalizeRequestSerializer(serializers.Serializer):
    key = StrictCharField(max_length=300, help_text="The `s3_key` from /upload-url.")
    filename = FilenameField(max_length=4000)


class FinalizeResponseSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["stored", "duplicate"])
    image = ImageSerializer()


class DirectUploadPutResponseSerializer(serializers.Serializer):
    s3_key = serializers.CharField()
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

IMAGE_LIST_DEFAULT_LIMIT = 100
IMAGE_LIST_MAX_LIMIT = 1000


class ImageListQuerySerializer(serializers.Serializer):
    """Documents the query for the schema; ImageFilters and core.params parse it."""

    q = serializers.CharField(
        required=False, allow_blank=True, max_length=1000, help_text="Filename contains."
    )
    label = serializers.CharField(  # type: ignore[assignment]  # the query's name
        required=False,
        allow_blank=True,
        max_length=1000,
        help_text="Top prediction of a finished job of yours (case-insensitive).",
    )
    date_from = serializers.DateField(required=False, help_text="Uploaded on or after.")
    date_to = serializers.DateField(required=False, help_text="Uploaded on or before.")
    format = serializers.ChoiceField(  # type: ignore[assignment]  # the query's name
        choices=sorted(selectors.FORMAT_CHOICES), required=False
    )
    sort = serializers.ChoiceField(choices=list(SORTS), default="newest")
    after = serializers.CharField(
        required=False, allow_blank=True, max_length=1000, help_text="Cursor (Link rel=next)."
    )
    before = serializers.CharField(
        required=False, allow_blank=True, max_length=1000, help_text="Cursor (Link rel=prev)."
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=IMAGE_LIST_MAX_LIMIT, default=IMAGE_LIST_DEFAULT_LIMIT
    )


LIST_HEADERS = [
    OpenApiParameter(name, str, OpenApiParameter.HEADER, response=[200], description=text)
    for name, text in LIST_HEADERS_DOC.items()
]


class _FormatIsAFilter(DefaultContentNegotiation):
    """Here ``?format=png`` filters by image format; DRF would read it as a renderer name."""

    settings = APISettings(  # type: ignore[assignment]
        {**api_settings.user_settings, "URL_FORMAT_OVERRIDE": None}  # type: ignore[arg-type]
    )


def images_data(images: list[Image], request: Request) -> Any:
    keys = selectors.client_keys(image_ids=[i.pk for i in images])
    context = {"request": request, "client_keys": keys}
    return ImageSerializer(images, many=True, context=context).data


class ImageListCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser]
    content_negotiation_class = _FormatIsAFilter

    def initialize_request(self, request, *args, **kwargs):
        limit_upload_size(request)  # before any authentication or parser reads the body
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        operation_id="images_list",
        parameters=[ImageListQuerySerializer, *LIST_HEADERS],
        responses=ImageSerializer(many=True),
        description="Your images, newest first: a JSON array of `{key, size, last_modified, "
        "...}`. Further pages are in the `Link` header (`rel=next`/`prev`/`first`). Files "
        "PUT to an /upload-url since the last call are checked and stored first.",
    )
    def get(self, request: Request) -> Response:
        filters = ImageFilters.from_params(request.query_params, strict=True)
        limit = int_param(
            request.query_params,
            "limit",
            default=IMAGE_LIST_DEFAULT_LIMIT,
            minimum=1,
            maximum=IMAGE_LIST_MAX_LIMIT,
        )
        after = text_param(request.query_params, "after", max_length=1000)
        before = text_param(request.query_params, "before", max_length=1000)
        services.staged_uploads_collect(user=request.user)
        images = selectors.image_list(user=request.user, filters=filters)
        page = selectors.image_page(
            images, sort=filters.sort, after=after or None, before=before or None, size=limit
        )
        return list_response(
            request,
            images_data(page.items, request),
            total=images.count(),
            links={
                "first": {"limit": str(limit)},
                "prev": {"before": page.prev_cursor, "limit": str(limit)}
                if page.prev_cursor
                else None,
                "next": {"after": page.next_cursor, "limit": str(limit)}
                if page.next_cursor
                else None,
            },
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


IMAGE_REF = OpenApiParameter(
    "ref",
    str,
    OpenApiParameter.PATH,
    description="The image's id (UUID) or key (the `s3_key` from /upload-url, or `key`).",
)


class ImageDetailApi(APIView):
    """``/images/{ref}``: by id or by key, as the seed's ``DELETE /images/{s3_key}``."""

    @extend_schema(
        operation_id="images_retrieve", parameters=[IMAGE_REF], responses=ImageSerializer
    )
    def get(self, request: Request, ref: str) -> Response:
        image = services.image_for_reference(user=request.user, ref=ref)
        return Response(ImageSerializer(image, context={"request": request}).data)

    @extend_schema(operation_id="images_delete", parameters=[IMAGE_REF], responses={204: None})
    def delete(self, request: Request, ref: str) -> Response:
        image = services.image_for_reference(user=request.user, ref=ref)
        services.image_delete(user=request.user, image=image)
        return Response(status=status.HTTP_204_NO_CONTENT)


DOWNLOAD_PARAM = OpenApiParameter(
    "download",
    str,
    enum=["0", "1"],
    description="1: answer as an attachment (Content-Disposition), to save the file.",
)


class ImageFileApi(APIView):
    @extend_schema(
        operation_id="images_file",
        parameters=[DOWNLOAD_PARAM],
        responses={
            (200, "image/*"): OpenApiTypes.BINARY,
            302: OpenApiResponse(description="On S3: a short-lived presigned URL (Location)."),
        },
        description="The stored image: streamed, or a 302 to a short-lived S3 URL.",
    )
    def get(self, request: Request, image_id) -> HttpResponseBase:
        image = selectors.image_get(user=request.user, image_id=image_id)
        return image_file_response(image, download=request.query_params.get("download") == "1")


class ImageThumbnailApi(APIView):
    @extend_schema(
        operation_id="images_thumbnail",
        responses={
            (200, "image/webp"): OpenApiTypes.BINARY,
            302: OpenApiResponse(description="On S3: a short-lived presigned URL (Location)."),
        },
    )
    def get(self, request: Request, image_id) -> HttpResponseBase:
        image = selectors.image_get(user=request.user, image_id=image_id)
        return image_file_response(image, thumbnail=True)


class ImageBulkDeleteApi(APIView):
    parser_classes = [BoundedJSONParser, FormParser]

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
    parser_classes = [BoundedJSONParser, FormParser]

    @extend_schema(
        operation_id="images_upload_url",
        request=UploadUrlRequestSerializer,
        responses=UploadUrlResponseSerializer,
        description=(
            "Get a URL to upload one file to, as the seed documents: PUT the bytes to "
            "`upload_url` (S3's presigned PUT, or on local storage a signed URL of this "
            "app), then use `s3_key` in /submit's `s3_keys`, in DELETE /images/{s3_key}, or "
            "just list /images. The file is checked like any upload when first used."
        ),
    )
    def post(self, request: Request) -> Response:
        body = UploadUrlRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = services.direct_upload_create(
            user=request.user,
            filename=body.validated_data.get("filename", ""),
            content_type=body.validated_data.get("content_type", ""),
        )
        upload_url = upload.put_url or request.build_absolute_uri(
            reverse("api-upload-put", args=[upload.token])
        )
        return Response(
            {
                "upload_url": upload_url,
                "s3_key": upload.key,
                "key": upload.key,
                "method": "PUT",
                "expires_in": upload.expires_in,
                "max_bytes": upload.max_bytes,
                "post_url": upload.post_url,
                "fields": upload.fields,
            }
        )


class DirectUploadPutApi(APIView):
    """The upload URL on local storage: the signed token in the path is the permission,
    like S3's presigned URL (the client sends no credentials with the PUT)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []  # the body is the file itself, read by intake

    @extend_schema(
        operation_id="images_upload_put",
        auth=[],
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={201: DirectUploadPutResponseSerializer, 200: DirectUploadPutResponseSerializer},
        description="Local storage only: the `upload_url` /upload-url hands out. The bytes "
        "are checked and stored at once; the answer says how.",
    )
    def put(self, request: Request, token: str) -> Response:
        # The body is the file: intake reads it off the request stream, bounded.
        stream = cast(IO[bytes], request._request)
        key, result = services.direct_upload_receive(token=token, fileobj=stream)
        return Response(
            {
                "s3_key": key,
                "outcome": "duplicate" if result.duplicate else "stored",
                "image": ImageSerializer(result.image, context={"request": request}).data,
            },
            status=status.HTTP_200_OK if result.duplicate else status.HTTP_201_CREATED,
        )


class DirectUploadFinalizeApi(APIView):
    parser_classes = [BoundedJSONParser, FormParser]

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
