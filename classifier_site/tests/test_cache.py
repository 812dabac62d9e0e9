"""Throttle counters in Redis (CACHE_URL): the SQL queries an API request costs."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from classifier_site.testing.processes import clean_env, run_python

pytestmark = pytest.mark.django_db

REDIS_URL = "redis://127.0.0.1:6379/0"


def _queries_per_request(token_client, count: int = 5) -> list[int]:
    counts = []
    for _ in range(count):
        with CaptureQueriesContext(connection) as captured:
            assert token_client.get("/api/v1/images").status_code == 200
        counts.append(len(captured))
    return counts


def test_redis_counters_take_the_throttle_out_of_the_database(token_client, user, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cache_table",
        }
    }
    call_command("createcachetable", verbosity=0)
    database = _queries_per_request(token_client)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
    redis = _queries_per_request(token_client)
    print(f"SQL queries per GET /api/v1/images: database cache {database}, Redis {redis}")
    # The throttle's reads and writes went to Redis: what is left is the request itself.
    assert database[-1] - redis[-1] >= 3
    assert len(caches["default"].get(f"throttle_user_{user.pk}")) == 5  # counted in Redis
    caches["default"].clear()


def test_cache_url_selects_redis(tmp_path):
    code = (
        "import django; from django.conf import settings; django.setup(); "
        "from django.core.cache import cache; cache.set('k', 'v'); "
        "print(settings.CACHES['default']['BACKEND'], cache.get('k'))"
    )
    result = run_python(code, clean_env(tmp_path, CACHE_URL=REDIS_URL))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.core.cache.backends.redis.RedisCache", "v"]
    bad = run_python(code, clean_env(tmp_path, CACHE_URL="memcached://x"))
    assert "CACHE_URL must be a redis://" in bad.stderr
