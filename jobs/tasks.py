"""Job actors. Messages carry the job id only; the database holds the state."""

from __future__ import annotations

import logging

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


def _run(job_id: str) -> None:
    try:
        services.job_run(job_id=job_id)
    except ModelUnavailable as exc:
        # Permanent: the same worker fails the same way on every attempt. Final at once,
        # one log line (no traceback), no retry.
        logger.error("job %s: failed, model unavailable (no retry): %s", job_id, exc)
        services.job_attempt_failed(job_id=job_id, error=MODEL_UNAVAILABLE_MESSAGE, final=True)
    except BaseException as exc:  # TimeLimitExceeded is a BaseException
        message = CurrentMessage.get_current_message()
        retries = message.options.get("retries", 0) if message else _RETRIES
        final = retries >= _RETRIES
        error = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        logger.warning("job %s: attempt failed (final=%s): %s", job_id, final, error)
        services.job_attempt_failed(job_id=job_id, error=error, final=final)
        raise


@dramatiq.actor(
    queue_name=QUEUE_JOBS,
    max_retries=_RETRIES,
    min_backoff=settings.JOB_RETRY_MIN_BACKOFF_MS,
    max_backoff=settings.RETRY_MAX_BACKOFF_MS,
    time_limit=_TIME_LIMIT_MS,
)
def job_run(job_id: str) -> None:
    _run(job_id)


@dramatiq.actor(
    queue_name=QUEUE_PREDICT,
    max_retries=_RETRIES,
    min_backoff=settings.JOB_RETRY_MIN_BACKOFF_MS,
    max_backoff=settings.RETRY_MAX_BACKOFF_MS,
    time_limit=_TIME_LIMIT_MS,
)
def predict_run(job_id: str) -> None:
    _run(job_id)


@dramatiq.actor(queue_name=QUEUE_DEFAULT, max_retries=0, time_limit=5 * 60 * 1000)
def jobs_sweep() -> None:
    """For a scheduler (EventBridge -> SQS, cron, ...) to trigger; ``manage.py sweep_jobs
    --loop`` does the same in a process of its own."""
    services.jobs_sweep()
