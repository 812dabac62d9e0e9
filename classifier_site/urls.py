from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from categories import urls as categories_urls
from classifier_site import api, health, views
from images import urls as images_urls
from jobs import urls as jobs_urls

_docs = [api.ApiDocsPermission]
# Swagger UI and Redoc style their pages inline (and Redoc runs a blob: worker); their
# scripts are still this origin's files (the split view serves Swagger's set-up as one).
_docs_csp = csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]})

api_v1 = [
    path("", api.api_index, name="api-index"),
    path("auth/token", api.TokenObtainView.as_view(), name="api-token-obtain"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=_docs), name="api-schema"),
    path(
        "docs/",
        _docs_csp(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=_docs)
        ),
        name="api-docs",
    ),
    path(
        "redoc/",
        _docs_csp(SpectacularRedocView.as_view(url_name="api-schema", permission_classes=_docs)),
        name="api-redoc",
    ),
    *images_urls.api_urlpatterns,
    *categories_urls.api_urlpatterns,
    *jobs_urls.api_urlpatterns,
]

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("accounts/", include("classifier_site.accounts.urls")),
    path("admin/", admin.site.urls),
    path("health", health.health, name="health"),
    path("metrics", health.metrics, name="metrics"),
    path("api/v1/", include(api_v1)),
    path("images/", include(images_urls.urlpatterns)),
    path("categories/", include(categories_urls.urlpatterns)),
    path("jobs/", include(jobs_urls.urlpatterns)),
    path("predict/", include(jobs_urls.predict_urlpatterns)),
]
