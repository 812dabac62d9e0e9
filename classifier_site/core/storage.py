"""The one definition of media storage on S3, used by the settings and by the tests."""

from __future__ import annotations

from typing import Any


def s3_media_storage(
    *, bucket: str, endpoint_url: str | None, region: str, url_expiry_seconds: int
) -> dict[str, Any]:
    """A STORAGES entry for a private bucket through django-storages."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "region_name": region,
            "default_acl": None,  # the bucket is private; objects inherit it
            "querystring_auth": True,
            "querystring_expire": url_expiry_seconds,
            # SigV4 for presigned GET and POST: botocore may otherwise pick the legacy SigV2
            # (deprecated, refused by newer regions, and its key id shows in the URL).
            "signature_version": "s3v4",
            "file_overwrite": False,
            "object_parameters": {"CacheControl": "private, max-age=300"},
        },
    }
