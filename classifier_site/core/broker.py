"""Queue wiring: which Dramatiq broker runs, and with which safety settings.

Production and tests use SQS through dramatiq-sqs; the embedded default uses an
in-process StubBroker drained by a worker thread inside the web process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dramatiq
from botocore.config import Config
from django.core.exceptions import ImproperlyConfigured
from dramatiq import Middleware
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, CurrentMessage, Retries, TimeLimit
from dramatiq_sqs import SQSBroker
from dramatiq_sqs.broker import SQSConsumer

logger = logging.getLogger(__name__)

# Set when this worker process starts shutting down (SIGTERM): long-running actors check
# it between units of work and hand the rest back instead of being killed mid-way.
worker_stopping = threading.Event()

# Monotonic time of this process's last poll of the queue (any consumer), for liveness.
_last_poll = [time.monotonic()]

# Queues: the bulk job queue, and a small high-priority one for single-image predictions.
QUEUE_JOBS = "inference"
QUEUE_PREDICT = "predict"
QUEUE_DEFAULT = "default"

MAX_SQS_BACKOFF_MS = 15 * 60 * 1000


class AckSafeSQSConsumer(SQSConsumer):
    """dramatiq-sqs's consumer with its acknowledgement bug fixed.

    Upstream ``ack``/``nack`` delete the SQS message *before* lowering ``message_refc``.
    When the delete raises (SQS unreachable at that moment), the count is never lowered;
    Dramatiq's worker logs "You've found a bug in Dramatiq" and moves on, and a consumer
    with prefetch 1 then believes it still holds a message and never receives again: the
    process stays alive and idle forever. Here the count is lowered whatever the delete
    does. A failed delete loses nothing: the message comes back after its visibility
    timeout and its shard, already done, is skipped.
    """

    def _settle(self, action: str, step) -> None:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - any failure: log it, keep consuming
            logger.warning("could not %s an SQS message (it will be redelivered): %s", action, exc)
        finally:
            self.message_refc: int = max(self.message_refc - 1, 0)

    def ack(self, message) -> None:
        self._settle("acknowledge", message._sqs_message.delete)

    def nack(self, message) -> None:
        def dead_letter_then_delete() -> None:
            if self.dead_letter_queue is not None:
                self.dead_letter_queue.send_message(MessageBody=message._sqs_message.body)
            message._sqs_message.delete()

        self._settle("reject", dead_letter_then_delete)

    def __next__(self):
        if not self.messages and self.message_refc < self.prefetch:
            _last_poll[0] = time.monotonic()  # about to ask SQS for more
        return super().__next__()


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

    @property
    def consumer_class(self):
        return AckSafeSQSConsumer

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

    def queue_depth(self, queue_name: str) -> QueueDepth:
        self.declare_queue(queue_name)
        self._ensure_queue(queue_name)
        queue = self.queues[queue_name]
        queue.load()
        return QueueDepth(
            waiting=int(queue.attributes["ApproximateNumberOfMessages"]),
            in_flight=int(queue.attributes["ApproximateNumberOfMessagesNotVisible"]),
        )


@dataclass(frozen=True)
class QueueDepth:
    waiting: int
    in_flight: int | None  # None where the broker cannot tell (the in-process queue)


def queue_depth(queue_name: str, broker: dramatiq.Broker | None = None) -> QueueDepth:
    """Messages waiting in and in flight on a queue of the running broker.

    Raises whatever the queue service raises when it is unreachable (health uses that).
    """
    broker = broker or dramatiq.get_broker()
    if isinstance(broker, RedrivingSQSBroker):
        return broker.queue_depth(queue_name)
    if isinstance(broker, StubBroker):
        broker.declare_queue(queue_name)
        return QueueDepth(waiting=broker.queues[queue_name].qsize(), in_flight=None)
    raise TypeError(f"queue depth is unknown for {type(broker).__name__}")


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


class GracefulShutdown(Middleware):
    """Raises ``worker_stopping`` as soon as the worker begins to shut down (SIGTERM), so
    a shard in progress hands its remaining images back after the current batch."""

    def before_worker_shutdown(self, broker, worker) -> None:
        worker_stopping.set()


class LivenessFile(Middleware):
    """Touches a file every few seconds while the worker is healthy, for a liveness probe
    (``test $(( $(date +%s) - $(stat -c %Y FILE) )) -lt 60``).

    Healthy: a consumer polled the queue within the last minute, or a message is being
    processed (a busy worker with prefetch 1 does not poll). A process whose consumers
    stopped asking for messages stops touching the file and is restarted.
    """

    def __init__(self, path: str, *, max_idle_seconds: float = 60.0) -> None:
        self.path = Path(path)
        self.max_idle = max_idle_seconds
        self._busy = 0
        self._lock = threading.Lock()

    def before_process_message(self, broker, message) -> None:
        with self._lock:
            self._busy += 1

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        with self._lock:
            self._busy -= 1

    def after_skip_message(self, broker, message) -> None:
        self.after_process_message(broker, message)

    def healthy(self) -> bool:
        return self._busy > 0 or time.monotonic() - _last_poll[0] < self.max_idle

    def after_worker_boot(self, broker, worker) -> None:
        def touch_forever() -> None:
            while not worker_stopping.is_set():
                if self.healthy():
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    # The content says whether a message is in progress (a scaler
                    # removes idle workers only).
                    self.path.write_text(f"busy={self._busy}\n")
                time.sleep(2)

        threading.Thread(target=touch_forever, name="liveness", daemon=True).start()


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
    liveness_file: str = "",
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
        GracefulShutdown(),
    ]
    if metrics_port:
        middleware.append(WorkerMetricsServer(metrics_port))
    if liveness_file:
        middleware.append(LivenessFile(liveness_file))
    middleware.extend(extra_middleware)
    if not broker_url:
        return {
            "BROKER": "dramatiq.brokers.stub.StubBroker",
            "OPTIONS": {},
            "MIDDLEWARE": middleware,
        }
    if not broker_url.startswith("sqs://"):
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
