"""Pages for labels people own: bulk set/clear from the gallery, one photo, CSV export."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from classifier_site.core.errors import DomainError, NotFound
from images import labels, selectors
from images.views import _selection


@login_required
@require_http_methods(["GET", "POST"])
def labels_bulk(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    ids, filters, select_all = _selection(request, data)
    back = f"{reverse('images-gallery')}?{urlencode(filters.to_params())}"
    if not ids:
        messages.warning(request, "Select at least one image to label.")
        return redirect(back)
    owned = selectors.image_ids_owned(user=request.user, ids=ids)
    if len(owned) != len(set(map(str, ids))):
        raise NotFound("Image not found.")
    if request.method == "POST":
        try:
            if data.get("action") == "clear":
                n = labels.user_labels_clear(user=request.user, image_ids=owned)
                messages.success(request, f"Cleared the label of {n} image{'s' if n != 1 else ''}.")
            else:
                n = labels.user_labels_set_one(
                    user=request.user, image_ids=owned, label=data.get("label", "")
                )
                messages.success(request, f"Labelled {n} image{'s' if n != 1 else ''}.")
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect(f"{reverse('images-labels')}?{data.urlencode()}")
        return redirect(back)
    context = {
        "count": len(owned),
        "ids": [] if select_all else owned,
        "select_all": select_all,
        "filter_params": filters.to_params(),
        "back": back,
    }
    return render(request, "images/labels.html", context)


@login_required
@require_POST
def label_one(request: HttpRequest, image_id) -> HttpResponse:
    image = selectors.image_get(user=request.user, image_id=image_id)
    try:
        if request.POST.get("action") == "clear":
            labels.user_labels_clear(user=request.user, image_ids=[image.pk])
            messages.success(request, "Label cleared.")
        else:
            labels.user_labels_set_one(
                user=request.user, image_ids=[image.pk], label=request.POST.get("label", "")
            )
            messages.success(request, "Label saved.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("images-detail", image_id=image.pk)


@login_required
@require_GET
def labels_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(
        labels.user_labels_csv(user=request.user), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="labels.csv"'
    return response
