"""Locust users for `make loadtest` (scripts/loadtest.py starts Locust with this file).

Everything comes from the environment the load script sets: LOAD_TOKEN (an API token),
LOAD_USERNAME / LOAD_PASSWORD (for the gallery pages), LOAD_IMAGE_IDS (comma-separated
ids of the user's stored images), LOAD_BURST_JOBS (the queue-explosion burst size) and
LOAD_PREDICT_IMAGE (a small JPEG for single-image predictions).
"""

from __future__ import annotations

import os
import random
import re
import time

from locust import HttpUser, between, constant, task
from locust.exception import StopUser

TOKEN = os.environ.get("LOAD_TOKEN", "")
IMAGE_IDS = [i for i in os.environ.get("LOAD_IMAGE_IDS", "").split(",") if i]
JOB_IMAGES = int(os.environ.get("LOAD_JOB_IMAGES", "4"))
TERMINAL = {"completed", "failed", "canceled"}
BURST = int(os.environ.get("LOAD_BURST_JOBS", "200"))
_burst_sent = [0]  # shared by every user of this (single) Locust process


def _auth() -> dict[str, str]:
    return {"Authorization": f"Token {TOKEN}"}


def _submit_body() -> dict:
    ids = random.sample(IMAGE_IDS, min(JOB_IMAGES, len(IMAGE_IDS)))
    if random.random() < 0.25:
        return {
            "job_type": "custom_classification",
            "image_ids": ids,
            "custom_labels": ["cat", "dog", "car", "tree"],
            "top_k": 2,
        }
    return {"job_type": "image_classification", "image_ids": ids, "top_k": 3}


class ApiClient(HttpUser):
    """A script: submits a small job, polls its status until it ends, then again."""

    wait_time = between(1, 3)

    @task
    def submit_and_follow(self) -> None:
        with self.client.post(
            "/api/v1/submit", json=_submit_body(), headers=_auth(), catch_response=True
        ) as response:
            if response.status_code != 201:
                response.failure(f"submit: HTTP {response.status_code}")
                return
            job_id = response.json()["job_id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(1)
            status = self.client.get(
                f"/api/v1/status/{job_id}", headers=_auth(), name="/api/v1/status/[id]"
            )
            if status.status_code == 200 and status.json().get("status") in TERMINAL:
                self.client.get(
                    f"/api/v1/result/{job_id}", headers=_auth(), name="/api/v1/result/[id]"
                )
                return


class GalleryBrowser(HttpUser):
    """A person in the browser: logs in, pages through the gallery, opens images.

    As behind the deployment's TLS-terminating load balancer: requests carry
    ``X-Forwarded-Proto: https``, so the production settings' secure-only session and CSRF
    cookies are set; they are sent back explicitly (an HTTP client keeps secure cookies to
    itself on a plain-HTTP URL), with the Origin a browser would send.
    """

    wait_time = between(1, 4)

    def on_start(self) -> None:
        origin = self.host.replace("http://", "https://")
        self.headers = {"X-Forwarded-Proto": "https"}
        page = self.client.get("/accounts/login/", headers=self.headers, name="/accounts/login/")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        csrf = page.cookies.get("csrftoken", "")
        login = self.client.post(
            "/accounts/login/",
            {
                "username": os.environ["LOAD_USERNAME"],
                "password": os.environ["LOAD_PASSWORD"],
                "csrfmiddlewaretoken": match.group(1) if match else "",
            },
            headers={
                **self.headers,
                "Cookie": f"csrftoken={csrf}",
                "Origin": origin,
                "Referer": origin + "/accounts/login/",
            },
            allow_redirects=False,
            name="/accounts/login/ (POST)",
        )
        session = login.cookies.get("sessionid", "")
        self.headers["Cookie"] = f"csrftoken={csrf}; sessionid={session}"

    def page(self, path: str, name: str, expect: int = 200) -> None:
        # Logged out (a redirect to the login page) counts as a failure, not a fast 200.
        with self.client.get(
            path, headers=self.headers, name=name, allow_redirects=False, catch_response=True
        ) as response:
            location = response.headers.get("Location", "")
            if response.status_code != expect or "/accounts/login/" in location:
                response.failure(f"HTTP {response.status_code} {location[:80]}")

    @task(3)
    def gallery(self) -> None:
        self.page("/images/", "/images/")

    @task(2)
    def image_detail(self) -> None:
        image_id = random.choice(IMAGE_IDS)
        self.page(f"/images/{image_id}/", "/images/[id]/")
        # A redirect to a short-lived S3 URL: the browser fetches the bytes from S3.
        self.page(f"/images/{image_id}/thumbnail", "/images/[id]/thumbnail", expect=302)

    @task(1)
    def jobs_page(self) -> None:
        self.page("/jobs/", "/jobs/")


class BurstSubmitter(HttpUser):
    """Queue explosion: together, the burst users submit LOAD_BURST_JOBS jobs at once."""

    weight = 10
    wait_time = constant(0)

    @task
    def submit(self) -> None:
        if _burst_sent[0] >= BURST:
            raise StopUser()
        _burst_sent[0] += 1
        with self.client.post(
            "/api/v1/submit", json=_submit_body(), headers=_auth(), catch_response=True
        ) as response:
            if response.status_code != 201:
                response.failure(f"submit: HTTP {response.status_code}")


class ApiReader(HttpUser):
    """Reads while the queue is full: the job list and a job's status."""

    weight = 4
    wait_time = between(0.5, 1.5)

    @task
    def list_jobs(self) -> None:
        self.client.get("/api/v1/jobs", headers=_auth(), name="/api/v1/jobs")


class Predictor(HttpUser):
    """Single-image predictions: their own queue and worker, whatever the bulk backlog."""

    weight = 1
    wait_time = between(2, 4)

    @task
    def predict(self) -> None:
        with (
            open(os.environ["LOAD_PREDICT_IMAGE"], "rb") as fh,
            self.client.post(
                "/api/v1/predict",
                files={"file": ("photo.jpg", fh, "image/jpeg")},
                headers=_auth(),
                catch_response=True,
            ) as response,
        ):
            if response.status_code != 200:
                response.failure(f"predict: HTTP {response.status_code}")
