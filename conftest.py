"""Shared fixtures: personas, API clients, the loopback S3/SQS server, real workers."""

from __future__ import annotations

import os
import uuid

import boto3
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from classifier_site.accounts.tests.factories import UserFactory
from classifier_site.core.storage import s3_media_storage
from classifier_site.testing.workers import WorkerProcess

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Drop the test database cleanly even if a worker or server thread still holds a
    connection to it (otherwise it is left behind on the shared server)."""
    yield
    with django_db_blocker.unblock():
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_user(db):
    return UserFactory(username="mallory")


@pytest.fixture
def staff_user(db):
    return UserFactory(username="staff", is_staff=True, is_superuser=True)


@pytest.fixture
def client_user(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def token_client(user):
    """An API client authenticated as ``user`` by token, as a script would be."""
    token, _ = Token.objects.get_or_create(user=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


@pytest.fixture
def other_token_client(other_user):
    token, _ = Token.objects.get_or_create(user=other_user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


@pytest.fixture(scope="session")
def moto_url() -> str:
    return os.environ["MOTO_URL"]


@pytest.fixture
def s3_bucket(moto_url):
    """A fresh private bucket on the loopback S3 server."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_storage(settings, s3_bucket, moto_url):
    """Switch default storage to S3 (django-storages) on the loopback server."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_media_storage(
            bucket=s3_bucket, endpoint_url=moto_url, region="us-east-1", url_expiry_seconds=300
        ),
    }
    settings.S3_BUCKET = s3_bucket
    settings.S3_ENDPOINT_URL = moto_url
    return s3_bucket


@pytest.fixture
def local_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media", "base_url": None},
        },
    }
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "media"


@pytest.fixture
def dramatiq_worker(transactional_db):
    """Factory for real `rundramatiq` processes; all are stopped at teardown."""
    started: list[WorkerProcess] = []

    def start(**kwargs) -> WorkerProcess:
        worker = WorkerProcess(**kwargs).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


# --- inference: random-weight models of the real architectures (append-only block) -------
@pytest.fixture(scope="session")
def inference_weights_env(tmp_path_factory) -> dict[str, str]:
    from inference.testing import write_test_weights

    return write_test_weights(tmp_path_factory.mktemp("inference-weights"))


@pytest.fixture
def inference_weights(settings, monkeypatch, inference_weights_env) -> dict[str, str]:
    """Tiny MobileNetV2 / OpenCLIP weights for this test: settings in-process, and the same
    variables in os.environ so worker subprocesses started in the test load them too."""
    from inference.testing import weights_settings

    for name, value in weights_settings(inference_weights_env).items():
        setattr(settings, name, value)
    for name, value in inference_weights_env.items():
        monkeypatch.setenv(name, value)
    return inference_weights_env


@pytest.fixture
def inference_available(db, inference_weights) -> dict[str, str]:
    """What a worker holding the test checkpoints records at start: the models it can run
    (the web side accepts jobs only for those)."""
    from inference.services import model_availability_report

    model_availability_report(worker="pytest")
    return inference_weights
