from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

# Any constant: every web task of a deployment starts with `release`; only one at a time
# may run migrations, the others wait and then find nothing left to do.
RELEASE_LOCK_ID = 7_201_905


class Command(BaseCommand):
    help = (
        "Prepare the database for this release: migrate, create the cache table, refresh "
        "model versions. Safe to run from many tasks at once (PostgreSQL advisory lock)."
    )

    def handle(self, *args, **options):
        locked = connection.vendor == "postgresql"
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", [RELEASE_LOCK_ID])
        try:
            call_command("migrate", interactive=False, verbosity=options["verbosity"])
            call_command("createcachetable", verbosity=options["verbosity"])
            call_command("inference_models", refresh=True, verbosity=options["verbosity"])
        finally:
            if locked:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [RELEASE_LOCK_ID])
        self.stdout.write(self.style.SUCCESS("Release steps done."))
