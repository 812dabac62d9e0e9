import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from jobs.services import jobs_sweep

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Re-send shards no worker holds (pending too long, lost messages, expired leases)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop",
            type=float,
            nargs="?",
            const=0.0,
            metavar="SECONDS",
            help="Sweep forever, every SECONDS (default: JOB_SWEEP_INTERVAL_SECONDS).",
        )

    def handle(self, *args, loop=None, **options):
        if loop is None:
            self._sweep_once(raise_errors=True)
            return
        interval = loop or settings.JOB_SWEEP_INTERVAL_SECONDS
        while True:
            self._sweep_once(raise_errors=False)
            time.sleep(interval)

    def _sweep_once(self, *, raise_errors: bool) -> None:
        try:
            result = jobs_sweep()
        except Exception:
            if raise_errors:
                raise
            # The database or the queue is away: this process must outlive the outage,
            # or lease recovery and re-sends stop until someone restarts it.
            logger.warning("sweep failed; trying again next round", exc_info=True)
            close_old_connections()
            connection.close()
            return
        self.stdout.write(
            f"redispatched {len(result.redispatched)}, failed {len(result.failed)}, "
            f"finished {len(result.finished)}",
        )
        self.stdout.flush()
