"""The OpenAPI schema tells the truth: error answers and links, in one place.

Every operation documents the JSON error shape for the statuses ``errors.py`` can answer
with (a client generated from the schema then knows them), and the success answers link
to the operations that take their ids (Schemathesis' stateful tests follow these links).
What the schema cannot express is listed in ``NOT_EXPRESSIBLE`` with the reason; the
Schemathesis test reads that list too, so the two never drift apart.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

ERROR_STATUSES = {
    "400": "The request is malformed or a value is refused; `fields` names them.",
    "401": "No or an invalid token (header `Authorization: Token <key>`).",
    "403": "Authenticated, but not allowed.",
    "404": "No such object among yours (another user's objects are reported as missing).",
    "405": "This method is not offered on this path (see the `Allow` header).",
    "409": "The object's state does not allow this now (e.g. deleting a running job).",
    "413": "The request body or an uploaded file is larger than allowed.",
    "415": "An unsupported body or file type.",
    "422": "An Idempotency-Key reused for a different request.",
    "429": "Too many requests; `Retry-After` says when to try again.",
    "503": "The model this needs is not available on any worker yet.",
}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable, machine-readable reason.")
    message = serializers.CharField(help_text="What went wrong and what to do, for a person.")
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="The refused parameters or fields, with their messages.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status_code, description in ERROR_STATUSES.items():
            if status_code not in responses:
                response = self._get_response_for_code(
                    ErrorSerializer, status_code, direction=direction
                )
                response["description"] = description
                responses[status_code] = response
        return responses


# operation id -> {link name: (target operation id, {parameter: runtime expression})}
_JOB = "$response.body#/job_id"
_CATEGORY = "$response.body#/id"
_UPLOADED = "$response.body#/results/0/image/id"
LINKS: dict[str, dict[str, tuple[str, dict[str, str]]]] = {
    "jobs_submit": {
        "Status": ("jobs_status", {"job_id": _JOB}),
        "Result": ("jobs_result", {"job_id": _JOB}),
        "Cancel": ("jobs_cancel", {"job_id": _JOB}),
        "Retry": ("jobs_retry", {"job_id": _JOB}),
        "Export": ("jobs_export", {"job_id": _JOB}),
        "Delete": ("jobs_destroy", {"job_id": _JOB}),
    },
    "categories_create": {
        "Get": ("categories_retrieve", {"category_id": _CATEGORY}),
        "Update": ("categories_update", {"category_id": _CATEGORY}),
        "PartialUpdate": ("categories_partial_update", {"category_id": _CATEGORY}),
        "Delete": ("categories_destroy", {"category_id": _CATEGORY}),
    },
    "images_upload": {
        "Get": ("images_retrieve", {"ref": _UPLOADED}),
        "File": ("images_file", {"image_id": _UPLOADED}),
        "Thumbnail": ("images_thumbnail", {"image_id": _UPLOADED}),
        "Delete": ("images_delete", {"ref": _UPLOADED}),
    },
    "images_upload_url": {
        "GetByKey": ("images_retrieve", {"ref": "$response.body#/s3_key"}),
        "DeleteByKey": ("images_delete", {"ref": "$response.body#/s3_key"}),
    },
}

# Cases the schema cannot express, with the reason. The Schemathesis test turns off the
# named check for the named operation and nothing else.
NOT_EXPRESSIBLE: dict[tuple[str, str], str] = {
    ("images_search", "negative_data_rejection"): (
        "The gallery filters take an empty value as 'no filter' and refuse NUL; the "
        "generator renders 'empty or NUL-free text' as a oneOf that an empty string "
        "matches twice, so a valid empty filter reads as schema-violating."
    ),
    ("jobs_preview", "positive_data_acceptance"): (
        "The same facts as a submit: the images must be the caller's, and `s3_keys` or "
        "`image_ids` must name at least one (either field may be the one given)."
    ),
    ("labels_accept", "positive_data_acceptance"): (
        "Either `image_ids` or `job_id` must be given, and they must be the caller's: "
        "a one-of over optional fields and a fact of the database."
    ),
    ("dataset_export", "positive_data_acceptance"): (
        "A dataset needs images that already have a label (the person's own or a "
        "prediction): a fact of the database, not of the request's shape."
    ),
    ("labels_set", "positive_data_acceptance"): (
        "`image_ids` must be the caller's images: a fact of the database."
    ),
    ("labels_clear", "positive_data_acceptance"): (
        "`image_ids` must be the caller's images: a fact of the database."
    ),
    ("auth_token_create", "positive_data_acceptance"): (
        "Any username and password are schema-valid; only a real account's pair logs in."
    ),
    ("images_upload", "positive_data_acceptance"): (
        "A schema-valid upload is any binary `files` part; only decoding it tells whether "
        "it is an image we accept (415/400/413 otherwise)."
    ),
    ("images_upload_put", "positive_data_acceptance"): (
        "The path token must be one this app signed a moment ago, and the body an image."
    ),
    ("jobs_submit", "positive_data_acceptance"): (
        "`s3_keys`/`image_ids` must name images the caller owns, labels must differ "
        "ignoring case, and a model must be available: facts of the database, not of shapes."
    ),
    ("categories_create", "positive_data_acceptance"): (
        "Labels must differ ignoring case (CLIP lowercases them); JSON Schema's "
        "uniqueItems is case-sensitive."
    ),
    ("categories_update", "positive_data_acceptance"): (
        "Labels must differ ignoring case; the id must be one of the caller's categories."
    ),
    ("categories_partial_update", "positive_data_acceptance"): (
        "Labels must differ ignoring case; the id must be one of the caller's categories."
    ),
    ("images_bulk_delete", "positive_data_acceptance"): (
        "The ids must be the caller's images (all or nothing: any other id is a 404)."
    ),
    ("images_finalize", "positive_data_acceptance"): (
        "The key must be an /upload-url key whose bytes were uploaded and are an image."
    ),
    ("predict", "positive_data_acceptance"): ("The `file` must decode as an accepted image."),
    ("jobs_retry", "positive_data_acceptance"): (
        "Only a finished job with failed images can be retried (409 otherwise)."
    ),
}


def add_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook: OpenAPI links from ``LINKS``."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            links = LINKS.get(operation.get("operationId", ""))
            if not links:
                continue
            for status_code, response in operation.get("responses", {}).items():
                if not status_code.startswith("2"):
                    continue
                response["links"] = {
                    name: {"operationId": target, "parameters": dict(params)}
                    for name, (target, params) in links.items()
                }
    return result
