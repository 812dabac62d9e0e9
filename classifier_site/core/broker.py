"""Queue wiring: which Dramatiq broker runs, and with which safety settings.

Production and tests use SQS through dramatiq-sqs; the embedded default uses an
in-process StubBroker drained by a worker thread inside the web process.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.config import Config
from dramatiq import Middleware
from dramatiq.middleware import AgeLimit, Callbacks, CurrentMessage, Retries, TimeLimit
from dramatiq_sqs import SQSBroker

# Queues: the bulk job queue, and a small high-priority one for single-image predictions.
QUEUE_JOBS = "inference"
QUEUE_PREDICT = "predict"
QUEUE_DEFAULT = "default"

MAX_SQS_BACKOFF_MS = 15 * 60 * 1000


class RedrivingSQSBroker(SQSBroker):
    """SQSBroker whose queues carry a visibility timeout and a redrive policy.

    dramatiq-sqs creates the dead-letter queue but moves a message there only when the
    worker nacks it. A worker killed mid-message never nacks, so SQS itself must move the
    message after ``max_receives`` deliveries, or a poison message loops forever.
    """

    def __init__(self, *, max_receives: int = 3, **options: Any) -> None:
        self.max_receives = max_receives
        self._redrive_set: set[str] = set()
        super().__init__(**options)

    def _ensure_queue(self, queue_name: str) -> None:
        super()._ensure_queue(queue_name)
        if queue_name in self._redrive_set:
            return
        attributes: dict[str, str] = {}
        if self.visibility_timeout:
            attributes["VisibilityTimeout"] = str(self.visibility_timeout)
        if self.dead_letter:
            dlq = self.dead_letter_queues[queue_name]
            dlq_arn = dlq.attributes["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(self.max_receives)}
            )
        if attributes:
            self.queues[queue_name].set_attributes(Attributes=attributes)
        self._redrive_set.add(queue_name)

    def dead_letter_queue_url(self, queue_name: str) -> str:
        self._ensure_queue(queue_name)
        return self.dead_letter_queues[queue_name].url

    def queue_url(self, queue_name: str) -> str:
        self._ensure_queue(queue_name)
        return self.queues[queue_name].url


class WorkerMetricsServer(Middleware):
    """Serves the worker process's Prometheus registry (images classified, latency).

    Counters live in the process that classifies; the web's /metrics cannot see them in
    production. Each worker container runs one process, so one port per container.
    """

    def __init__(self, port: int) -> None:
        self.port = port

    def after_worker_boot(self, broker, worker) -> None:
        from prometheus_client import start_http_server

        start_http_server(self.port, addr="0.0.0.0")  # noqa: S104 - scraped from the VPC


def dramatiq_broker_settings(
    *,
    broker_url: str,
    sqs_endpoint_url: str,
    namespace: str,
    region: str,
    visibility_timeout: int,
    max_receives: int,
    max_backoff_ms: int,
    metrics_port: int = 0,
    extra_middleware: tuple[Any, ...] = (),
) -> dict[str, Any]:
    """Build django-dramatiq's DRAMATIQ_BROKER setting from plain values."""
    if max_backoff_ms > MAX_SQS_BACKOFF_MS:
        # SQS cannot delay a message longer than 15 minutes; a larger retry delay would
        # make dramatiq-sqs raise on enqueue and the retry would be lost.
        raise ValueError("max_backoff_ms must be at most 900000 (15 minutes) on SQS")
    middleware = [
        AgeLimit(),
        TimeLimit(),
        Callbacks(),
        CurrentMessage(),
        Retries(min_backoff=5_000, max_backoff=max_backoff_ms, max_retries=3),
        "django_dramatiq.middleware.DbConnectionsMiddleware",
    ]
    if metrics_port:
        middleware.append(WorkerMetricsServer(metrics_port))
    middleware.extend(extra_middleware)
    if not broker_url:
        return {
            "BROKER": "dramatiq.brokers.stub.StubBroker",
            "OPTIONS": {},
            "MIDDLEWARE": middleware,
        }
    if not broker_url.startswith("sqs://"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"BROKER_URL={broker_url!r}: only sqs:// is supported.")
    options: dict[str, Any] = {
        # Short connect timeout and few retries: an unreachable queue must fail a send (the
        # job then waits as pending for the sweeper) instead of hanging the web request.
        # The read timeout stays above SQS's 20 s long poll.
        "config": Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 2}),
        "namespace": namespace,
        "dead_letter": True,
        "visibility_timeout": visibility_timeout,
        "max_receives": max_receives,
        "region_name": region,
    }
    if sqs_endpoint_url:
        options["endpoint_url"] = sqs_endpoint_url
    return {
        "BROKER": "classifier_site.core.broker.RedrivingSQSBroker",
        "OPTIONS": options,
        "MIDDLEWARE": middleware,
    }
