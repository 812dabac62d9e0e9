"""Shared worker-side helpers (imports torch)."""

from __future__ import annotations

import threading

import torch
from django.conf import settings

_threads_set = threading.Event()


def torch_setup(threads: int = 0) -> None:
    """Apply TORCH_THREADS (else ``threads``, the model's tuned count) once per process."""
    if not _threads_set.is_set():
        if settings.TORCH_THREADS or threads:
            torch.set_num_threads(settings.TORCH_THREADS or threads)
        # Denormal floats (near-zero activations) are up to 100x slower on x86 CPUs.
        torch.set_flush_denormal(True)
        _threads_set.set()
