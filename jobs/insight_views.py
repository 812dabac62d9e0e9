"""Pages that look at jobs before and after they run: preview, compare, score histogram."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from categories.selectors import category_list
from classifier_site.core.errors import DomainError
from classifier_site.core.http import HtmxHttpRequest
from inference.models import ModelVersion
from jobs import compare, preview, selectors, thresholds
from jobs.forms import JobSubmitForm
from jobs.models import Job
from jobs.services import JobRequest
from jobs.views import _selection

COMPARE_CHOICES = 200  # newest finished jobs offered in the pickers


@login_required
@require_http_methods(["GET", "POST"])
def job_preview(request: HtmxHttpRequest) -> HttpResponse:
    params = request.POST if request.method == "POST" else request.GET
    image_ids, carried = _selection(request, params)
    form_kwargs: dict[str, Any] = {
        "categories": category_list(user=request.user),
        "model_versions": ModelVersion.objects.order_by("kind", "name"),
    }
    form = JobSubmitForm(params if "job_type" in params else None, **form_kwargs)
    result = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            result = preview.job_preview(
                owner=request.user,
                request=JobRequest(
                    job_type=data["job_type"],
                    image_ids=list(image_ids),
                    top_k=data["top_k"],
                    confidence_threshold=data["confidence_threshold"],
                    custom_labels=data["custom_labels"],
                    category_id=data["category"],
                    model_version_id=data["model_version"],
                ),
            )
        except DomainError as exc:
            form.add_domain_error(exc.field, exc.message)
    context = {
        "form": form,
        "image_ids": [] if carried else image_ids,
        "carried": carried,
        "count": len(image_ids),
        "preview": result,
    }
    if request.htmx:
        return render(request, "jobs/preview.html#preview-result", context)
    return render(request, "jobs/preview.html", context)


@login_required
@require_GET
def job_compare(request: HtmxHttpRequest) -> HttpResponse:
    a, b = request.GET.get("a", ""), request.GET.get("b", "")
    comparison = (
        compare.jobs_compare(user=request.user, job_a_id=a, job_b_id=b) if a and b else None
    )
    choices = Job.objects.filter(
        owner=request.user,  # type: ignore[misc]  # login_required: never anonymous source=JobSource.BATCH, status__in=TERMINAL_STATUSES
    ).select_related("model_version")[:COMPARE_CHOICES]
    context = {"comparison": comparison, "choices": choices, "a": a, "b": b}
    return render(request, "jobs/compare.html", context)


@login_required
@require_GET
def job_thresholds(request: HtmxHttpRequest, job_id) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=job_id)
    return render(request, "jobs/thresholds.html", {"histogram": thresholds.job_histogram(job=job)})
