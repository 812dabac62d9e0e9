"""Template context every page's layout needs (the nav's running-jobs badge)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest

from jobs.selectors import job_running_count


def nav(request: HttpRequest) -> dict[str, Callable[[], int]]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # A callable, so templates that don't show the nav (htmx partials) cost no query; the
    # template engine calls it once per render where it is used.
    return {"running_jobs": functools.cache(lambda: job_running_count(user=user))}
