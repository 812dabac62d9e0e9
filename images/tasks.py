"""Image actors: embedding photos on demand (search by meaning). Ids only."""

from __future__ import annotations

import dramatiq

from classifier_site.core.broker import QUEUE_JOBS
from images import search
from inference.models import ModelVersion


# Bulk work: on the jobs queue, behind nothing a person is waiting for interactively.
@dramatiq.actor(queue_name=QUEUE_JOBS, max_retries=2, time_limit=10 * 60 * 1000)
def images_embed(model_version_id: int, image_ids: list[str]) -> None:
    version = ModelVersion.objects.filter(pk=model_version_id).first()
    if version is None:
        return
    search.images_embed(model_version=version, image_ids=image_ids)
