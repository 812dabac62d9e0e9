"""The /predict/ page: a live "classify this one photo" box (HTMX)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from classifier_site.core.errors import DomainError
from classifier_site.core.http import HtmxHttpRequest
from jobs import selectors as job_selectors
from jobs import services as job_services


def _result_context(job) -> dict:
    return {"job": job, "item": job.items.select_related("image").first()}


@login_required
@require_GET
def predict_page(request: HtmxHttpRequest) -> HttpResponse:
    recent = job_selectors.prediction_list(user=request.user)[:10]
    return render(request, "jobs/predict.html", {"recent": recent})


@login_required
@require_POST
def predict_submit(request: HtmxHttpRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    context: dict = {}
    if upload is None:
        context["error"] = "Choose a photo first."
    else:
        try:
            job = job_services.predict_submit(
                owner=request.user,
                fileobj=upload,  # type: ignore[arg-type]  # an UploadedFile is file-like
                filename=upload.name or "upload",
            )
        except DomainError as exc:
            context["error"] = exc.message
        else:
            job = job_selectors.job_wait(
                user=request.user, job_id=job.id, timeout=settings.PREDICT_WAIT_SECONDS
            )
            context.update(_result_context(job))
    template = "jobs/predict.html#result" if request.htmx else "jobs/predict.html"
    return render(request, template, context, status=400 if "error" in context else 200)


@login_required
@require_GET
def predict_result(request: HtmxHttpRequest, job_id) -> HttpResponse:
    job = job_selectors.job_get(user=request.user, job_id=job_id)
    template = "jobs/predict.html#result" if request.htmx else "jobs/predict.html"
    return render(request, template, _result_context(job))
