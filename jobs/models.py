from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class JobType(models.TextChoices):
    IMAGE_CLASSIFICATION = "image_classification", "ImageNet classifier"
    CUSTOM_CLASSIFICATION = "custom_classification", "Custom labels (CLIP zero-shot)"


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # committed, message not (yet) sent
    QUEUED = "queued", "Queued"  # message sent
    PROCESSING = "processing", "Processing"  # claimed by a worker holding the lease
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.PROCESSING)
TERMINAL_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)


class JobSource(models.TextChoices):
    BATCH = "batch", "Batch job"
    PREDICT = "predict", "Single-image prediction"


NAME_MAX = 120


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    job_type = models.CharField(max_length=32, choices=JobType.choices)
    # What people call the job in history; filled from the category or labels when left
    # blank at submit (see services.job_default_name), blank only on jobs from before.
    name = models.CharField(max_length=NAME_MAX, blank=True)
    source = models.CharField(max_length=16, choices=JobSource.choices, default=JobSource.BATCH)
    model_version = models.ForeignKey(
        "inference.ModelVersion", on_delete=models.PROTECT, related_name="jobs"
    )
    category = models.ForeignKey(
        "categories.Category",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="jobs",
    )
    # A snapshot: editing or deleting the category later changes no job.
    labels = models.JSONField(default=list, blank=True)
    top_k = models.PositiveSmallIntegerField(default=5)
    confidence_threshold = models.FloatField(default=0.0)

    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True
    )
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    classified = models.PositiveIntegerField(default=0)
    unknown = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # Images left unprocessed by a cancel: processed + canceled == total once it stopped.
    canceled = models.PositiveIntegerField(default=0)
    # Images already done when the current run started (a retry keeps earlier results):
    # the speed shown is the current run's work over its own time, not the whole job's.
    done_before_run = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)  # last message sent
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The most deliveries any one of its shards needed (leases live on the shards).
    attempts = models.PositiveSmallIntegerField(default=0)
    error_message = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    # SHA-256 of the submitted parameters: the same key with other parameters is refused.
    request_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="job_unique_owner_idempotency_key",
            ),
            models.CheckConstraint(condition=Q(top_k__gte=1, top_k__lte=10), name="job_top_k_1_10"),
            models.CheckConstraint(
                condition=Q(confidence_threshold__gte=0, confidence_threshold__lte=1),
                name="job_threshold_0_1",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "source", "-created_at"], name="job_owner_newest"),
            models.Index(fields=["status", "dispatched_at"], name="job_status_dispatched"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_job_type_display()} {self.id}"

    @property
    def display_name(self) -> str:
        return self.name or f"{self.get_job_type_display()} {str(self.id)[:8]}"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_custom(self) -> bool:
        return self.job_type == JobType.CUSTOM_CLASSIFICATION


class ShardStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # message not (yet) sent, or handed back unsent
    QUEUED = "queued", "Queued"  # message sent, no worker holds it
    PROCESSING = "processing", "Processing"  # a worker holds the lease
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


SHARD_ACTIVE = (ShardStatus.PENDING, ShardStatus.QUEUED, ShardStatus.PROCESSING)


class JobShard(models.Model):
    """A slice of a job's images, the unit of work of one queue message.

    Shards of one job run on any number of workers at once. Each carries its own lease:
    ``lease_token`` names the claim that holds it, ``heartbeat_at`` is refreshed while the
    worker lives; a lease older than JOB_LEASE_SECONDS means the worker is gone.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="shards")
    index = models.PositiveIntegerField()
    size = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=ShardStatus.choices, default=ShardStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_token = models.UUIDField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    error_message = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="jobshard_unique_job_index"),
        ]
        indexes = [
            models.Index(fields=["status", "heartbeat_at"], name="jobshard_status_heartbeat"),
            models.Index(fields=["job", "status"], name="jobshard_job_status"),
        ]
        ordering = ["job", "index"]

    def __str__(self) -> str:
        return f"shard {self.index} of {self.job_id}"


class ItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CLASSIFIED = "classified", "Classified"
    UNKNOWN = "unknown", "Unknown"  # best score under the job's threshold
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"  # the job was canceled before it was classified


class JobImage(models.Model):
    """One image of one job, and its result once classified."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="items")
    shard = models.ForeignKey(
        JobShard, on_delete=models.CASCADE, null=True, blank=True, related_name="items"
    )
    # SET_NULL + the snapshot below: results survive deleting the image.
    image = models.ForeignKey(
        "images.Image", on_delete=models.SET_NULL, null=True, blank=True, related_name="job_items"
    )
    position = models.PositiveIntegerField(default=0)
    filename = models.CharField(max_length=255, blank=True)
    key = models.CharField(max_length=255, blank=True)  # the image's storage key
    content_hash = models.CharField(max_length=64, blank=True)

    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    top_label = models.CharField(max_length=200, blank=True)
    top_score = models.FloatField(null=True, blank=True)
    predictions = models.JSONField(default=list, blank=True)  # [{"label", "score"}], best first
    processing_ms = models.FloatField(null=True, blank=True)
    from_cache = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "image"], name="jobimage_unique_job_image"),
        ]
        indexes = [
            models.Index(fields=["job", "status"], name="jobimage_job_status"),
            models.Index(fields=["shard", "status"], name="jobimage_shard_status"),
            models.Index(fields=["image", "-completed_at"], name="jobimage_image_newest"),
            models.Index(fields=["top_label"], name="jobimage_top_label"),
        ]
        ordering = ["job", "position", "id"]

    def __str__(self) -> str:
        return f"{self.filename} in {self.job_id}"
