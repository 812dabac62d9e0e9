# Pages under /categories/ and API routes under /api/v1/ (the root urlconf includes both lists).
from django.urls import path

from categories import api, views

urlpatterns = [
    path("", views.category_list, name="category-list"),
    path("new/", views.category_create, name="category-new"),
    path("<int:category_id>/edit/", views.category_edit, name="category-edit"),
    path("<int:category_id>/duplicate/", views.category_duplicate, name="category-duplicate"),
    path("<int:category_id>/delete/", views.category_delete, name="category-delete"),
    path("<int:category_id>/examples/", views.category_examples_add, name="category-examples-add"),
]
api_urlpatterns = [
    path("categories", api.CategoryListCreateApi.as_view(), name="api-categories"),
    path("categories/<int:category_id>", api.CategoryDetailApi.as_view(), name="api-category"),
]
