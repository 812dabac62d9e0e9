"""The search-by-meaning page (with the gallery's other filters)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from classifier_site.core.errors import DomainError
from images.search import image_search
from images.selectors import FORMAT_CHOICES, ImageFilters


@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    filters = ImageFilters.from_params(request.GET)
    text = request.GET.get("text", "")
    result, error, status = None, "", 200
    if text.strip():
        try:
            result = image_search(user=request.user, text=text, filters=filters)
        except DomainError as exc:
            error, status = exc.message, exc.status_code
    context = {
        "text": text,
        "filters": filters,
        "result": result,
        "error": error,
        "formats": list(FORMAT_CHOICES.items()),
        "query": request.GET.urlencode(),
    }
    template = "images/search.html#search-results" if request.htmx else "images/search.html"  # type: ignore[attr-defined]
    return render(request, template, context, status=status)
