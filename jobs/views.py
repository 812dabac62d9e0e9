"""Job pages: submit, live progress, results, history, export."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from categories.selectors import category_list
from classifier_site.core.errors import DomainError
from classifier_site.core.http import HtmxHttpRequest
from images.selectors import ImageFilters, image_ids_owned, image_list
from inference.models import ModelVersion
from jobs import selectors, services
from jobs.api import export_response
from jobs.forms import JobFilterForm, JobSubmitForm, models_installed
from jobs.models import ItemStatus

PAGE_SIZE = 25
PREVIEW = 12
RESULTS_PAGE_SIZE = 100  # rows of the results table per page
GROUP_TILES = 48  # thumbnails shown per label group (the rest: "all in gallery")


def _selection(request: HtmxHttpRequest, params) -> tuple[list, dict[str, str]]:
    """The images a submit is for: ``image=<id>`` repeated, or ``all=1`` + gallery filters."""
    if params.get("all") == "1":
        filters = ImageFilters.from_params(params)
        qs = image_list(user=request.user, filters=filters)
        ids = list(qs.values_list("id", flat=True)[: settings.JOB_MAX_IMAGES + 1])
        return ids, {"all": "1", **filters.to_params()}
    # Only the user's own images count; another user's id is treated like a deleted one.
    wanted = params.getlist("image")
    owned = {str(i) for i in image_ids_owned(user=request.user, ids=wanted)}
    return [i for i in dict.fromkeys(wanted) if i in owned], {
        "missing": str(len(set(wanted)) - len(owned))
    }


@login_required
@require_http_methods(["GET", "POST"])
def job_new(request: HtmxHttpRequest) -> HttpResponse:
    params = request.POST if request.method == "POST" else request.GET
    image_ids, carried = _selection(request, params)
    missing = int(carried.pop("missing", "0") or 0)
    form_kwargs: dict[str, Any] = {
        "categories": category_list(user=request.user),
        "model_versions": ModelVersion.objects.order_by("kind", "name"),
        "installed": models_installed(),
        "staff": request.user.is_staff,
    }
    if request.method == "POST":
        form = JobSubmitForm(request.POST, **form_kwargs)
        if form.is_valid():
            data = form.cleaned_data
            try:
                result = services.job_submit(
                    owner=request.user,
                    job_type=data["job_type"],
                    image_ids=image_ids,
                    top_k=data["top_k"],
                    confidence_threshold=data["confidence_threshold"],
                    custom_labels=data["custom_labels"],
                    category_id=data["category"],
                    model_version_id=data["model_version"],
                )
            except DomainError as exc:
                form.add_domain_error(exc.field, exc.message)
            else:
                messages.success(request, f"Job submitted for {result.job.total} image(s).")
                return redirect("job-detail", job_id=result.job.id)
    else:
        initial = {}
        if request.GET.get("category"):
            initial = {"job_type": "custom_classification", "category": request.GET["category"]}
        form = JobSubmitForm(initial=initial, **form_kwargs)
    shown = image_ids_owned(user=request.user, ids=image_ids[:PREVIEW])
    preview = list(image_list(user=request.user).filter(id__in=shown))
    context = {
        "form": form,
        "image_ids": [] if carried else image_ids,
        "carried": carried,
        "count": len(image_ids),
        "missing": missing,
        "preview": preview,
    }
    return render(request, "jobs/new.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def job_detail(request: HtmxHttpRequest, job_id) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=job_id)
    progress = selectors.job_progress(job=job)
    context = {"job": job, "progress": progress, "reused": selectors.job_reused_count(job=job)}
    if request.htmx and request.htmx.target == "job-progress":
        response = render(request, "jobs/detail.html#progress", context)
        if job.is_terminal:
            # The job just finished while the page polled: reload once to show the results.
            response["HX-Refresh"] = "true"
        return response
    sort = request.GET.get("sort", "position")
    items = list(selectors.job_items(job=job, sort=sort))
    page = Paginator(items, RESULTS_PAGE_SIZE).get_page(request.GET.get("page"))
    context.update(
        sort=sort,
        items=page.object_list,
        page=page,
        groups=selectors.job_label_groups(items=items),
        group_tiles=GROUP_TILES,
        group_tiles_slice=f":{GROUP_TILES}",
        total_ms=sum(i.processing_ms or 0.0 for i in items),
        has_results=any(i.status != ItemStatus.PENDING for i in items),
    )
    if request.htmx and request.htmx.target == "job-results":
        return render(request, "jobs/detail.html#results", context)
    return render(request, "jobs/detail.html", context)


@login_required
@require_POST
def job_cancel(request: HtmxHttpRequest, job_id) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=job_id)
    try:
        services.job_cancel(job=job)
        messages.success(request, "Job canceled.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("job-detail", job_id=job.id)


@login_required
@require_POST
def job_retry(request: HtmxHttpRequest, job_id) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=job_id)
    try:
        services.job_retry_failed(job=job)
        messages.success(request, "Retrying the failed images.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("job-detail", job_id=job.id)


@login_required
@require_POST
def job_delete(request: HtmxHttpRequest, job_id) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=job_id)
    try:
        services.job_delete(job=job)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("job-detail", job_id=job.id)
    messages.success(request, "Job deleted.")
    return redirect("job-list")


@login_required
@require_GET
def job_export(request: HtmxHttpRequest, job_id, file_format: str) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=job_id)
    if file_format not in ("csv", "json"):
        raise Http404("Unknown export format.")
    return export_response(job, file_format)


@login_required
@require_GET
def job_list(request: HtmxHttpRequest) -> HttpResponse:
    form = JobFilterForm(request.GET or None)
    filters = selectors.JobFilters.from_params(request.GET)
    jobs = selectors.job_list(user=request.user, filters=filters)
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    for name in [name for name, value in query.items() if not value]:
        query.pop(name)  # empty form fields make no filter
    context = {"form": form, "page": page, "query": query.urlencode()}
    if (
        request.htmx
        and request.htmx.target == "job-table"
        and not request.htmx.history_restore_request
    ):
        response = render(request, "jobs/list.html#job-table", context)
        page_part = f"page={page.number}" if page.number > 1 else ""
        clean = "&".join(part for part in (query.urlencode(), page_part) if part)
        response["HX-Push-Url"] = f"{request.path}?{clean}" if clean else request.path
        return response
    return render(request, "jobs/list.html", context)


@login_required
@require_GET
def job_row(request: HtmxHttpRequest, job_id) -> HttpResponse:
    """One history/dashboard row, polled while its job is still running."""
    job = selectors.job_get(user=request.user, job_id=job_id)
    columns = "short" if request.GET.get("columns") == "short" else "full"
    return render(request, "jobs/_row.html", {"job": job, "columns": columns})


@login_required
@require_GET
def job_running_badge(request: HtmxHttpRequest) -> HttpResponse:
    """The nav's running-jobs count (polled: quickly while something runs)."""
    return render(request, "jobs/_running_badge.html")
