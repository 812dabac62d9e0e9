from __future__ import annotations

import json
import os

import pytest

from classifier_site.testing.processes import run_python
from classifier_site.testing.pytest_env import free_port

PROBE = """
import json, django
django.setup()
from django.test import Client
r = Client().get("/health")
print(json.dumps({"status": r.status_code, "body": r.json()}))
"""


@pytest.mark.django_db
def test_health_reports_every_check(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["service"] == "classifier"
    assert body["checks"] == {"database": "ok", "storage": "ok", "broker": "ok"}
    assert body["time"].endswith("Z")


@pytest.mark.django_db
def test_health_checks_s3_bucket(client, s3_storage):
    assert client.get("/health").json()["checks"]["storage"] == "ok"


@pytest.mark.django_db
def test_health_is_503_when_the_bucket_is_missing(client, s3_storage, settings):
    settings.STORAGES["default"]["OPTIONS"]["bucket_name"] = "no-such-bucket"
    settings.STORAGES = dict(settings.STORAGES)  # signal a change so storage is rebuilt
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"].startswith("error")


def _probe(**env: str) -> dict:
    result = run_python(PROBE, {**os.environ, **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_health_is_503_when_the_database_is_down():
    closed = free_port()
    out = _probe(DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed}/nothing")
    assert out["status"] == 503
    assert out["body"]["status"] == "unhealthy"
    assert out["body"]["checks"]["database"] == "error: OperationalError"
    assert out["body"]["checks"]["storage"] == "ok"
    assert out["body"]["checks"]["broker"] == "ok"


def test_health_is_503_when_the_queue_is_down():
    closed = free_port()
    # The server's maintenance database exists whatever the test database is called.
    db = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    out = _probe(SQS_ENDPOINT_URL=f"http://127.0.0.1:{closed}", DATABASE_URL=db)
    assert out["status"] == 503
    assert out["body"]["checks"]["broker"].startswith("error")
    assert out["body"]["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_metrics_exposes_request_counts_and_latency(client):
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert "django_http_requests_total_by_method_total" in text
    assert "django_http_requests_latency_seconds_by_view_method_bucket" in text


@pytest.mark.django_db
def test_metrics_token_is_enforced_when_set(client, settings):
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert ok.status_code == 200


@pytest.mark.django_db
def test_production_refuses_public_metrics_unless_allowed(client, settings):
    settings.EMBEDDED = False
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    refused = client.get("/metrics")
    assert refused.status_code == 403
    assert refused.content == (
        b"metrics are not public: set METRICS_TOKEN (or METRICS_PUBLIC=1 on a private network)\n"
    )
    settings.METRICS_PUBLIC = True
    assert client.get("/metrics").status_code == 200
    settings.METRICS_PUBLIC = False
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
