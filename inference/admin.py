from __future__ import annotations

from django.contrib import admin, messages

from inference.models import ModelAvailability, ModelVersion, TextEmbedding
from inference.services import model_version_activate


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "architecture",
        "is_active",
        "engine",
        "precision",
        "weights_verified",
        "short_sha",
        "created_at",
    ]
    list_filter = ["kind", "is_active", "architecture"]
    search_fields = ["name", "weights_sha256"]
    # Rows come from settings (manage.py inference_models --refresh); editing them by hand
    # would make stored embeddings lie about the model that produced them.
    readonly_fields = [
        "name",
        "kind",
        "architecture",
        "config",
        "weights_source",
        "weights_sha256",
        "preprocessing",
        "prompt_templates",
        "logit_scale",
        "engine",
        "precision",
        "weights_verified",
        "int8_gate",
        "is_active",
        "created_at",
        "updated_at",
    ]
    actions = ["make_active"]

    @admin.display(description="SHA-256")
    def short_sha(self, obj: ModelVersion) -> str:
        return obj.weights_sha256[:12]

    @admin.action(description="Make the selected version its kind's active model")
    def make_active(self, request, queryset) -> None:
        for version in queryset:
            model_version_activate(model_version=version)
        messages.success(request, f"Activated {', '.join(v.name for v in queryset)}.")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(TextEmbedding)
class TextEmbeddingAdmin(admin.ModelAdmin):
    list_display = ["label", "template_set", "model_version", "dim", "created_at"]
    list_filter = ["model_version", "template_set"]
    search_fields = ["label"]
    readonly_fields = ["model_version", "label", "template_set", "dim", "created_at"]
    exclude = ["vector"]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ModelAvailability)
class ModelAvailabilityAdmin(admin.ModelAdmin):
    """What each worker reported at start; ``reason`` says what to install or replace."""

    list_display = ["model_version", "worker", "ready", "engine", "precision", "reported_at"]
    list_filter = ["ready", "model_version"]
    readonly_fields = [
        "model_version",
        "worker",
        "ready",
        "reason",
        "engine",
        "precision",
        "reported_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False
