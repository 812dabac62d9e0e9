"""Through real `rundramatiq` processes, SQS over its real protocol (moto), PostgreSQL."""

from __future__ import annotations

import urllib.request

import boto3
import dramatiq
import pytest

from classifier_site.testing.pytest_env import free_port
from classifier_site.testing.workers import wait_for
from images.tests.factories import ImageFactory
from jobs import services
from jobs.models import Job, JobImage

pytestmark = [pytest.mark.workers]

QUEUES = ["inference", "predict"]
# Short lease and backoffs so recovery happens within seconds. The time limit is generous:
# a worker's first message pays for importing torch and loading the model, which takes
# tens of seconds on a loaded machine (a 15 s limit turned that into a retried attempt).
FAST = {
    "SQS_VISIBILITY_TIMEOUT_SECONDS": "150",
    "JOB_TIME_LIMIT_SECONDS": "120",
    "JOB_LEASE_SECONDS": "10",
    "JOB_HEARTBEAT_SECONDS": "2",
    "JOB_RETRY_MIN_BACKOFF_MS": "100",
    "RETRY_MAX_BACKOFF_MS": "1000",
    "INFERENCE_BATCH_SIZE": "2",
}


def status_of(job_id) -> str:
    return Job.objects.values_list("status", flat=True).get(pk=job_id)


def wait_terminal(job_id, worker, timeout=90.0) -> Job:
    try:
        wait_for(
            lambda: status_of(job_id) in ("completed", "failed", "canceled"),
            timeout=timeout,
            message=f"job {job_id} to finish",
        )
    except AssertionError:
        print(worker.log()[-5000:])
        raise
    return Job.objects.get(pk=job_id)


def test_page_and_api_submits_complete_for_both_job_types(
    client_user, token_client, user, inference_weights, dramatiq_worker, queues
):
    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(3)]
    corrupt = ImageFactory(stored=True, owner=user, seed=60, corrupt=True)
    metrics_port = free_port()
    worker = dramatiq_worker(
        queues=QUEUES,
        env={**inference_weights, **FAST, "WORKER_METRICS_PORT": str(metrics_port)},
    )

    page = client_user.post(
        "/jobs/new/",
        {
            "image": [images[0].id, images[1].id, corrupt.id],
            "job_type": "image_classification",
            "top_k": "3",
            "confidence_threshold": "0",
        },
    )
    assert page.status_code == 302
    page_job = Job.objects.get(job_type="image_classification")
    assert page["Location"] == f"/jobs/{page_job.id}/"

    api = token_client.post(
        "/api/v1/submit",
        {
            "job_type": "custom_classification",
            "image_ids": [str(i.id) for i in images],
            "custom_labels": ["cat", "dog", "bird"],
            "top_k": 2,
            "confidence_threshold": 0.0,
        },
        format="json",
    )
    assert api.status_code == 201
    api_job_id = api.json()["job_id"]

    first = wait_terminal(page_job.id, worker)
    assert (
        first.status,
        first.total,
        first.processed,
        first.classified,
        first.unknown,
        first.failed,
        first.attempts,
    ) == ("completed", 3, 3, 2, 0, 1, 1)
    second = wait_terminal(api_job_id, worker)
    assert (
        second.status,
        second.total,
        second.processed,
        second.classified,
        second.unknown,
        second.failed,
    ) == ("completed", 3, 3, 3, 0, 0)
    labels = set(JobImage.objects.filter(job=second).values_list("top_label", flat=True))
    assert labels <= {"cat", "dog", "bird"}
    result = token_client.get(f"/api/v1/result/{api_job_id}").json()
    assert result["result"]["total_images"] == 3
    assert [len(i["all_predictions"]) for i in result["result"]["images"]] == [2, 2, 2]

    # The worker process serves its own counters and latency histogram.
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        text = response.read().decode()
    assert (
        'classifier_job_images_total{job_type="image_classification",outcome="failed"} 1.0' in text
    )
    assert 'classifier_job_image_seconds_count{job_type="custom_classification"} 3.0' in text


def test_worker_killed_mid_job_then_restarted_completes_once(
    user, inference_weights, dramatiq_worker, queues
):
    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(12)]
    env = {
        **inference_weights,
        **FAST,
        # Redelivery by SQS after the visibility timeout; the time limit below it must still
        # cover a first message that loads the model on a loaded machine.
        "SQS_VISIBILITY_TIMEOUT_SECONDS": "60",
        "JOB_TIME_LIMIT_SECONDS": "50",
        "JOB_LEASE_SECONDS": "3",
    }
    first = dramatiq_worker(queues=QUEUES, env={**env, "JOBS_TEST_FAULT": "sleep=1"})
    job = services.job_submit(
        owner=user, job_type="image_classification", image_ids=[i.id for i in images]
    ).job
    wait_for(
        lambda: Job.objects.get(pk=job.id).processed >= 4,
        timeout=180,
        message="some progress",
    )
    first.kill()
    done_at_kill = Job.objects.get(pk=job.id).processed
    assert 4 <= done_at_kill < 12

    second = dramatiq_worker(queues=QUEUES, env=env)
    job = wait_terminal(job.id, second, timeout=240)
    if job.attempts != 2:
        print(first.log()[-3000:], second.log()[-3000:])
    assert (job.status, job.processed, job.classified + job.unknown, job.failed, job.attempts) == (
        "completed",
        12,
        12,
        0,
        2,
    )
    assert JobImage.objects.filter(job=job).count() == 12
    assert JobImage.objects.filter(job=job, status="pending").count() == 0


def test_same_message_delivered_three_times_at_once(
    user, inference_weights, dramatiq_worker, queues, monkeypatch
):
    from jobs import tasks

    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(6)]
    monkeypatch.setattr(services, "job_dispatch", lambda **kwargs: False)
    job = services.job_submit(
        owner=user, job_type="image_classification", image_ids=[i.id for i in images]
    ).job
    monkeypatch.undo()
    broker = dramatiq.get_broker()
    shard = job.shards.get()
    message = tasks.shard_run.message(shard.id)
    for _ in range(3):
        broker.enqueue(message)

    worker = dramatiq_worker(
        queues=QUEUES, processes=3, env={**inference_weights, **FAST, "LOG_LEVEL": "INFO"}
    )
    job = wait_terminal(job.id, worker)
    assert (job.status, job.processed, job.classified + job.unknown) == ("completed", 6, 6)
    assert JobImage.objects.filter(job=job).count() == 6
    # Let the other two copies arrive and be dropped, then count the transitions.
    wait_for(
        lambda: worker.log().count(f"shard {shard.id}") >= 3,
        timeout=30,
        message="all three deliveries handled",
    )
    assert worker.log().count(f"job {job.id}: completed") == 1
    assert Job.objects.get(pk=job.id).attempts == 1


def test_sqs_unreachable_at_submit_then_sweeper_redispatches(
    token_client, user, inference_weights, dramatiq_worker, queues, monkeypatch, settings
):
    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(2)]
    broker = queues.broker
    real_queue = broker.queues["inference"]
    # The same queue URL through a client pointed at a closed port: sends fail for real.
    dead = boto3.resource(
        "sqs",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        config=boto3.session.Config(retries={"max_attempts": 1}, connect_timeout=1),
    ).Queue(real_queue.url)
    monkeypatch.setitem(broker.queues, "inference", dead)
    response = token_client.post(
        "/api/v1/submit",
        {"job_type": "image_classification", "image_ids": [str(i.id) for i in images]},
        format="json",
    )
    assert response.status_code == 201
    job_id = response.json()["job_id"]
    assert status_of(job_id) == "pending"

    monkeypatch.setitem(broker.queues, "inference", real_queue)  # SQS is back
    worker = dramatiq_worker(queues=QUEUES, env={**inference_weights, **FAST})
    settings.JOB_PENDING_GRACE_SECONDS = 0
    assert [str(i) for i in services.jobs_sweep().redispatched] == [job_id]
    job = wait_terminal(job_id, worker)
    assert (job.status, job.processed, job.attempts) == ("completed", 2, 1)


def test_message_that_kills_its_worker_every_time_ends_in_dlq_and_failed(
    user, inference_weights, dramatiq_worker, queues, settings
):
    image = ImageFactory(stored=True, owner=user, seed=1)
    job = services.job_submit(owner=user, job_type="image_classification", image_ids=[image.id]).job
    env = {
        **inference_weights,
        **FAST,
        "SQS_VISIBILITY_TIMEOUT_SECONDS": "3",
        "JOB_TIME_LIMIT_SECONDS": "2",
        "JOB_LEASE_SECONDS": "1",
        "JOBS_TEST_FAULT": f"kill={job.id}",
    }
    deaths = 0
    for _ in range(6):
        worker = dramatiq_worker(queues=QUEUES, env=env)
        try:
            wait_for(
                lambda: worker.proc.poll() is not None or queues.dead_args("inference"),
                timeout=40,
                message="worker death or dead letter",
            )
        finally:
            worker.stop()
        if queues.dead_args("inference"):
            break
        deaths += 1
    assert queues.dead_args("inference") == [job.shards.get().id]
    assert deaths == 3
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("processing", 3)

    settings.JOB_LEASE_SECONDS = 1
    settings.JOB_PENDING_GRACE_SECONDS = 0
    assert services.jobs_sweep().failed == [job.id]
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error_message.startswith("The worker stopped 3 times")


def test_actor_that_always_raises_retries_then_dlq_and_failed(
    user, inference_weights, dramatiq_worker, queues
):
    image = ImageFactory(stored=True, owner=user, seed=1)
    job = services.job_submit(owner=user, job_type="image_classification", image_ids=[image.id]).job
    worker = dramatiq_worker(
        queues=QUEUES, env={**inference_weights, **FAST, "JOBS_TEST_FAULT": f"raise={job.id}"}
    )
    job = wait_terminal(job.id, worker)
    assert (job.status, job.attempts) == ("failed", 3)
    assert job.error_message == "RuntimeError: injected failure (JOBS_TEST_FAULT)"
    wait_for(
        lambda: queues.dead_args("inference") == [job.shards.get().id],
        timeout=20,
        message="the message in the dead-letter queue",
    )


def test_predict_api_answers_with_the_prediction(
    token_client, inference_weights, dramatiq_worker, queues, settings
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from classifier_site.testing.images import encode, gradient

    settings.PREDICT_WAIT_SECONDS = 60
    dramatiq_worker(queues=["predict"], env={**inference_weights, **FAST})
    upload = SimpleUploadedFile(
        "cat.jpg", encode(gradient(48, 40, seed=7), "JPEG"), content_type="image/jpeg"
    )
    response = token_client.post("/api/v1/predict", {"file": upload}, format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "completed"
    assert body["predicted_class"] == body["all_predictions"][0]["label"]
    assert isinstance(body["prediction_time_ms"], int)
    listing = token_client.get("/api/v1/predictions").json()
    assert (listing["total"], listing["page"], listing["predictions"][0]["prediction_id"]) == (
        1,
        1,
        body["prediction_id"],
    )
    # Not in the batch history.
    assert token_client.get("/api/v1/jobs").json()["total"] == 0


def test_kill_9_mid_shard_then_the_sweeper_hands_it_to_another_worker(
    user, inference_weights, dramatiq_worker, queues, settings
):
    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(8)]
    env = {
        **inference_weights,
        **FAST,
        "JOB_SHARD_SIZE": "4",
        "SQS_VISIBILITY_TIMEOUT_SECONDS": "120",  # redelivery by SQS would come too late
        "JOB_TIME_LIMIT_SECONDS": "60",
        "JOB_LEASE_SECONDS": "4",
        "JOB_HEARTBEAT_SECONDS": "1",
        "LOG_LEVEL": "INFO",
    }
    settings.JOB_SHARD_SIZE = 4
    settings.JOB_LEASE_SECONDS = 4
    settings.JOB_PENDING_GRACE_SECONDS = 0
    doomed = dramatiq_worker(queues=QUEUES, env={**env, "JOBS_TEST_FAULT": "sleep=1"})
    job = services.job_submit(
        owner=user, job_type="image_classification", image_ids=[i.id for i in images]
    ).job

    def mid_shard():
        # A shard with some of its images done and some not: the kill lands mid-shard
        # (each batch is followed by a 1 s sleep, so this state lasts long enough).
        for shard in job.shards.filter(status="processing"):
            done = shard.items.exclude(status="pending").count()
            if 0 < done < shard.size:
                return shard
        return None

    killed_shard = wait_for(mid_shard, timeout=180, message="a shard half done")
    doomed.kill()
    survivor = dramatiq_worker(queues=QUEUES, env=env)

    def swept_and_done() -> bool:
        services.jobs_sweep()
        return status_of(job.id) == "completed"

    # Bounded, generous: the survivor first imports torch and loads the model (slow on a
    # loaded machine); the recovery time itself is measured in bench/jobs.py.
    wait_for(swept_and_done, timeout=240, interval=1, message="the sweeper's re-send to finish")
    job.refresh_from_db()
    killed_shard.refresh_from_db()
    assert (job.status, job.processed, job.classified + job.unknown, job.failed) == (
        "completed",
        8,
        8,
        0,
    )
    assert (killed_shard.status, killed_shard.attempts) == ("completed", 2)
    assert JobImage.objects.filter(job=job).count() == 8
    assert survivor.log().count(f"shard {killed_shard.id} completed") == 1


def test_sigterm_hands_the_rest_of_the_shard_back_and_exits_in_the_grace_period(
    user, inference_weights, dramatiq_worker, queues
):
    import os
    import signal
    import time

    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(12)]
    env = {**inference_weights, **FAST, "JOB_TIME_LIMIT_SECONDS": "60", "LOG_LEVEL": "INFO"}
    env["SQS_VISIBILITY_TIMEOUT_SECONDS"] = "120"  # a hand-back must not wait for it
    leaving = dramatiq_worker(queues=QUEUES, env={**env, "JOBS_TEST_FAULT": "sleep=1"})
    job = services.job_submit(
        owner=user, job_type="image_classification", image_ids=[i.id for i in images]
    ).job
    wait_for(lambda: Job.objects.get(pk=job.id).processed >= 2, timeout=180, message="progress")
    # What a container platform does: SIGTERM to the main process only.
    os.kill(leaving.proc.pid, signal.SIGTERM)
    signaled = time.monotonic()
    leaving.proc.wait(timeout=30)  # the platform's grace period
    exited_after = time.monotonic() - signaled
    shard = job.shards.get()
    assert shard.status == "queued", leaving.log()[-3000:]
    done_at_exit = Job.objects.get(pk=job.id).processed
    assert 2 <= done_at_exit < 12
    print(f"worker exited {exited_after:.1f}s after SIGTERM")

    taker = dramatiq_worker(queues=QUEUES, env=env)
    job = wait_terminal(job.id, taker, timeout=240)
    assert (job.status, job.processed, job.classified + job.unknown, job.attempts) == (
        "completed",
        12,
        12,
        1,  # a hand-back is not a failed attempt
    )
    assert "handed back (worker shutting down)" in leaving.log()


def test_corrupt_weights_fail_the_job_in_one_attempt_with_one_log_line(
    user, inference_weights, dramatiq_worker, queues
):
    image = ImageFactory(stored=True, owner=user, seed=1)
    job = services.job_submit(owner=user, job_type="image_classification", image_ids=[image.id]).job
    # This worker's MobileNetV2 file no longer matches the hash it is registered with.
    worker = dramatiq_worker(
        queues=QUEUES,
        env={**inference_weights, **FAST, "WEIGHTS_SHA256": "mobilenet_v2=" + "0" * 64},
    )
    job = wait_terminal(job.id, worker)
    assert (job.status, job.attempts) == ("failed", 1)
    assert job.error_message == (
        "The model for this job is not available on the workers (its weights are missing or "
        "failed verification). Retrying would not help; an administrator must fix the model."
    )
    line = f"shard {job.shards.get().id}: failed, model unavailable (no retry)"
    wait_for(lambda: line in worker.log(), timeout=30, message="the worker's log line")
    log = worker.log()
    assert log.count(line) == 1
    assert "does not match its hash registered in WEIGHTS_SHA256" in log
    assert "Traceback" not in log
    # The worker also reported at start that it cannot run MobileNetV2.
    from inference.models import ModelAvailability

    report = ModelAvailability.objects.exclude(worker="pytest").get(model_version=job.model_version)
    assert (report.ready, report.reason.startswith("Weights file mobilenet_v2-7ebf99e0.pth")) == (
        False,
        True,
    )
    assert queues.dead_args("inference") == []
