"""Pages: accept predictions as own labels (gallery, photo, results page), dataset zip."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from classifier_site.core.errors import DomainError, NotFound
from classifier_site.core.http import HtmxHttpRequest
from images.selectors import image_ids_owned
from jobs import labels, selectors
from jobs.views import _selection


def _back(request: HtmxHttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    ok = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    return target if target and ok else default


def _said(result: labels.AcceptResult) -> str:
    text = f"Accepted {result.accepted} prediction{'s' if result.accepted != 1 else ''}"
    if result.skipped:
        text += f"; {result.skipped} had none above its threshold"
    return text + "."


@login_required
@require_POST
def labels_accept(request: HtmxHttpRequest) -> HttpResponse:
    image_ids, _ = _selection(request, request.POST)
    try:
        messages.success(
            request, _said(labels.user_labels_accept(user=request.user, image_ids=image_ids))
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(_back(request, "/images/"))


@login_required
@require_POST
def job_labels_accept(request: HtmxHttpRequest, job_id) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=job_id)
    messages.success(request, _said(labels.user_labels_accept_job(user=request.user, job=job)))
    return redirect("job-detail", job_id=job.id)


def dataset_response(entries: list[labels.DatasetEntry]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        labels.dataset_zip_stream(entries), content_type="application/zip"
    )
    response["Content-Disposition"] = 'attachment; filename="dataset.zip"'
    return response


@login_required
@require_GET
def dataset_zip(request: HtmxHttpRequest) -> HttpResponse | StreamingHttpResponse:
    image_ids, _ = _selection(request, request.GET)
    if len(image_ids_owned(user=request.user, ids=image_ids)) != len(set(map(str, image_ids))):
        raise NotFound("Image not found.")
    try:
        entries = labels.dataset_entries(user=request.user, image_ids=image_ids)
    except DomainError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain")
    return dataset_response(entries)
