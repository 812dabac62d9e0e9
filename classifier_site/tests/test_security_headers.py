"""Production security headers on real responses, from a fresh production-mode process."""

from __future__ import annotations

import json

from classifier_site.testing.processes import clean_env, run_manage, run_python

FETCH = """
import json, django
django.setup()
from django.test import Client
client = Client()
out = {}
for path in ["/accounts/login/", "/api/v1/auth/token"]:
    response = client.get(path, secure=True, HTTP_X_FORWARDED_PROTO="https")
    out[path] = {"status": response.status_code, "headers": dict(response.headers)}
plain = client.get("/accounts/login/")
out["http"] = {"status": plain.status_code, "location": plain.headers.get("Location")}
print(json.dumps(out))
"""


def test_production_responses_carry_the_security_headers(tmp_path):
    env = clean_env(
        tmp_path,
        DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        SECRET_KEY="a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
        ALLOWED_HOSTS="testserver",
        METRICS_TOKEN="t",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    collect = run_manage("collectstatic", "--noinput", "-v0", env=env)
    assert collect.returncode == 0, collect.stderr
    result = run_python(FETCH, env)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["http"] == {"status": 301, "location": "https://testserver/accounts/login/"}
    for path in ["/accounts/login/", "/api/v1/auth/token"]:
        headers = out[path]["headers"]
        assert out[path]["status"] in (200, 405), path
        assert headers["Strict-Transport-Security"] == (
            "max-age=31536000; includeSubDomains; preload"
        )
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        policy = dict(
            (part.split(" ", 1) + [""])[:2]
            for part in (p.strip() for p in headers["Content-Security-Policy"].split(";"))
        )
        assert policy["default-src"] == "'self'"
        assert policy["script-src"] == "'self'"
        assert policy["style-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"
        assert policy["object-src"] == "'none'"
