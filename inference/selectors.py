"""Reads of the inference app (a leaf: no users; versions and weight status are global)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.db.models import QuerySet

from inference import registry
from inference.models import ModelAvailability, ModelVersion


def model_versions_list(*, kind: str | None = None) -> QuerySet[ModelVersion]:
    versions = ModelVersion.objects.all()
    return versions.filter(kind=kind) if kind else versions


def model_versions_available(*, kind: str | None = None) -> QuerySet[ModelVersion]:
    """Versions at least one worker reported it can run (weights verified, engine built).

    This is the web process's only source for availability: it has neither the weights nor
    the engines, so its own disk proves nothing.
    """
    ready = ModelAvailability.objects.filter(ready=True).values("model_version_id")
    return model_versions_list(kind=kind).filter(pk__in=ready)


def model_version_available(*, model_version: ModelVersion) -> bool:
    return ModelAvailability.objects.filter(model_version=model_version, ready=True).exists()


def model_version_default(*, kind: str) -> ModelVersion | None:
    """The version new work of ``kind`` should use: the active one if a worker can run it,
    else any version of the kind a worker can run (active first, then by name); None when
    no worker can run any."""
    return model_versions_available(kind=kind).order_by("-is_active", "name").first()


@dataclass(frozen=True)
class WeightsStatus:
    name: str
    kind: str
    architecture: str
    path: Path | None  # the file that would be loaded, None when missing
    expected_file: Path
    download_source: str


def model_weights_status() -> list[WeightsStatus]:
    """Every known model and whether its weights are on disk here (no torch)."""
    return [
        WeightsStatus(
            name=spec.name,
            kind=spec.kind,
            architecture=spec.architecture,
            path=spec.weights_file(),
            expected_file=spec.expected_file,
            download_source=spec.download_source,
        )
        for spec in registry.specs_all()
    ]
