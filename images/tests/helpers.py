from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import requests
from django.conf import settings


def multipart(files: list[tuple[str, bytes]], field: str = "files") -> tuple[bytes, str]:
    """A raw multipart body: Django's test client would clean the file names itself."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, data in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{name}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def local_files(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def s3_keys(bucket: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=settings.S3_ENDPOINT_URL, region_name="us-east-1")
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def direct_upload(api, data: bytes, filename: str) -> tuple[requests.Response, object]:
    """Get an upload grant, send ``data`` to S3 with its size-limited POST form, finalize.
    (S3 reply, finalize reply)."""
    grant = api.post("/api/v1/upload-url", {"filename": filename}, format="json")
    assert grant.status_code == 200, grant.content
    body = grant.json()
    s3_reply = requests.post(
        body["post_url"], data=body["fields"], files={"file": ("upload", data)}, timeout=30
    )
    final = api.post(
        "/api/v1/images/finalize", {"key": body["s3_key"], "filename": filename}, format="json"
    )
    return s3_reply, final
