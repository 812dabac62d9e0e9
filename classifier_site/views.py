from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_GET

from images.selectors import image_list
from jobs.models import ACTIVE_STATUSES
from jobs.selectors import job_list


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    jobs = job_list(user=request.user)
    context = {
        "image_count": image_list(user=request.user).count(),
        "active_jobs": jobs.filter(status__in=ACTIVE_STATUSES).count(),
        "recent_jobs": list(jobs[:5]),
        "recent_images": list(image_list(user=request.user)[:8]),
    }
    return render(request, "dashboard.html", context)


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    # Resolved per request: with the hashed-manifest storage the name is known only once
    # collectstatic has run, which is after the URLconf is first imported (check --deploy).
    return HttpResponsePermanentRedirect(static("favicon.svg"))
