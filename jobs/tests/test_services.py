from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from categories.services import category_create
from classifier_site.core.errors import Conflict, DomainError
from images.tests.factories import ImageFactory
from jobs import selectors, services
from jobs.models import ItemStatus, Job, JobImage, JobStatus

pytestmark = pytest.mark.django_db


def submit(user, images, **kwargs):
    kwargs.setdefault("job_type", "image_classification")
    return services.job_submit(owner=user, image_ids=[i.id for i in images], **kwargs).job


def test_submit_writes_job_and_rows_and_dispatches_on_commit(
    user, images, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = submit(user, images, top_k=3, confidence_threshold=0.2)
    # After commit the shards are sent from a background thread (never in the request);
    # that thread cannot see this test's transaction, so the send is run here.
    assert [(c.func, c.args) for c in callbacks] == [(services.job_dispatch_soon, (job.id,))]
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert services.job_dispatch(job_id=job.id) is True
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert list(job.shards.values_list("index", "size", "status")) == [(0, 3, "queued")]
    assert (job.total, job.top_k, job.confidence_threshold, job.labels) == (3, 3, 0.2, [])
    assert job.model_version.kind == "imagenet"
    assert list(job.items.values_list("image_id", "position", "filename", "status")) == [
        (images[0].id, 0, "photo-0.jpg", "pending"),
        (images[1].id, 1, "photo-1.jpg", "pending"),
        (images[2].id, 2, "photo-2.jpg", "pending"),
    ]


def test_submit_custom_takes_category_labels_as_a_snapshot(user, images):
    category = category_create(owner=user, name="Pets", labels=["cat", "dog"])
    job = submit(user, images, job_type="custom_classification", category_id=category.pk)
    category.labels = ["changed"]
    category.save()
    job.refresh_from_db()
    assert (job.labels, job.category_id, job.model_version.kind) == (
        ["cat", "dog"],
        category.pk,
        "zero_shot",
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"top_k": 0}, "top_k"),
        ({"top_k": 11}, "top_k"),
        ({"confidence_threshold": 1.5}, "confidence_threshold"),
        ({"confidence_threshold": -0.1}, "confidence_threshold"),
        ({"job_type": "nope"}, "job_type"),
        ({"job_type": "custom_classification"}, "custom_labels"),
        ({"job_type": "custom_classification", "custom_labels": ["a", "A"]}, "custom_labels"),
        ({"job_type": "custom_classification", "category_id": 999999}, "category_id"),
        ({"model_version_id": 999999}, "model_version"),
    ],
)
def test_submit_validation_names_the_field(user, images, kwargs, field):
    with pytest.raises(DomainError) as err:
        submit(user, images, **kwargs)
    assert err.value.field == field
    assert Job.objects.count() == 0


def test_submit_rejects_unknown_and_foreign_images(user, images, other_image):
    for ids in ([other_image.id], ["not-a-uuid"], [], [images[0].id, other_image.id]):
        with pytest.raises(DomainError) as err:
            services.job_submit(owner=user, job_type="image_classification", image_ids=ids)
        assert err.value.field == "image_ids"
    assert Job.objects.count() == 0


def test_idempotency_key_returns_the_first_job(user, images):
    first = services.job_submit(
        owner=user,
        job_type="image_classification",
        image_ids=[images[0].id],
        idempotency_key="abc",
    )
    again = services.job_submit(
        owner=user,
        job_type="image_classification",
        image_ids=[images[0].id],
        idempotency_key="abc",
    )
    assert (first.created, again.created, again.job.pk) == (True, False, first.job.pk)
    assert Job.objects.count() == 1


def test_idempotency_key_reused_for_another_request_is_refused(user, images):
    services.job_submit(
        owner=user,
        job_type="image_classification",
        image_ids=[images[0].id],
        idempotency_key="abc",
    )
    with pytest.raises(DomainError) as err:
        services.job_submit(
            owner=user,
            job_type="image_classification",
            image_ids=[images[1].id],
            idempotency_key="abc",
        )
    assert (err.value.field, err.value.status_code) == ("idempotency_key", 422)
    assert Job.objects.count() == 1


@pytest.mark.django_db(transaction=True)  # the foreign key is checked at the real commit
def test_image_deleted_during_submit_is_a_conflict_not_a_crash(user, images, monkeypatch):
    from images.models import Image

    real = services._owned_images

    def validate_then_delete(**kwargs):
        found = real(**kwargs)
        Image.objects.filter(pk=images[0].pk).delete()  # another request deletes it now
        return found

    monkeypatch.setattr(services, "_owned_images", validate_then_delete)
    with pytest.raises(DomainError) as err:
        services.job_submit(
            owner=user, job_type="image_classification", image_ids=[images[0].id, images[1].id]
        )
    assert (err.value.field, err.value.status_code) == ("image_ids", 409)
    assert Job.objects.count() == 0


def test_run_classifies_counts_and_unknown_under_threshold(user, images):
    corrupt = ImageFactory(stored=True, owner=user, seed=50, corrupt=True)
    job = submit(user, [*images, corrupt], top_k=2, confidence_threshold=1.0)
    assert services.job_run(job_id=job.id) == "completed"
    job.refresh_from_db()
    # Threshold 1.0: no softmax score reaches it, so every decodable image is "unknown".
    assert (job.status, job.total, job.processed, job.classified, job.unknown, job.failed) == (
        "completed",
        4,
        4,
        0,
        3,
        1,
    )
    assert job.attempts == 1
    bad = job.items.get(image=corrupt)
    assert bad.status == "failed"
    assert bad.error != ""
    good = job.items.get(image=images[0])
    assert len(good.predictions) == 2
    assert good.top_label == good.predictions[0]["label"]
    assert good.processing_ms is not None


def test_run_again_is_harmless(user, images):
    job = submit(user, images, confidence_threshold=0.0)
    services.job_run(job_id=job.id)
    before = list(JobImage.objects.filter(job=job).values_list("id", "top_label", "completed_at"))
    assert services.job_run(job_id=job.id) == "skipped"
    job.refresh_from_db()
    assert (job.status, job.classified, job.attempts) == ("completed", 3, 1)
    after = list(JobImage.objects.filter(job=job).values_list("id", "top_label", "completed_at"))
    assert after == before


def test_run_skips_a_shard_held_by_a_live_lease(user, images):
    job = submit(user, images)
    job.shards.update(status="processing", heartbeat_at=timezone.now())
    assert services.job_run(job_id=job.id) == "skipped"
    assert JobImage.objects.filter(job=job, status=ItemStatus.PENDING).count() == 3


def test_run_takes_over_an_expired_lease_and_skips_done_images(user, images, settings):
    job = submit(user, images)
    JobImage.objects.filter(job=job, image=images[0]).update(
        status="classified", top_label="kept", top_score=0.9
    )
    services.recount(job.pk)
    Job.objects.filter(pk=job.pk).update(status="processing", attempts=1)
    job.shards.update(
        status="processing",
        attempts=1,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_LEASE_SECONDS + 1),
    )
    assert services.job_run(job_id=job.id) == "completed"
    job.refresh_from_db()
    assert (job.attempts, job.processed, job.classified) == (2, 3, 3)
    assert job.items.get(image=images[0]).top_label == "kept"


def test_deleted_image_fails_only_that_image_and_results_survive(user, images):
    job = submit(user, images)
    images[1].delete()
    services.job_run(job_id=job.id)
    job.refresh_from_db()
    assert (job.status, job.classified, job.failed) == ("completed", 2, 1)
    item = job.items.get(filename="photo-1.jpg")
    assert (item.image_id, item.status) == (None, "failed")
    images[0].delete()
    assert job.items.get(filename="photo-0.jpg").status == "classified"


def test_cancel_stops_and_only_moves_forward(user, images):
    job = submit(user, images)
    services.job_cancel(job=job)
    assert services.job_run(job_id=job.id) == "skipped"
    job.refresh_from_db()
    assert (job.status, job.processed) == ("canceled", 0)
    with pytest.raises(Conflict):
        services.job_cancel(job=job)


def test_retry_failed_reruns_only_failed_images(user, images):
    corrupt = ImageFactory(stored=True, owner=user, seed=51, corrupt=True)
    job = submit(user, [*images, corrupt])
    services.job_run(job_id=job.id)
    done_before = dict(job.items.exclude(image=corrupt).values_list("id", "completed_at"))
    services.job_retry_failed(job=job)
    job.refresh_from_db()
    assert (job.status, job.processed, job.failed, job.attempts) == ("pending", 3, 0, 0)
    services.job_run(job_id=job.id)
    job.refresh_from_db()
    assert (job.status, job.processed, job.failed) == ("completed", 4, 1)
    assert dict(job.items.exclude(image=corrupt).values_list("id", "completed_at")) == done_before


def test_speed_after_a_retry_is_the_retrys_work_over_its_own_time(user, images):
    corrupt = ImageFactory(stored=True, owner=user, seed=52, corrupt=True)
    job = submit(user, [*images, corrupt])
    services.job_run(job_id=job.id)
    # The first run was long ago; the retry must not be timed from it.
    Job.objects.filter(pk=job.id).update(started_at=timezone.now() - timedelta(hours=1))
    services.job_retry_failed(job=job)
    job.refresh_from_db()
    assert (job.started_at, job.done_before_run) == (None, 3)
    services.job_run(job_id=job.id)
    job.refresh_from_db()
    Job.objects.filter(pk=job.id).update(completed_at=job.started_at + timedelta(seconds=2))
    job.refresh_from_db()
    progress = selectors.job_progress(job=job)
    # One image (the corrupt one, failed again) in the retry's 2 s: 0.5 images/s, where
    # timing from the first run's start would give 4 / 3602 s.
    assert (progress.done, progress.elapsed_seconds, progress.images_per_second) == (4, 2.0, 0.5)


def test_delete_only_finished_jobs(user, images):
    job = submit(user, images)
    with pytest.raises(Conflict):
        services.job_delete(job=job)
    services.job_cancel(job=job)
    services.job_delete(job=job)
    assert Job.objects.count() == 0
    assert JobImage.objects.count() == 0


def test_sweep_redispatches_stale_pending_and_fails_exhausted(user, images, settings):
    settings.JOB_PENDING_GRACE_SECONDS = 60
    old = timezone.now() - timedelta(minutes=5)
    stale = submit(user, images[:1])
    fresh = submit(user, images[1:2])
    dead = submit(user, images[2:])
    stale.shards.update(updated_at=old)
    Job.objects.filter(pk=dead.pk).update(status="processing")
    dead.shards.update(status="processing", attempts=settings.JOB_MAX_ATTEMPTS, heartbeat_at=old)
    result = services.jobs_sweep()
    assert (result.redispatched, result.failed) == ([stale.pk], [dead.pk])
    assert Job.objects.get(pk=stale.pk).status == "queued"
    assert Job.objects.get(pk=fresh.pk).status == "pending"
    dead.refresh_from_db()
    # Its only shard failed, so every image failed: the job fails with the shard's reason.
    assert (dead.status, dead.failed) == ("failed", 1)
    assert dead.error_message.startswith("The worker stopped 3 times")
    assert dead.items.get().error.startswith("The worker stopped 3 times")
    # Just re-sent: the next sweep leaves it alone.
    assert services.jobs_sweep().redispatched == []


def test_sweep_resends_a_queued_shard_nobody_claimed(user, images, settings):
    settings.JOB_QUEUED_RESEND_SECONDS = 300
    lost = submit(user, images[:1])
    waiting = submit(user, images[1:2])
    services.job_dispatch(job_id=lost.pk)
    services.job_dispatch(job_id=waiting.pk)
    ten_minutes_ago = timezone.now() - timedelta(minutes=10)
    lost.shards.update(dispatched_at=ten_minutes_ago)
    result = services.jobs_sweep()
    assert (result.redispatched, result.failed) == ([lost.pk], [])
    lost.refresh_from_db()
    assert lost.status == "queued"
    assert lost.shards.get().dispatched_at > ten_minutes_ago
    assert services.jobs_sweep().redispatched == []


def test_recover_on_start_resends_unfinished_jobs(user, images):
    job = submit(user, images)
    Job.objects.filter(pk=job.pk).update(status="processing")
    job.shards.update(status="processing", heartbeat_at=timezone.now())
    assert services.jobs_recover_on_start() == [job.pk]
    job.refresh_from_db()
    assert job.status == "processing"
    assert list(job.shards.values_list("status", "heartbeat_at")) == [("queued", None)]


# --- shards -------------------------------------------------------------------------------


def test_a_job_is_split_into_shards_that_run_independently(user, settings):
    settings.JOB_SHARD_SIZE = 2
    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(5)]
    job = submit(user, images)
    shards = list(job.shards.order_by("index"))
    assert [(s.index, s.size) for s in shards] == [(0, 2), (1, 2), (2, 1)]
    assert [
        list(s.items.order_by("position").values_list("position", flat=True)) for s in shards
    ] == [[0, 1], [2, 3], [4]]
    # The last shard first: the job is not complete until every shard is.
    assert services.shard_run(shard_id=shards[2].pk) == "completed"
    job.refresh_from_db()
    assert (job.status, job.processed) == ("processing", 1)
    assert services.shard_run(shard_id=shards[0].pk) == "completed"
    assert services.shard_run(shard_id=shards[0].pk) == "skipped"
    assert services.shard_run(shard_id=shards[1].pk) == "completed"
    job.refresh_from_db()
    assert (job.status, job.processed, job.classified + job.unknown, job.attempts) == (
        "completed",
        5,
        5,
        1,
    )
    assert JobImage.objects.filter(job=job, status="pending").count() == 0


def test_cancel_marks_the_rest_canceled_and_counts_stay_truthful(user, settings):
    settings.JOB_SHARD_SIZE = 2
    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(5)]
    job = submit(user, images)
    first = job.shards.get(index=0)
    assert services.shard_run(shard_id=first.pk) == "completed"
    services.job_cancel(job=job)
    assert services.job_run(job_id=job.id) == "skipped"
    job.refresh_from_db()
    assert (job.status, job.total, job.processed, job.canceled) == ("canceled", 5, 2, 3)
    assert sorted(job.shards.values_list("status", flat=True)) == [
        "canceled",
        "canceled",
        "completed",
    ]


def test_a_job_whose_every_image_failed_ends_failed(user):
    corrupt = ImageFactory(stored=True, owner=user, seed=70, corrupt=True)
    job = submit(user, [corrupt])
    assert services.job_run(job_id=job.id) == "failed"
    job.refresh_from_db()
    assert (job.status, job.failed, job.processed) == ("failed", 1, 1)
    assert job.error_message.startswith("Every image failed; the first: Could not read")


def test_a_failed_shard_fails_only_its_own_images(user, settings):
    settings.JOB_SHARD_SIZE = 2
    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(4)]
    job = submit(user, images)
    bad, good = job.shards.order_by("index")
    assert services.shard_fail(shard_id=bad.pk, reason="The worker stopped 3 times")
    assert services.shard_run(shard_id=good.pk) == "completed"
    job.refresh_from_db()
    assert (job.status, job.processed, job.failed, job.classified + job.unknown) == (
        "completed",
        4,
        2,
        2,
    )
    assert job.error_message == ""


def test_storage_outage_retries_the_shard_and_fails_no_image(user, images, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    from jobs import runs

    job = submit(user, images)
    real = runs._image_bytes

    def unreachable(key):
        raise EndpointConnectionError(endpoint_url="http://10.0.0.1:9000/bucket/" + key)

    monkeypatch.setattr(runs, "_image_bytes", unreachable)
    with pytest.raises(services.TransientError):
        services.job_run(job_id=job.id)
    job.refresh_from_db()
    assert (job.status, job.processed, job.failed) == ("processing", 0, 0)
    shard = job.shards.get()
    # The tasks layer releases the lease without counting the attempt.
    services.shard_transient_failure(shard_id=shard.pk, error="EndpointConnectionError")
    shard.refresh_from_db()
    assert (shard.status, shard.attempts, shard.lease_token) == ("queued", 0, None)

    monkeypatch.setattr(runs, "_image_bytes", real)  # storage is back
    assert services.job_run(job_id=job.id) == "completed"
    job.refresh_from_db()
    assert (job.status, job.processed, job.failed) == ("completed", 3, 0)


def test_user_errors_carry_no_internal_urls():
    text = (
        "Could not read the image: Could not connect to the endpoint URL: "
        '"http://minio.internal:9000/media/u/1/abc.jpg" cannot identify image file '
        "<_io.BytesIO object at 0x7f3a2b1c0d90>"
    )
    assert services.user_error(text) == (
        "Could not read the image: Could not connect to the endpoint URL: "
        "(storage) cannot identify image file the file"
    )
