"""Prometheus metrics for jobs.

- Counters and the latency histogram are updated by worker code as images finish.
  They live in the worker process: expose them from there (prometheus_client's
  ``start_http_server`` or multiprocess mode); the embedded mode's worker thread shares
  the web process's registry, so /metrics shows them.
- Gauges (jobs by status, queue depth) are computed at scrape time by ``JobsCollector``,
  registered once in ``JobsConfig.ready`` via ``register_collector()``: they are true for
  the whole cluster, whichever web process is scraped.
"""

from __future__ import annotations

import logging
import threading

from django.db.models import Count
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from classifier_site.core.broker import QUEUE_JOBS, QUEUE_PREDICT, queue_depth
from jobs.models import Job, JobStatus

logger = logging.getLogger(__name__)

IMAGES_CLASSIFIED = Counter(
    "classifier_job_images_total",
    "Images finished by job workers, by job type and outcome.",
    ["job_type", "outcome"],
)
IMAGE_LATENCY = Histogram(
    "classifier_job_image_seconds",
    "Per-image classification time reported by the inference engine.",
    ["job_type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
JOBS_FINISHED = Counter(
    "classifier_jobs_finished_total", "Jobs that reached a terminal state.", ["job_type", "status"]
)


def image_done(job_type: str, outcome: str, elapsed_ms: float) -> None:
    IMAGES_CLASSIFIED.labels(job_type=job_type, outcome=str(outcome)).inc()
    IMAGE_LATENCY.labels(job_type=job_type).observe(max(elapsed_ms, 0.0) / 1000.0)


def job_finished(job_type: str, status: str) -> None:
    JOBS_FINISHED.labels(job_type=job_type, status=str(status)).inc()


class JobsCollector:
    """Scrape-time gauges from the database and the broker."""

    def describe(self):
        # Lets the registry learn the names without running collect() at registration
        # (that would query the database during app loading).
        yield GaugeMetricFamily("classifier_jobs", "Jobs by status.", labels=["status"])
        yield GaugeMetricFamily(
            "classifier_queue_messages", "Queue depth.", labels=["queue", "state"]
        )

    def collect(self):
        by_status = GaugeMetricFamily(
            "classifier_jobs", "Jobs by status (all users).", labels=["status"]
        )
        try:
            counts = dict(Job.objects.order_by().values_list("status").annotate(n=Count("id")))
        except Exception:  # a scrape must not fail because the database blinked
            logger.warning("jobs collector: database unavailable", exc_info=True)
            counts = {}
        for status in JobStatus.values:
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status

        depth = GaugeMetricFamily(
            "classifier_queue_messages",
            "Messages waiting in (visible) and in flight on (invisible) each queue.",
            labels=["queue", "state"],
        )
        for queue, state, value in _queue_depths():
            depth.add_metric([queue, state], value)
        yield depth


def _queue_depths():
    for name in (QUEUE_JOBS, QUEUE_PREDICT):
        try:
            depth = queue_depth(name)
            yield name, "waiting", depth.waiting
            if depth.in_flight is not None:
                yield name, "in_flight", depth.in_flight
        except Exception:
            logger.warning("jobs collector: queue %s unavailable", name, exc_info=True)


_registered = False
_lock = threading.Lock()


def register_collector(registry=REGISTRY) -> None:
    """Register ``JobsCollector`` once per process (a second call is a no-op)."""
    global _registered
    with _lock:
        if _registered:
            return
        registry.register(JobsCollector())
        _registered = True
