"""A client of the API we replace, written from its documents and nothing else.

Seed 000's "API Reference" (upload-url, images, submit, status, result, jobs, health) and
seed 004's endpoints (predict, predictions), transcribed call by call. The only changes
the documents allow: the base URL (``…/api/v1``) and the token header. The contract tests
run it against a live server; if a call here needs changing, the contract broke.
"""

from __future__ import annotations

from typing import Any

import requests


class SeedClient:
    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token}"

    def _url(self, path: str) -> str:
        return f"{self.base}{path}"

    # --- seed 000 ---------------------------------------------------------------------
    def health(self) -> requests.Response:
        return self.http.get(self._url("/health"), timeout=30)

    def upload_url(self, filename: str, content_type: str) -> requests.Response:
        return self.http.post(
            self._url("/upload-url"),
            json={"filename": filename, "content_type": content_type},
            timeout=30,
        )

    def put_file(self, upload_url: str, data: bytes, content_type: str) -> requests.Response:
        # A presigned URL carries its own permission: no API token goes with it.
        return requests.put(
            upload_url, data=data, headers={"Content-Type": content_type}, timeout=60
        )

    def list_images(self) -> requests.Response:
        return self.http.get(self._url("/images"), timeout=30)

    def delete_image(self, s3_key: str) -> requests.Response:
        return self.http.delete(self._url(f"/images/{s3_key}"), timeout=30)

    def submit(self, body: dict[str, Any]) -> requests.Response:
        return self.http.post(self._url("/submit"), json=body, timeout=30)

    def status(self, job_id: str) -> requests.Response:
        return self.http.get(self._url(f"/status/{job_id}"), timeout=30)

    def result(self, job_id: str) -> requests.Response:
        return self.http.get(self._url(f"/result/{job_id}"), timeout=30)

    def jobs(self, **params: Any) -> requests.Response:
        return self.http.get(self._url("/jobs"), params=params, timeout=30)

    # --- seed 004 ---------------------------------------------------------------------
    def predict(self, filename: str, data: bytes, user_id: str) -> requests.Response:
        return self.http.post(
            self._url("/predict"),
            files={"file": (filename, data)},
            data={"user_id": user_id},
            timeout=180,
        )

    def predictions(self, user_id: str, page: int, limit: int) -> requests.Response:
        return self.http.get(
            self._url("/predictions"),
            params={"user_id": user_id, "page": str(page), "limit": str(limit)},
            timeout=30,
        )
