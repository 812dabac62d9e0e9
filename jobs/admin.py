from django.contrib import admin, messages

from classifier_site.core.errors import DomainError
from jobs import services
from jobs.models import ACTIVE_STATUSES, Job, JobImage


class JobImageInline(admin.TabularInline):
    model = JobImage
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "position",
        "filename",
        "status",
        "top_label",
        "top_score",
        "processing_ms",
        "error",
    )
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "owner",
        "job_type",
        "source",
        "status",
        "total",
        "processed",
        "failed",
        "attempts",
        "created_at",
        "completed_at",
    ]
    list_filter = ["status", "job_type", "source", "owner"]
    search_fields = ["id", "owner__username", "idempotency_key"]
    list_select_related = ["owner", "model_version"]
    readonly_fields = [f.name for f in Job._meta.fields]
    inlines = [JobImageInline]
    actions = ["requeue", "cancel"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Requeue (re-send; failed images of finished jobs run again)")
    def requeue(self, request, queryset) -> None:
        sent = 0
        for job in queryset:
            try:
                if job.is_terminal:
                    services.job_retry_failed(job=job)
                else:
                    services.job_dispatch(job_id=job.pk)
                sent += 1
            except DomainError as exc:
                self.message_user(request, f"{job.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Requeued {sent} job(s).")

    @admin.action(description="Cancel")
    def cancel(self, request, queryset) -> None:
        n = 0
        for job in queryset.filter(status__in=ACTIVE_STATUSES):
            try:
                services.job_cancel(job=job)
                n += 1
            except DomainError:
                pass
        self.message_user(request, f"Canceled {n} job(s).")
