import pytest
from django.core.management import call_command
from django.db import connection

from inference.models import ModelVersion


@pytest.mark.django_db(transaction=True)
def test_release_migrates_creates_cache_table_and_model_versions(capsys, settings):
    # As production runs it: throttle counters shared through the database.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cache_table",
        }
    }
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS cache_table")
    call_command("release", verbosity=0)
    assert "cache_table" in connection.introspection.table_names()
    assert ModelVersion.objects.filter(kind="imagenet", is_active=True).count() == 1
    assert "Release steps done." in capsys.readouterr().out
    call_command("release", verbosity=0)  # a second task finds nothing left to do
    assert ModelVersion.objects.filter(kind="imagenet", is_active=True).count() == 1
