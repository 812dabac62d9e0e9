"""Settings boot in each mode, from a fresh interpreter with a controlled environment."""

from __future__ import annotations

import json
import re

from classifier_site.testing.processes import ROOT, clean_env, run_manage, run_python

PROBE = """
import json, django
from django.conf import settings
django.setup()
import dramatiq
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "storage": settings.STORAGES["default"]["BACKEND"],
    "broker": type(dramatiq.get_broker()).__name__,
    "inprocess": settings.INPROCESS_WORKER,
    "debug": settings.DEBUG,
    "hosts": settings.ALLOWED_HOSTS,
    "log": settings.LOG_FORMAT,
    "secure_cookies": getattr(settings, "SESSION_COOKIE_SECURE", False),
}))
"""


def test_no_variables_gives_the_embedded_default(tmp_path):
    result = run_python(PROBE, clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "engine": "django.db.backends.sqlite3",
        "storage": "django.core.files.storage.FileSystemStorage",
        "broker": "StubBroker",
        "inprocess": True,
        "debug": False,
        "hosts": ["127.0.0.1", "localhost", "[::1]", "testserver"],
        "log": "text",
        "secure_cookies": False,
    }
    # The generated secret key is kept private in the data folder.
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_production_variables_switch_every_backend(tmp_path):
    env = clean_env(
        tmp_path,
        DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        SECRET_KEY="k" * 60,
        ALLOWED_HOSTS="app.example.com",
        S3_BUCKET="media",
        BROKER_URL="sqs://",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
        AWS_REGION="eu-west-1",
    )
    result = run_python(PROBE, env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "engine": "django.db.backends.postgresql",
        "storage": "storages.backends.s3.S3Storage",
        "broker": "RedrivingSQSBroker",
        "inprocess": False,
        "debug": False,
        "hosts": ["app.example.com"],
        "log": "json",
        "secure_cookies": True,
    }


def test_production_refuses_to_start_without_secret_key(tmp_path):
    env = clean_env(
        tmp_path, DATABASE_URL="postgres://u@127.0.0.1:5432/x", ALLOWED_HOSTS="app.example.com"
    )
    result = run_python(PROBE, env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts(tmp_path):
    env = clean_env(tmp_path, DATABASE_URL="postgres://u@127.0.0.1:5432/x", SECRET_KEY="k" * 60)
    result = run_python(PROBE, env)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_bad_values_fail_loudly(tmp_path):
    result = run_python(PROBE, clean_env(tmp_path, DEBUG="maybe"))
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr
    result = run_python(PROBE, clean_env(tmp_path, RETRY_MAX_BACKOFF_MS="3600000"))
    assert result.returncode != 0
    assert "at most 900000" in result.stderr


def test_deploy_check_passes_with_production_variables(tmp_path):
    env = clean_env(
        tmp_path,
        DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        SECRET_KEY="a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
        ALLOWED_HOSTS="app.example.com",
        BROKER_URL="sqs://",
        S3_BUCKET="media",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
    )
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_env_example_lists_every_variable_the_settings_read():
    settings_src = (ROOT / "classifier_site" / "settings.py").read_text()
    read = set(re.findall(r'env_\w+\(\s*"([A-Z0-9_]+)"', settings_src))
    listed = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read - listed == set()


def test_production_logs_are_one_json_object_per_line(tmp_path):
    env = clean_env(
        tmp_path,
        DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        SECRET_KEY="k" * 60,
        ALLOWED_HOSTS="app.example.com",
    )
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('jobs').warning('job %s failed', 'abc')"
    )
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stderr.strip().splitlines()[-1])
    assert record["message"] == "job abc failed"
    assert record["level"] == "WARNING"
    assert record["logger"] == "jobs"


def test_pages_render_with_collected_static_files_in_production(tmp_path):
    env = clean_env(
        tmp_path,
        DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        SECRET_KEY="k" * 60,
        ALLOWED_HOSTS="testserver",
        STATIC_ROOT=str(tmp_path / "static"),
        SECURE_SSL_REDIRECT="0",
    )
    collect = run_manage("collectstatic", "--noinput", "-v0", env=env)
    assert collect.returncode == 0, collect.stderr
    code = (
        "import django; django.setup(); from django.test import Client; "
        "r = Client().get('/accounts/login/'); print(r.status_code); "
        "print(r.content.decode())"
    )
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    status, html = result.stdout.split("\n", 1)
    assert status == "200"
    # Hashed names (cache-busting) from the manifest, e.g. app.3f2a9c1b7d4e.css
    assert re.search(r"/static/css/app\.[0-9a-f]{12}\.css", html)


def test_embedded_pages_render_without_collectstatic(tmp_path):
    code = (
        "import django; django.setup(); from django.test import Client; "
        "r = Client().get('/accounts/login/'); print(r.status_code)"
    )
    result = run_python(code, clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "200"
