"""What happens to newly stored photos, decided by an app above images.

Auto-classify on upload is a job, and images may not import jobs (docs/architecture.md).
Jobs registers a callback at start-up (``JobsConfig.ready``); ``images_ingest_many``
calls it once per upload request with the photos it newly stored, so one upload of ten
files makes one job, not ten. With none registered, nothing happens.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

Callback = Callable[..., object]  # (*, owner, image_ids: list[uuid.UUID]); result unused
_callbacks: list[Callback] = []


def after_upload_register(callback: Callback) -> None:
    if callback not in _callbacks:
        _callbacks.append(callback)


def after_upload(*, owner: Any, image_ids: list[uuid.UUID]) -> None:
    if not image_ids:
        return
    for callback in _callbacks:
        callback(owner=owner, image_ids=image_ids)
