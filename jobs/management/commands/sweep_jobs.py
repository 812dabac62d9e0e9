import time

from django.core.management.base import BaseCommand

from jobs.services import jobs_sweep


class Command(BaseCommand):
    help = "Re-dispatch jobs no worker holds (pending too long, or the worker's lease expired)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", type=float, metavar="SECONDS", help="Sweep forever, every SECONDS."
        )

    def handle(self, *args, loop=None, **options):
        while True:
            result = jobs_sweep()
            self.stdout.write(
                f"redispatched {len(result.redispatched)}, failed {len(result.failed)}"
            )
            if not loop:
                return
            time.sleep(loop)
