"""Gallery, upload and image pages (HTMX: partials are rendered alone for htmx requests)."""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from classifier_site.core.errors import NotFound
from images import selectors, services
from images.files import image_file_response
from images.forms import UploadForm
from images.intake import ACCEPTED_TEXT
from images.selectors import FORMAT_CHOICES, SORT_LABELS, ImageFilters
from images.uploads import limit_upload_size

PAGE_SIZE = 48
DELETE_PREVIEW = 24  # thumbnails shown on the delete confirmation


def _template(request: HttpRequest, page: str, partial: str) -> str:
    htmx = request.htmx  # type: ignore[attr-defined]
    # A history-restore request (Back after the cache was dropped) needs the whole page.
    return f"{page}#{partial}" if htmx and not htmx.history_restore_request else page


@login_required
@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    filters = ImageFilters.from_params(request.GET)
    images = selectors.image_list(user=request.user, filters=filters)
    page = selectors.image_page(
        images,
        sort=filters.sort,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
        size=PAGE_SIZE,
    )
    params = filters.to_params()
    base = reverse("images-gallery")

    def link(**cursor: str) -> str:
        return f"{base}?{urlencode({**params, **cursor})}"

    labels = selectors.image_labels(user=request.user, images=page.items)
    busy = selectors.image_ids_busy(user=request.user, images=page.items)
    context = {
        "filters": filters,
        "filter_params": params,
        "page": page,
        "tiles": [(image, labels.get(image.pk), image.pk in busy) for image in page.items],
        "busy": bool(busy),
        # Called by the template only where shown (the full page, not the grid partial).
        "facet": functools.cache(lambda: selectors.label_facet(user=request.user)),
        "total": images.count(),
        "next_url": link(after=page.next_cursor) if page.next_cursor else None,
        "prev_url": link(before=page.prev_cursor) if page.prev_cursor else None,
        "formats": [(key, name) for key, name in FORMAT_CHOICES.items()],
        "sorts": SORT_LABELS.items(),
    }
    response = render(request, _template(request, "images/gallery.html", "results"), context)
    if request.htmx:  # type: ignore[attr-defined]
        # The address bar shows only the filters in effect, not every empty form field.
        cursor = {k: request.GET[k] for k in ("after", "before") if request.GET.get(k)}
        response["HX-Push-Url"] = link(**cursor) if (params or cursor) else base
    return response


@login_required
@require_GET
def detail(request: HttpRequest, image_id) -> HttpResponse:
    image = selectors.image_get(user=request.user, image_id=image_id)
    if request.GET.get("panel") == "1":
        # The lightbox's view of the photo: picture, predictions and jobs, no page chrome.
        return render(request, "images/detail.html#panel", {"image": image})
    return render(request, "images/detail.html", {"image": image})


@login_required
@require_GET
def image_chip(request: HttpRequest, image_id) -> HttpResponse:
    """A gallery tile's label chip; polled while a job is still classifying the image."""
    image = selectors.image_get(user=request.user, image_id=image_id)
    labels = selectors.image_labels(user=request.user, images=[image])
    busy = selectors.image_ids_busy(user=request.user, images=[image])
    context = {"image": image, "label": labels.get(image.pk), "busy": image.pk in busy}
    return render(request, "images/_chip.html", context)


@login_required
@require_GET
def image_file(request: HttpRequest, image_id) -> HttpResponseBase:
    image = selectors.image_get(user=request.user, image_id=image_id)
    return image_file_response(image, download=request.GET.get("download") == "1")


@login_required
@require_GET
def image_thumbnail(request: HttpRequest, image_id) -> HttpResponseBase:
    image = selectors.image_get(user=request.user, image_id=image_id)
    # No thumbnail (yet, or never made for an imported file): the original still shows
    # the photo, where a 404 would show a broken image.
    return image_file_response(image, thumbnail=bool(image.thumbnail.name))


@csrf_exempt  # the size-limiting upload handler must go in before CSRF reads the body ...
@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    limit_upload_size(request)
    if request.method == "POST":
        try:
            request.FILES  # noqa: B018 - parse now, to answer a broken body with a reason
        except MultiPartParserError as exc:
            context = {
                "form": UploadForm(),
                "accepted": ACCEPTED_TEXT,
                "max_bytes": settings.IMAGE_MAX_BYTES,
                "max_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
                "upload_error": _multipart_reason(exc),
            }
            return render(
                request, _template(request, "images/upload.html", "outcomes"), context, status=400
            )
    return _upload(request)


def _multipart_reason(exc: Exception) -> str:
    if "header size" in str(exc):
        return (
            "The upload could not be read: a file name is too long. "
            "Rename the file to something shorter and try again."
        )
    return f"The upload could not be read ({exc}). Try again with fewer or smaller files."


@csrf_protect  # ... and then CSRF is checked as usual
def _upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
    context = {
        "form": form,
        "accepted": ACCEPTED_TEXT,
        "max_bytes": settings.IMAGE_MAX_BYTES,
        "max_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
        "outcomes": None,
    }
    status = 200
    if request.method == "POST":
        if form.is_valid():
            outcomes = services.images_ingest_many(
                owner=request.user, files=[(f, f.name) for f in form.cleaned_data["files"]]
            )
            context["outcomes"] = outcomes
            context["counts"] = {
                kind: sum(1 for o in outcomes if o.outcome == kind)
                for kind in ("stored", "duplicate", "rejected")
            }
            kept = [o.image.pk for o in outcomes if o.image is not None]
            context["classify_ids"] = list(dict.fromkeys(kept))
            status = services.rejected_status(outcomes) or 200
        else:
            status = 400
    return render(
        request, _template(request, "images/upload.html", "outcomes"), context, status=status
    )


def _selection(request: HttpRequest, data) -> tuple[list, ImageFilters, bool]:
    """The images a bulk action names: ticked ``image`` ids, or ``all=1`` + the filters."""
    filters = ImageFilters.from_params(data)
    if data.get("all") == "1":
        ids = list(
            selectors.image_list(user=request.user, filters=filters).values_list("id", flat=True)
        )
        return ids, filters, True
    return data.getlist("image"), filters, False


@login_required
@require_http_methods(["GET", "POST"])
def bulk_delete(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    ids, filters, select_all = _selection(request, data)
    back = f"{reverse('images-gallery')}?{urlencode(filters.to_params())}"
    if not ids:
        messages.warning(request, "Select at least one image to delete.")
        return redirect(back)
    if request.method == "POST":
        deleted = services.images_delete(user=request.user, ids=ids)
        messages.success(request, f"Deleted {deleted} image{'s' if deleted != 1 else ''}.")
        return redirect(back)
    owned = selectors.image_ids_owned(user=request.user, ids=ids)
    if len(owned) != len(set(map(str, ids))):
        raise NotFound("Image not found.")
    context = {
        "count": len(owned),
        "preview": list(
            selectors.image_list(user=request.user).filter(id__in=owned[:DELETE_PREVIEW])
        ),
        "ids": [] if select_all else owned,
        "select_all": select_all,
        "filter_params": filters.to_params(),
        "back": back,
    }
    return render(request, "images/confirm_delete.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, image_id) -> HttpResponse:
    image = selectors.image_get(user=request.user, image_id=image_id)
    if request.method == "POST":
        services.image_delete(user=request.user, image=image)
        messages.success(request, f"Deleted {image.original_filename}.")
        return redirect("images-gallery")
    context = {
        "count": 1,
        "preview": [image],
        "ids": [image.pk],
        "image": image,
        "select_all": False,
        "filter_params": {},
        "back": reverse("images-detail", args=[image.pk]),
        "action": reverse("images-delete", args=[image.pk]),
    }
    return render(request, "images/confirm_delete.html", context)
