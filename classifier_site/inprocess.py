"""The embedded default's queue: a Dramatiq worker thread inside the web process.

Messages live in memory (StubBroker), so a restart drops them; that loses nothing
because the database is the source of truth: at start-up every unfinished job is
dispatched again, and the sweeper runs periodically for anything that slips through.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import dramatiq
from django.utils.module_loading import autodiscover_modules

from jobs.services import jobs_recover_on_start, jobs_sweep

logger = logging.getLogger(__name__)


def _run_safely(step: Callable[[], object]) -> None:
    try:
        step()
    except Exception:  # a failing sweep must not take the web process down
        logger.exception("%s failed", step.__name__)


def _sweep_forever(stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        _run_safely(jobs_sweep)


def start_inprocess_worker(*, threads: int = 1, sweep_interval: float = 30.0) -> dramatiq.Worker:
    autodiscover_modules("tasks")  # registers every actor (and so declares its queue)
    worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=threads)
    worker.start()
    _run_safely(jobs_recover_on_start)
    stop = threading.Event()
    threading.Thread(
        target=_sweep_forever, args=(stop, sweep_interval), name="sweeper", daemon=True
    ).start()
    logger.info("in-process worker started with %d thread(s)", threads)
    return worker
