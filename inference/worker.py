"""Worker start-up: report which models this worker can run (a Dramatiq middleware)."""

from __future__ import annotations

import logging

from dramatiq import Middleware

logger = logging.getLogger(__name__)


class ModelAvailabilityReport(Middleware):
    """Before the worker takes messages, load every model (weights verified, engine built)
    and record in the database which ones it can run.

    Synchronous on purpose: a worker that consumed before its models were ready would only
    fail or delay jobs, and the first load (export, compilation, the int8 gate) is the cost
    a job would otherwise pay. Later starts reuse the cached exports.
    """

    def before_worker_boot(self, broker, worker) -> None:
        # Before: dramatiq starts consuming between before_ and after_worker_boot.
        from django.db import close_old_connections

        from inference.services import model_availability_report

        try:
            reports = model_availability_report()
        except Exception:  # the worker must still start; jobs then fail with the reason
            logger.exception("Could not report model availability")
            return
        finally:
            close_old_connections()
        ready = [r.model_version.name for r in reports if r.ready]
        logger.info("Models this worker can run: %s", ", ".join(ready) or "none")
