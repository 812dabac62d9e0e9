from __future__ import annotations

from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    """One usable model configuration; every result records the version that produced it.

    The name is derived from the configuration (architecture, pretrained tag), so a web
    process without the weights and a worker with them agree on it.
    """

    class Kind(models.TextChoices):
        IMAGENET = "imagenet", "ImageNet classifier"
        ZERO_SHOT = "zero_shot", "Zero-shot (CLIP)"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    architecture = models.CharField(max_length=100)  # registry key, e.g. "mobilenet_v2"
    # Everything the backend needs to build the model (e.g. open_clip model name and tag).
    config = models.JSONField(default=dict, blank=True)
    weights_source = models.CharField(max_length=500)
    # Filled in when the weights are seen (at creation if present here, else by the worker).
    weights_sha256 = models.CharField(max_length=64, blank=True)
    preprocessing = models.JSONField(default=dict, blank=True)
    prompt_templates = models.CharField(max_length=500, blank=True)  # CLIP_TEMPLATES value
    # CLIP's learned temperature, recorded by the worker on load so that re-scoring stored
    # embeddings needs no model; 1.0 for ImageNet logits.
    logit_scale = models.FloatField(null=True, blank=True)
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"], condition=Q(is_active=True), name="inference_one_active_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ImageEmbedding(models.Model):
    """The model's output for one image: CLIP's normalised image embedding, or ImageNet logits.

    Keyed by the image's content hash, so the same bytes are embedded once per model version.
    """

    content_hash = models.CharField(max_length=64)
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="image_embeddings"
    )
    dim = models.PositiveIntegerField()
    vector = models.BinaryField()  # little-endian float32 × dim
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["content_hash", "model_version"], name="inference_image_embedding_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.content_hash[:12]} @ {self.model_version_id}"


class TextEmbedding(models.Model):
    """A label's prompt-ensemble text embedding (mean of the templates, normalised)."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="text_embeddings"
    )
    label = models.CharField(max_length=100)
    template_set = models.CharField(max_length=100)  # name of the set, or "custom-<sha>"
    dim = models.PositiveIntegerField()
    vector = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "label", "template_set"],
                name="inference_text_embedding_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.template_set}) @ {self.model_version_id}"


class QueryEmbedding(models.Model):
    """A search query's text embedding (the raw words, no prompt template), cached so a
    repeated search costs a lookup, not a trip to the worker."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="query_embeddings"
    )
    text_sha256 = models.CharField(max_length=64)  # of the normalised text: the lookup key
    text = models.CharField(max_length=300)
    dim = models.PositiveIntegerField()
    vector = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "text_sha256"], name="inference_query_embedding_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.text[:40]} @ {self.model_version_id}"
