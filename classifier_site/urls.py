from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from categories import urls as categories_urls
from classifier_site import api, health, views
from classifier_site.core import errors
from images import urls as images_urls
from jobs import urls as jobs_urls

_docs = [api.ApiDocsPermission]
# Swagger UI and Redoc style their pages inline (and Redoc runs a blob: worker); their
# scripts are still this origin's files (the split view serves Swagger's set-up as one).
_docs_csp = csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]})

api_v1 = [
    path("", api.api_index, name="api-index"),
    path("auth/token", api.TokenObtainApi.as_view(), name="api-token-obtain"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=_docs), name="api-schema"),
    path(
        "docs/",
        _docs_csp(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=_docs)
        ),
        name="api-docs",
    ),
    # Redoc's bundle loads its logo and fonts from its vendor's sites; a self-hosted app
    # serves every byte itself, so the old address leads to the (local) Swagger UI instead.
    path("redoc/", RedirectView.as_view(pattern_name="api-docs"), name="api-redoc"),
    *images_urls.api_urlpatterns,
    *categories_urls.api_urlpatterns,
    *jobs_urls.api_urlpatterns,
    # The seed documents GET /health under the API's base URL too.
    path("health", health.health, name="api-health"),
]

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    # Browsers ask for /favicon.ico on pages that name no icon (JSON, files): no 404 in logs.
    path("favicon.ico", views.favicon),
    path("accounts/", include("classifier_site.accounts.urls")),
    path("admin/", admin.site.urls),
    path("health", health.health, name="health"),
    path("metrics", health.metrics, name="metrics"),
    path("api/v1/", include(api_v1)),
    path("images/", include(images_urls.urlpatterns)),
    path("categories/", include(categories_urls.urlpatterns)),
    path("jobs/", include(jobs_urls.urlpatterns)),
    path("predict/", include(jobs_urls.predict_urlpatterns)),
    # Anything else under /api/ is a JSON 404 (not the HTML page, not a slash redirect).
    re_path(r"^api/", errors.api_not_found),
]

# Django's own error pages answer /api/ paths in the JSON error shape.
handler400 = errors.handler400
handler403 = errors.handler403
handler404 = errors.handler404
handler500 = errors.handler500
