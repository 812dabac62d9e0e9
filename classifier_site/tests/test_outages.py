"""Dependencies going away for real (a TCP proxy cut in front of them)."""

from __future__ import annotations

import json
import os

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from classifier_site.testing.processes import run_python
from classifier_site.testing.proxy import TcpProxy

PROBE = """
import json, os, django
django.setup()
from django.test import Client
api = Client().get("/api/v1/jobs", HTTP_AUTHORIZATION="Token " + os.environ["PROBE_TOKEN"])
health = Client().get("/health")
print(json.dumps({
    "api": [api.status_code, api.get("Retry-After"), api.get("Content-Type"), api.json()],
    "health": [health.status_code, health.json()["checks"]],
}))
"""


@pytest.mark.django_db(transaction=True)
def test_database_down_gives_json_503_with_retry_after_and_health_names_it(user):
    token = Token.objects.create(user=user).key
    db = connection.settings_dict
    proxy = TcpProxy(db["HOST"], int(db["PORT"])).up()
    env = {
        **os.environ,
        "PROBE_TOKEN": token,
        "DATABASE_URL": (
            f"postgres://{db['USER'] or 'postgres'}@127.0.0.1:{proxy.port}/{db['NAME']}"
        ),
    }
    try:
        proxy.down()
        down = run_python(PROBE, env)
        proxy.up()
        back = run_python(PROBE, env)
    finally:
        proxy.down()
    assert down.returncode == 0, down.stderr[-3000:]
    api, health = json.loads(down.stdout.strip().splitlines()[-1]).values()
    assert api[:3] == [503, "5", "application/json"], api
    assert api[3]["error"]["code"] == "unavailable"
    assert health[0] == 503
    assert health[1]["database"].startswith("error") and health[1]["broker"] == "ok"

    api, health = json.loads(back.stdout.strip().splitlines()[-1]).values()
    assert (api[0], api[3]["total"], health) == (
        200,
        0,
        [200, {"database": "ok", "storage": "ok", "broker": "ok"}],
    )
