"""Reads of the inference app (a leaf: no users; versions and weight status are global)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.db.models import QuerySet

from inference import registry
from inference.models import ModelVersion


def model_versions_list(*, kind: str | None = None) -> QuerySet[ModelVersion]:
    versions = ModelVersion.objects.all()
    return versions.filter(kind=kind) if kind else versions


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
