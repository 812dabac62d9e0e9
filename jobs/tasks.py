"""Job actors. Messages carry a shard id only; the database holds the state."""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from django.conf import settings
from dramatiq.middleware import CurrentMessage

from classifier_site.core.broker import QUEUE_DEFAULT, QUEUE_JOBS, QUEUE_PREDICT
from inference.errors import ModelUnavailable
from jobs import services

logger = logging.getLogger(__name__)

# Attempts = first delivery + retries; the same number as the queue's redrive policy,
# so a message that always raises and one that kills its worker both stop at 3.
_RETRIES = max(settings.JOB_MAX_ATTEMPTS - 1, 0)
_TIME_LIMIT_MS = settings.JOB_TIME_LIMIT_SECONDS * 1000


# Said to users when the worker cannot run the job's model (weights missing or refused):
# plain words, no server paths; the full reason goes to the log for staff.
MODEL_UNAVAILABLE_MESSAGE = (
    "The model for this job is not available on the workers (its weights are missing or "
    "failed verification). Retrying would not help; an administrator must fix the model."
)


def _retry_when(retries: int, exc: BaseException) -> bool:
    # A transient failure (raised as dramatiq.Retry below) retries until the dependency is
    # back; anything else has JOB_MAX_ATTEMPTS in all.
    return isinstance(exc, dramatiq.Retry) or retries < _RETRIES


def _transient_delay_ms(retries: int) -> int:
    return int(min(settings.JOB_TRANSIENT_MAX_BACKOFF_MS, 1000 * 2 ** min(retries, 15)))


def _run(shard_id: int) -> None:
    try:
        services.shard_run(shard_id=shard_id)
    except ModelUnavailable as exc:
        # Permanent: the same worker fails the same way on every attempt. Final at once,
        # one log line (no traceback), no retry.
        logger.error("shard %s: failed, model unavailable (no retry): %s", shard_id, exc)
        services.shard_attempt_failed(
            shard_id=shard_id, error=MODEL_UNAVAILABLE_MESSAGE, final=True
        )
    except BaseException as exc:  # TimeLimitExceeded is a BaseException
        message = CurrentMessage.get_current_message()
        retries = message.options.get("retries", 0) if message else _RETRIES
        error = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        if services.is_transient(exc):
            # Not the images' fault and not an attempt: wait for the dependency to return.
            logger.warning("shard %s: transient failure, retrying: %s", shard_id, error)
            services.shard_transient_failure(shard_id=shard_id, error=error)
            raise dramatiq.Retry(error, delay=_transient_delay_ms(retries)) from exc
        final = retries >= _RETRIES
        logger.warning("shard %s: attempt failed (final=%s): %s", shard_id, final, error)
        services.shard_attempt_failed(shard_id=shard_id, error=error, final=final)
        raise


_OPTIONS: dict[str, Any] = {
    "max_retries": _RETRIES,
    "retry_when": _retry_when,
    "min_backoff": settings.JOB_RETRY_MIN_BACKOFF_MS,
    "max_backoff": settings.RETRY_MAX_BACKOFF_MS,
    "time_limit": _TIME_LIMIT_MS,
}


@dramatiq.actor(queue_name=QUEUE_JOBS, **_OPTIONS)
def shard_run(shard_id: int) -> None:
    _run(shard_id)


@dramatiq.actor(queue_name=QUEUE_PREDICT, **_OPTIONS)
def predict_shard_run(shard_id: int) -> None:
    _run(shard_id)


@dramatiq.actor(queue_name=QUEUE_JOBS, max_retries=0, time_limit=60_000)
def job_run(job_id: str) -> None:
    """A message from before sharding (a rolling deploy): send the job's shards."""
    services.job_dispatch(job_id=job_id)


@dramatiq.actor(queue_name=QUEUE_DEFAULT, max_retries=0, time_limit=5 * 60 * 1000)
def jobs_sweep() -> None:
    """For a scheduler (EventBridge -> SQS, cron, ...) to trigger; ``manage.py sweep_jobs
    --loop`` does the same in a process of its own."""
    services.jobs_sweep()
