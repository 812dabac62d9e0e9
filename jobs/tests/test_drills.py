"""Fault drills on real processes: the queue loses its messages, the queue's network drops
packets, the storage goes away mid-shard. Bounded waits, no timed assertions (the
latencies are printed; bench/jobs.py measures recovery)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest
from rest_framework.authtoken.models import Token

from classifier_site.testing.proxy import TcpProxy
from classifier_site.testing.pytest_env import free_port
from classifier_site.testing.workers import ROOT, WorkerProcess, wait_for
from images.tests.factories import ImageFactory
from jobs import services
from jobs.models import Job, JobImage

from .test_workers import FAST, QUEUES, status_of, wait_terminal

pytestmark = [pytest.mark.workers]


def one_result_per_image(job: Job) -> None:
    rows = JobImage.objects.filter(job=job)
    assert rows.count() == job.total
    assert rows.values("image_id").distinct().count() == job.total
    assert not rows.filter(status="pending").exists()


def test_queue_lost_its_messages_then_the_sweeper_resends_and_they_complete(
    user, inference_weights, dramatiq_worker, queues
):
    """The queue server restarted empty: jobs already `queued` are re-sent by the sweeper
    after JOB_QUEUED_RESEND_SECONDS, not after an hour, and each image gets one result."""
    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(6)]
    jobs = [
        services.job_submit(
            owner=user, job_type="image_classification", image_ids=[i.id for i in chunk]
        ).job
        for chunk in (images[:3], images[3:])
    ]
    wait_for(lambda: all(status_of(j.id) == "queued" for j in jobs), timeout=60, message="queued")
    # What an in-memory queue server's restart does to its messages.
    queues.purge("inference")
    depth = queues.client.get_queue_attributes(
        QueueUrl=queues.url("inference"), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert depth == "0"

    env = {**inference_weights, **FAST, "JOB_QUEUED_RESEND_SECONDS": "3"}
    worker = dramatiq_worker(queues=QUEUES, env=env)
    sweeper_env = {**worker.env(), "JOB_SWEEP_INTERVAL_SECONDS": "1"}
    sweeper = subprocess.Popen(
        [sys.executable, "manage.py", "sweep_jobs", "--loop"],
        cwd=ROOT,
        env=sweeper_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        done = [wait_terminal(j.id, worker, timeout=240) for j in jobs]
    finally:
        sweeper.terminate()
        out = sweeper.communicate(timeout=30)[0]
    assert "redispatched 2" in out or out.count("redispatched 1") >= 2, out[-3000:]
    for job in done:
        assert (job.status, job.processed, job.failed, job.attempts) == ("completed", 3, 0, 1)
        one_result_per_image(job)


def _http_json(url: str, token: str, body: dict | None = None, timeout: float = 120) -> tuple:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return response.status, json.loads(response.read())


def test_submit_answers_at_once_while_the_queue_drops_packets(
    user, inference_weights, queues, moto_url, transactional_db
):
    """The queue's network accepts connections and never answers (not a refusal): a
    submit must not wait for the send. Latency printed, not asserted."""
    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(2)]
    token = Token.objects.create(user=user).key
    host, port = moto_url.removeprefix("http://").split(":")
    proxy = TcpProxy(host, int(port)).up()
    web_port = free_port()
    env = WorkerProcess(
        env={**inference_weights, "SQS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}"}
    ).env()
    log = open(ROOT / f"web-drill-{web_port}.log", "w+b")  # noqa: SIM115
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "classifier_site.wsgi",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--workers",
            "1",
            "--threads",
            "2",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{web_port}"
    try:
        # Up and talking to the queue first (as in production before the network fails).
        wait_for(
            lambda: _try(lambda: _http_json(base + "/api/v1/jobs", token)[0] == 200),
            timeout=120,
            message="the web server",
        )
        proxy.blackhole()
        latencies = []
        for n in range(3):
            body = {"job_type": "image_classification", "image_ids": [str(images[n % 2].id)]}
            started = time.perf_counter()
            status, answer = _http_json(base + "/api/v1/submit", token, body, timeout=120)
            latencies.append(time.perf_counter() - started)
            assert status == 201, answer
            job = Job.objects.get(pk=answer["job_id"])
            assert job.owner_id == user.id
            assert job.status in ("pending", "queued")
        print(
            "submit latencies with the queue blackholed: "
            + ", ".join(f"{t * 1000:.0f} ms" for t in latencies)
        )
    finally:
        proxy.forward()
        proxy.down()
        web.terminate()
        try:
            web.wait(timeout=30)
        except subprocess.TimeoutExpired:
            web.kill()
        log.seek(0)
        print(log.read().decode(errors="replace")[-2000:])
        log.close()
        (ROOT / f"web-drill-{web_port}.log").unlink(missing_ok=True)


def _try(check):
    try:
        return check()
    except OSError:
        return False


def test_storage_down_mid_shard_then_up_retries_and_no_image_fails(
    user, inference_weights, dramatiq_worker, queues, s3_storage, moto_url
):
    """Storage unreachable while a worker reads a shard's images: the shard is retried
    with backoff until it returns, and no image is failed for it."""
    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(12)]
    host, port = moto_url.removeprefix("http://").split(":")
    proxy = TcpProxy(host, int(port)).up()
    env = {
        **inference_weights,
        **FAST,
        "S3_BUCKET": s3_storage,
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}",
        "JOBS_TEST_FAULT": "sleep=1",
    }
    worker = dramatiq_worker(queues=QUEUES, env=env)
    try:
        job = services.job_submit(
            owner=user, job_type="image_classification", image_ids=[i.id for i in images]
        ).job
        wait_for(lambda: Job.objects.get(pk=job.id).processed >= 2, timeout=180, message="progress")
        proxy.down()
        wait_for(
            lambda: "transient failure" in worker.log(),
            timeout=120,
            message="the worker to meet the outage",
        )
        at_outage = Job.objects.get(pk=job.id)
        assert at_outage.failed == 0
        assert at_outage.status == "processing"
        proxy.up()
        job = wait_terminal(job.id, worker, timeout=240)
    finally:
        proxy.down()
    assert (job.status, job.processed, job.classified + job.unknown, job.failed) == (
        "completed",
        12,
        12,
        0,
    )
    assert job.attempts == 1  # a transient failure is not an attempt
    one_result_per_image(job)
