"""Category pages: list, create, edit, duplicate, delete."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from categories import examples, selectors, services
from categories.forms import CategoryForm
from classifier_site.core.errors import DomainError
from classifier_site.core.http import HtmxHttpRequest
from inference import services as inference


@login_required
@require_GET
def category_list(request: HtmxHttpRequest) -> HttpResponse:
    categories = selectors.category_list(user=request.user)
    return render(request, "categories/list.html", {"categories": categories})


def _form_page(request: HtmxHttpRequest, *, category=None) -> HttpResponse:
    if request.method == "POST":
        form = CategoryForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if category is None:
                    category = services.category_create(owner=request.user, **data)
                else:
                    services.category_update(category=category, **data)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, f"Saved “{category.name}”.")
                return redirect("category-list")
    elif category is not None:
        form = CategoryForm(
            initial={
                "name": category.name,
                "description": category.description,
                "labels": "\n".join(category.labels),
            }
        )
    else:
        form = CategoryForm()
    context = {"form": form, "category": category, "taught": _taught(category)}
    return render(request, "categories/form.html", context)


def _taught(category) -> examples.ExampleModel | None:
    """Examples per label and how separable they are, in the active CLIP model's space."""
    if category is None:
        return None
    try:
        version = inference.model_version_active(kind="zero_shot")
    except inference.ModelUnavailable:
        return None
    return examples.examples_fit(category=category, model_version=version)


@login_required
@require_POST
def category_examples_add(request: HtmxHttpRequest, category_id: int) -> HttpResponse:
    category = selectors.category_get(user=request.user, category_id=category_id)
    try:
        added = examples.category_examples_add(
            category=category,
            label=request.POST.get("label", ""),
            image_ids=request.POST.getlist("image"),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{added} example(s) of “{request.POST['label']}” added.")
    return redirect("category-edit", category_id=category.pk)


@login_required
@require_http_methods(["GET", "POST"])
def category_create(request: HtmxHttpRequest) -> HttpResponse:
    return _form_page(request)


@login_required
@require_http_methods(["GET", "POST"])
def category_edit(request: HtmxHttpRequest, category_id: int) -> HttpResponse:
    return _form_page(
        request, category=selectors.category_get(user=request.user, category_id=category_id)
    )


@login_required
@require_POST
def category_duplicate(request: HtmxHttpRequest, category_id: int) -> HttpResponse:
    copy = services.category_duplicate(
        category=selectors.category_get(user=request.user, category_id=category_id)
    )
    messages.success(request, f"Created “{copy.name}”.")
    return redirect("category-edit", category_id=copy.pk)


@login_required
@require_POST
def category_delete(request: HtmxHttpRequest, category_id: int) -> HttpResponse:
    category = selectors.category_get(user=request.user, category_id=category_id)
    services.category_delete(category=category)
    if request.htmx:
        categories = selectors.category_list(user=request.user)
        return render(request, "categories/list.html#category-table", {"categories": categories})
    messages.success(request, f"Deleted “{category.name}”.")
    return redirect("category-list")
