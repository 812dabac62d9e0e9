"""The embedded default's queue: a Dramatiq worker thread inside the web process.

Messages live in memory (StubBroker), so a restart drops them; that loses nothing
because the database is the source of truth: at start-up the recovery hook re-dispatches
unfinished jobs, and the sweep hook runs periodically for anything that slips through.
"""

from __future__ import annotations

import logging
import threading

import dramatiq
from django.conf import settings
from django.utils.module_loading import autodiscover_modules, import_string

logger = logging.getLogger(__name__)


def _run_hook(path: str) -> None:
    if not path:
        return
    try:
        import_string(path)()
    except Exception:  # a failing sweep must not take the web process down
        logger.exception("hook %s failed", path)


def _sweep_forever(stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        _run_hook(settings.SWEEP_HOOK)


def start_inprocess_worker(*, threads: int = 1, sweep_interval: float = 30.0) -> dramatiq.Worker:
    autodiscover_modules("tasks")  # registers every actor (and so declares its queue)
    worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=threads)
    worker.start()
    _run_hook(settings.RECOVERY_HOOK)
    stop = threading.Event()
    threading.Thread(
        target=_sweep_forever, args=(stop, sweep_interval), name="sweeper", daemon=True
    ).start()
    logger.info("in-process worker started with %d thread(s)", threads)
    return worker
