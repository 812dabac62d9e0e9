"""How jobs run: shards, dispatch, the worker side, the sweeper (re-exported by services).

A job's images are split into shards of JOB_SHARD_SIZE; each shard is one queue message
carrying only its id, so any number of workers share one job. The database is the source
of truth: every state change is a conditional UPDATE, so repeated or concurrent deliveries
only move things forward, a result row is written once (pending -> done), and the job
completes when its last shard does (one conditional UPDATE, whoever finishes last).

Errors come in two kinds. An image's own problem (cannot be decoded, its file is gone)
fails that image with the reason. Anything else that is not the image's fault (database,
storage or queue unreachable) is *transient*: the shard is retried with backoff and no
image is failed for it (see ``is_transient``).
"""

from __future__ import annotations

import io
import logging
import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, BinaryIO

from django.conf import settings
from django.core.files.storage import storages
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import Case, Count, Exists, F, Field, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from classifier_site.core.broker import worker_stopping
from inference import services as inference
from inference.types import ImageInput, ImageOutcome
from jobs import metrics
from jobs.models import (
    ACTIVE_STATUSES,
    SHARD_ACTIVE,
    TERMINAL_STATUSES,
    ItemStatus,
    Job,
    JobImage,
    JobShard,
    JobSource,
    JobStatus,
    ShardStatus,
)

logger = logging.getLogger(__name__)

DONE_ITEMS = (ItemStatus.CLASSIFIED, ItemStatus.UNKNOWN, ItemStatus.FAILED)


# --- errors ------------------------------------------------------------------------------


class TransientError(Exception):
    """A dependency (storage, database, queue) failed; the work is retried, nothing failed."""


def is_transient(exc: BaseException) -> bool:
    """True for failures of the environment rather than of the image or the code."""
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from dramatiq.errors import BrokerConnectionError

    if isinstance(
        exc,
        TransientError
        | OperationalError
        | InterfaceError
        | BotoConnectionError
        | HTTPClientError
        | BrokerConnectionError
        | ConnectionError
        | TimeoutError,
    ):
        return True
    if isinstance(exc, ClientError):
        response: dict[str, Any] = exc.response  # type: ignore[assignment]
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = response.get("Error", {}).get("Code", "")
        return status >= 500 or code in {"SlowDown", "Throttling", "RequestTimeout"}
    return False


_URL = re.compile(r"[\"']?\b(?:https?|s3)://[^\s\"'<>]+[\"']?")
_OBJECT = re.compile(r"<[^<>]* at 0x[0-9a-f]+>")


def user_error(text: str) -> str:
    """An error as people see it: no internal endpoints, keys or object addresses."""
    return _OBJECT.sub("the file", _URL.sub("(storage)", text)).strip()[:5000]


# --- storage reads -----------------------------------------------------------------------


def _image_bytes(key: str) -> bytes:
    """The stored file's bytes in one request.

    Through django-storages, ``open().read()`` costs two HEADs and a GET per image; one
    ``get_object`` is 3.6x faster, and storage reads were a large part of a job's time.
    """
    storage = storages["default"]
    bucket = getattr(storage, "bucket_name", None)
    if not bucket:
        with storage.open(key, "rb") as fh:
            return fh.read()
    from botocore.exceptions import ClientError

    # _normalize_name applies the storage's location prefix, as its own reads do.
    name = storage._normalize_name(key)  # type: ignore[attr-defined]
    try:
        response = storage.connection.meta.client.get_object(  # type: ignore[attr-defined]
            Bucket=bucket, Key=name
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
            raise FileNotFoundError(key) from None
        raise
    return response["Body"].read()


class _Reader:
    """Opens images for ``inference.classify`` and remembers transient read failures.

    classify turns any exception while opening an image into that image's error; a
    storage outage is not the image's fault, so its content hash is noted here and the
    runner retries the shard instead of recording a failure.
    """

    def __init__(self) -> None:
        self.transient: dict[str, BaseException] = {}

    def open(self, key: str, content_hash: str) -> BinaryIO:
        try:
            return io.BytesIO(_image_bytes(key))
        except FileNotFoundError:
            raise ValueError("the stored file is missing") from None
        except Exception as exc:
            if is_transient(exc):
                self.transient[content_hash] = exc
                raise ValueError("storage unreachable") from exc
            raise ValueError(user_error(str(exc)) or type(exc).__name__) from exc


# --- counts and completion ----------------------------------------------------------------


def recount(job_id) -> dict[str, int]:
    """Set the job's counters from its rows (exact; the runner increments them per batch)."""
    counts = Counter(
        dict(
            JobImage.objects.filter(job_id=job_id)
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
    )
    values = {
        "classified": counts[ItemStatus.CLASSIFIED],
        "unknown": counts[ItemStatus.UNKNOWN],
        "failed": counts[ItemStatus.FAILED],
    }
    values["processed"] = sum(values.values())
    values["canceled"] = counts[ItemStatus.CANCELED]
    Job.objects.filter(pk=job_id).update(**values)
    return values


def job_finish_if_done(*, job_id) -> str | None:
    """Complete (or fail) the job once no shard is active. Called by whoever finished a
    shard; when several finish at once, the conditional UPDATE lets exactly one win."""
    active = JobShard.objects.filter(job_id=OuterRef("pk"), status__in=SHARD_ACTIVE)
    if JobShard.objects.filter(job_id=job_id, status__in=SHARD_ACTIVE).exists():
        return None
    counts = recount(job_id)
    job = Job.objects.filter(pk=job_id).only("id", "total", "job_type").first()
    if job is None:
        return None
    every_image_failed = job.total > 0 and counts["failed"] == job.total
    status = JobStatus.FAILED if every_image_failed else JobStatus.COMPLETED
    reason = ""
    if every_image_failed:
        shard_error = (
            JobShard.objects.filter(job_id=job_id, status=ShardStatus.FAILED)
            .exclude(error_message="")
            .values_list("error_message", flat=True)
            .first()
        )
        first = job_items_first_error(job_id)
        reason = shard_error or (
            f"Every image failed; the first: {first}" if first else "Every image failed."
        )
    now = timezone.now()
    moved = (
        Job.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES)
        .filter(~Exists(active))
        .update(status=status, error_message=reason, completed_at=now, updated_at=now)
    )
    if not moved:
        return None
    logger.info("job %s: %s", job_id, status)
    metrics.job_finished(job.job_type, status)
    return status


def job_items_first_error(job_id) -> str:
    return (
        JobImage.objects.filter(job_id=job_id, status=ItemStatus.FAILED)
        .exclude(error="")
        .order_by("position")
        .values_list("error", flat=True)
        .first()
        or ""
    )


# --- creating shards and dispatching them ---------------------------------------------------


def shards_create(*, job: Job, item_ids: Sequence[int]) -> list[JobShard]:
    """Split the job's rows (in position order) into shards; the caller's transaction."""
    size = settings.JOB_SHARD_SIZE
    chunks = [item_ids[i : i + size] for i in range(0, len(item_ids), size)] or [[]]
    shards = JobShard.objects.bulk_create(
        JobShard(job=job, index=n, size=len(chunk)) for n, chunk in enumerate(chunks)
    )
    for shard, chunk in zip(shards, chunks, strict=True):
        JobImage.objects.filter(pk__in=chunk).update(shard=shard)
    return shards


def _shards_send(*, job_id, source: str, shard_ids: Iterable[int]) -> list[int]:
    """Send one message per shard; stops at the first failed send (the queue is down: the
    rest wait for the sweeper). Marks what was sent. Never raises for the queue."""
    from jobs import tasks  # the actors call these services: a cycle, broken here

    actor = tasks.predict_shard_run if source == JobSource.PREDICT else tasks.shard_run
    sent: list[int] = []
    for shard_id in shard_ids:
        try:
            actor.send(shard_id)
        except Exception:  # any broker/network error: the shard stays as it is
            logger.warning(
                "could not enqueue shard %s of job %s; the sweeper will retry",
                shard_id,
                job_id,
                exc_info=True,
            )
            break
        sent.append(shard_id)
    if sent:
        now = timezone.now()
        JobShard.objects.filter(pk__in=sent).update(
            status=Case(
                When(status=ShardStatus.PENDING, then=Value(ShardStatus.QUEUED)),
                default=F("status"),
            ),
            dispatched_at=now,
            updated_at=now,
        )
        Job.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES).update(
            status=Case(
                When(status=JobStatus.PENDING, then=Value(JobStatus.QUEUED)),
                default=F("status"),
            ),
            queued_at=Coalesce(F("queued_at"), now),
            dispatched_at=now,
            updated_at=now,
        )
    return sent


def job_dispatch(*, job_id) -> bool:
    """Send the messages of the job's pending shards. Never raises: what could not be sent
    stays pending for the sweeper. True when every pending shard was sent."""
    job = Job.objects.filter(pk=job_id).only("id", "source", "status").first()
    if job is None or job.status in TERMINAL_STATUSES:
        return False
    pending = list(
        JobShard.objects.filter(job_id=job_id, status=ShardStatus.PENDING)
        .order_by("index")
        .values_list("pk", flat=True)
    )
    if not pending:
        return False
    return len(_shards_send(job_id=job_id, source=job.source, shard_ids=pending)) == len(pending)


# Sends run outside the request: a submit answers at once whatever the queue does (an
# unreachable queue whose packets are dropped takes a minute to fail a send). Bounded: when
# the queue is that slow, excess jobs simply stay pending for the sweeper.
_SENDERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="job-dispatch")
_SEND_SLOTS = threading.BoundedSemaphore(200)


def _dispatch_in_background(job_id) -> None:
    try:
        job_dispatch(job_id=job_id)
    except Exception:  # the database may be gone too; the sweeper sends it later
        logger.warning("background dispatch of job %s failed", job_id, exc_info=True)
    finally:
        _SEND_SLOTS.release()
        connection.close()  # this thread's own connection


def job_dispatch_soon(job_id) -> None:
    """After commit: send the job's shards from a background thread (the in-process queue
    needs no network, so it sends at once)."""
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    if isinstance(dramatiq.get_broker(), StubBroker):
        job_dispatch(job_id=job_id)
        return
    if not _SEND_SLOTS.acquire(blocking=False):
        logger.warning("dispatch backlog full; job %s waits for the sweeper", job_id)
        return
    _SENDERS.submit(_dispatch_in_background, job_id)


# --- the worker side ---------------------------------------------------------------------


def _lease_expired(now) -> Q:
    return Q(heartbeat_at__isnull=True) | Q(
        heartbeat_at__lt=now - timedelta(seconds=settings.JOB_LEASE_SECONDS)
    )


def _shard_claim(shard_id: int) -> tuple[JobShard, uuid.UUID] | None:
    """Take the shard's lease (attempt counted) unless a live worker holds it or it is done."""
    now = timezone.now()
    token = uuid.uuid4()
    # Conditions on the shard row only: PostgreSQL re-checks those against the row's
    # latest version when concurrent claims queue on its lock; a join or subquery would
    # be judged on the statement's snapshot and let several claims through.
    claimed = (
        JobShard.objects.filter(pk=shard_id)
        .filter(
            Q(status__in=(ShardStatus.PENDING, ShardStatus.QUEUED))
            | (Q(status=ShardStatus.PROCESSING) & _lease_expired(now))
        )
        .update(
            status=ShardStatus.PROCESSING,
            lease_token=token,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            started_at=Coalesce(F("started_at"), now),
            updated_at=now,
        )
    )
    if not claimed:
        return None
    if not Job.objects.filter(
        pk=JobShard.objects.filter(pk=shard_id).values("job_id")[:1],
        status__in=ACTIVE_STATUSES,
    ).exists():
        # The job was canceled (or its shard was left behind): nothing to do.
        JobShard.objects.filter(pk=shard_id, lease_token=token).update(
            status=ShardStatus.CANCELED, lease_token=None, heartbeat_at=None, updated_at=now
        )
        return None
    shard = JobShard.objects.get(pk=shard_id)
    Job.objects.filter(pk=shard.job_id, status__in=ACTIVE_STATUSES).update(
        status=JobStatus.PROCESSING,
        queued_at=Coalesce(F("queued_at"), now),
        started_at=Coalesce(F("started_at"), now),
        attempts=Greatest(F("attempts"), Value(shard.attempts)),
        updated_at=now,
    )
    return shard, token


def _shard_heartbeat(shard_id: int, token: uuid.UUID) -> bool:
    """Refresh the lease; False when it is no longer ours (job canceled, lease lost)."""
    now = timezone.now()
    return bool(
        JobShard.objects.filter(
            pk=shard_id, lease_token=token, status=ShardStatus.PROCESSING
        ).update(heartbeat_at=now, updated_at=now)
    )


class _Heartbeat:
    """Refreshes the lease every JOB_HEARTBEAT_SECONDS while a batch runs, so a short lease
    never expires under a slow batch. Its own thread, its own database connection."""

    def __init__(self, shard_id: int, token: uuid.UUID) -> None:
        self.shard_id, self.token = shard_id, token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shard-heartbeat", daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.wait(settings.JOB_HEARTBEAT_SECONDS):
                try:
                    if not _shard_heartbeat(self.shard_id, self.token):
                        return
                except Exception:  # database away: the batch loop notices it too
                    logger.warning("heartbeat of shard %s failed", self.shard_id, exc_info=True)
                    close_old_connections()
        finally:
            connection.close()

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _outcome_fields(job: Job, outcome: ImageOutcome, now) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "processing_ms": round(outcome.elapsed_ms, 3),
        "from_cache": outcome.from_cache,
        "completed_at": now,
        "top_label": "",
        "top_score": None,
        "predictions": [],
        "error": "",
    }
    if outcome.error or not outcome.predictions:
        fields.update(status=ItemStatus.FAILED, error=user_error(outcome.error or "no prediction"))
        return fields
    best = outcome.predictions[0]
    fields.update(
        status=(
            ItemStatus.CLASSIFIED if best.score >= job.confidence_threshold else ItemStatus.UNKNOWN
        ),
        top_label=best.label[:200],
        top_score=float(best.score),
        predictions=[
            {"label": p.label, "score": round(float(p.score), 6)} for p in outcome.predictions
        ],
    )
    return fields


def _record(job: Job, shard_id: int, rows: dict[int, dict[str, Any]]) -> int:
    """Write a batch's results in one UPDATE; only rows still pending are written, so a
    redelivery never rewrites a result. The job's counters move by what was written."""
    if not rows:
        return 0
    from django.db.models import JSONField

    with transaction.atomic():
        writable = list(
            JobImage.objects.select_for_update()
            .filter(pk__in=list(rows), shard_id=shard_id, status=ItemStatus.PENDING)
            .values_list("pk", flat=True)
        )
        if not writable:
            return 0
        names = list(next(iter(rows.values())))
        updates: dict[str, Any] = {}
        for name in names:
            field = JobImage._meta.get_field(name)
            output = JSONField() if name == "predictions" else field
            assert isinstance(output, Field)
            updates[name] = Case(
                *[When(pk=pk, then=Value(rows[pk][name], output_field=output)) for pk in writable],
                default=F(name),
                output_field=output,
            )
        JobImage.objects.filter(pk__in=writable).update(**updates)
        counts = Counter(rows[pk]["status"] for pk in writable)
        Job.objects.filter(pk=job.pk).update(
            processed=F("processed") + len(writable),
            classified=F("classified") + counts[ItemStatus.CLASSIFIED],
            unknown=F("unknown") + counts[ItemStatus.UNKNOWN],
            failed=F("failed") + counts[ItemStatus.FAILED],
            updated_at=timezone.now(),
        )
    for pk in writable:
        metrics.image_done(job.job_type, rows[pk]["status"], rows[pk]["processing_ms"] or 0.0)
    return len(writable)


def _shard_release(
    shard_id: int, token: uuid.UUID | None, *, error: str = "", counted: bool = True
) -> bool:
    """Give the lease up so a retry or another worker can claim at once. ``counted=False``
    (transient error, hand-back at shutdown): the attempt does not count."""
    filters = Q(pk=shard_id, status=ShardStatus.PROCESSING)
    if token is not None:
        filters &= Q(lease_token=token)
    fields: dict[str, Any] = {
        "status": ShardStatus.QUEUED,
        "lease_token": None,
        "heartbeat_at": None,
        "updated_at": timezone.now(),
    }
    if error:
        fields["error_message"] = user_error(error)
    if not counted:
        fields["attempts"] = Greatest(F("attempts") - 1, Value(0))
    return bool(JobShard.objects.filter(filters).update(**fields))


def _shard_hand_back(shard: JobShard, token: uuid.UUID, source: str) -> None:
    """Shutting down: the rest of the shard goes back to the queue now, not after a lease."""
    if _shard_release(shard.pk, token, counted=False):
        JobShard.objects.filter(pk=shard.pk, status=ShardStatus.QUEUED).update(
            status=ShardStatus.PENDING
        )
        _shards_send(job_id=shard.job_id, source=source, shard_ids=[shard.pk])


def shard_fail(*, shard_id: int, reason: str, from_statuses: Sequence[str] = SHARD_ACTIVE) -> bool:
    """The shard gives up: its unfinished images fail with the reason; the job finishes if
    it was the last active shard."""
    reason = user_error(reason)
    now = timezone.now()
    with transaction.atomic():
        moved = JobShard.objects.filter(pk=shard_id, status__in=from_statuses).update(
            status=ShardStatus.FAILED,
            error_message=reason,
            completed_at=now,
            lease_token=None,
            heartbeat_at=None,
            updated_at=now,
        )
        if not moved:
            return False
        JobImage.objects.filter(shard_id=shard_id, status=ItemStatus.PENDING).update(
            status=ItemStatus.FAILED, error=reason, completed_at=now
        )
    job_id = JobShard.objects.values_list("job_id", flat=True).get(pk=shard_id)
    recount(job_id)
    job_finish_if_done(job_id=job_id)
    return True


def shard_attempt_failed(*, shard_id: int, error: str, final: bool) -> None:
    """An attempt raised. Final: fail the shard with the error. Else release the lease so
    the retry (a new message, after a backoff) can claim it at once."""
    if final:
        shard_fail(shard_id=shard_id, reason=error)
    else:
        _shard_release(shard_id, None, error=error)


def shard_transient_failure(*, shard_id: int, error: str) -> None:
    """Storage, database or queue failed: release without counting the attempt. Best
    effort (the database may be the thing that is down; the lease then just expires)."""
    try:
        _shard_release(shard_id, None, error=error, counted=False)
    except Exception:
        logger.warning("could not release shard %s: %s", shard_id, error)
        close_old_connections()


def shard_run(*, shard_id: int) -> str:
    """Process one delivery of a shard's message. Safe to call any number of times, also
    concurrently: only the holder of the lease works, done images are skipped. Raises
    TransientError (or the database's error) when the environment failed."""
    claim = _shard_claim(shard_id)
    if claim is None:
        logger.info("shard %s: not claimable (finished, canceled or held)", shard_id)
        return "skipped"
    shard, token = claim
    job = Job.objects.select_related("model_version").get(pk=shard.job_id)
    if shard.attempts > settings.JOB_MAX_ATTEMPTS:
        shard_fail(shard_id=shard_id, reason=f"Gave up after {shard.attempts - 1} attempts.")
        return "failed"

    items = list(
        JobImage.objects.filter(shard_id=shard_id, status=ItemStatus.PENDING)
        .order_by("position")
        .values_list("pk", "image_id", "key", "content_hash")
    )
    now = timezone.now()
    gone = [pk for pk, image_id, _, _ in items if image_id is None]
    if gone:
        failed = {"error": "The image was deleted before it was classified."}
        _record(
            job,
            shard_id,
            {
                pk: {
                    "status": ItemStatus.FAILED,
                    "processing_ms": None,
                    "completed_at": now,
                    **failed,
                }
                for pk in gone
            },
        )
    reader = _Reader()

    def opener(key: str, content_hash: str):
        return lambda: reader.open(key, content_hash)

    inputs = [
        ImageInput(
            key=str(pk),
            content_hash=content_hash,
            open=opener(key, content_hash),
        )
        for pk, image_id, key, content_hash in items
        if image_id is not None
    ]
    hashes = {int(i.key): i.content_hash for i in inputs}
    if inputs:
        with _Heartbeat(shard_id, token):
            batches = inference.classify(
                model_version=job.model_version,
                inputs=inputs,
                labels=job.labels if job.is_custom else None,
                top_k=job.top_k,
            )
            for outcomes in batches:
                now = timezone.now()
                rows = {
                    int(o.key): _outcome_fields(job, o, now)
                    for o in outcomes
                    if hashes[int(o.key)] not in reader.transient
                }
                _record(job, shard_id, rows)
                if reader.transient:
                    first = next(iter(reader.transient.values()))
                    raise TransientError(f"storage unreachable: {type(first).__name__}")
                if not _shard_heartbeat(shard_id, token):
                    logger.info("shard %s: stopped between batches (canceled)", shard_id)
                    return "canceled"
                if worker_stopping.is_set():
                    _shard_hand_back(shard, token, job.source)
                    logger.info("shard %s: handed back (worker shutting down)", shard_id)
                    return "handed back"
    now = timezone.now()
    done = JobShard.objects.filter(
        pk=shard_id, lease_token=token, status=ShardStatus.PROCESSING
    ).update(
        status=ShardStatus.COMPLETED,
        lease_token=None,
        heartbeat_at=None,
        completed_at=now,
        error_message="",
        updated_at=now,
    )
    if not done:
        return "superseded"
    logger.info("shard %s completed (job %s)", shard_id, job.pk)
    job_finish_if_done(job_id=job.pk)
    return "completed"


def job_run(*, job_id) -> str:
    """Every shard of the job in this process, one after another (tests, benchmarks).

    Returns the job's status when this call did any work, else "skipped"."""
    results = [
        shard_run(shard_id=shard_id)
        for shard_id in JobShard.objects.filter(job_id=job_id)
        .order_by("index")
        .values_list("pk", flat=True)
    ]
    if all(result == "skipped" for result in results):
        return "skipped"
    return Job.objects.values_list("status", flat=True).get(pk=job_id)


# --- the sweeper ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    redispatched: list[uuid.UUID]  # jobs with at least one shard re-sent
    failed: list[uuid.UUID]  # jobs with a shard failed (its worker died too often)
    finished: list[uuid.UUID]  # jobs whose last shard ended without finishing the job


def jobs_sweep() -> SweepResult:
    """Re-send shards no worker holds; fail those whose workers died too often.

    - pending longer than JOB_PENDING_GRACE_SECONDS (the send failed or never ran);
    - queued, unclaimed JOB_QUEUED_RESEND_SECONDS after its last send (the message was
      lost: queue server restarted, dead-lettered while the database was down);
    - processing with an expired lease (the worker was killed or lost its connection):
      re-sent, or failed once it has used JOB_MAX_ATTEMPTS.
    Also finishes jobs whose shards all ended (a worker died between the two updates).
    Safe to run from many processes at once: a duplicate message is harmless.
    """
    now = timezone.now()
    grace = timedelta(seconds=settings.JOB_PENDING_GRACE_SECONDS)
    resend = timedelta(seconds=settings.JOB_QUEUED_RESEND_SECONDS)
    not_recently_sent = Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - grace)
    stale = (
        JobShard.objects.filter(job__status__in=ACTIVE_STATUSES)
        .filter(not_recently_sent)
        .filter(
            Q(status=ShardStatus.PENDING, updated_at__lt=now - grace)
            | Q(status=ShardStatus.QUEUED, dispatched_at__lt=now - resend)
            | (Q(status=ShardStatus.PROCESSING) & _lease_expired(now))
        )
        .order_by("job_id", "index")
        .values_list("pk", "job_id", "job__source", "status", "attempts")
    )
    to_send: dict[uuid.UUID, tuple[str, list[int]]] = {}
    failed: list[uuid.UUID] = []
    for shard_id, job_id, source, status, attempts in stale:
        if status == ShardStatus.PROCESSING and attempts >= settings.JOB_MAX_ATTEMPTS:
            reason = (
                f"The worker stopped {attempts} times while processing these images "
                "(crashed, killed or out of memory); giving up."
            )
            if shard_fail(shard_id=shard_id, reason=reason, from_statuses=(status,)):
                failed.append(job_id)
            continue
        to_send.setdefault(job_id, (source, []))[1].append(shard_id)
    redispatched = [
        job_id
        for job_id, (source, ids) in to_send.items()
        if _shards_send(job_id=job_id, source=source, shard_ids=ids)
    ]
    finished = []
    for job_id in (
        Job.objects.filter(status__in=(JobStatus.QUEUED, JobStatus.PROCESSING))
        .filter(~Exists(JobShard.objects.filter(job_id=OuterRef("pk"), status__in=SHARD_ACTIVE)))
        .values_list("pk", flat=True)
    ):
        if job_finish_if_done(job_id=job_id):
            finished.append(job_id)
    if redispatched or failed or finished:
        logger.info(
            "sweep: redispatched %d, failed %d, finished %d",
            len(redispatched),
            len(failed),
            len(finished),
        )
    return SweepResult(redispatched, sorted(set(failed), key=failed.index), finished)


def jobs_recover_on_start() -> list[uuid.UUID]:
    """Embedded mode: the in-memory queue was lost with the last process, re-send all.

    Only for the single-process embedded mode, where no other worker can hold a shard.
    """
    now = timezone.now()
    JobShard.objects.filter(
        status__in=(ShardStatus.QUEUED, ShardStatus.PROCESSING), job__status__in=ACTIVE_STATUSES
    ).update(status=ShardStatus.PENDING, lease_token=None, heartbeat_at=None, updated_at=now)
    ids = list(Job.objects.filter(status__in=ACTIVE_STATUSES).values_list("id", flat=True))
    for job_id in ids:
        job_dispatch(job_id=job_id)
    return ids
