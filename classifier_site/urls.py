from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from categories import urls as categories_urls
from classifier_site import api, health, views
from images import urls as images_urls
from jobs import urls as jobs_urls

api_v1 = [
    path("", api.api_index, name="api-index"),
    path("auth/token", api.TokenObtainApi.as_view(), name="api-token-obtain"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Redoc's bundle loads its logo from its vendor's CDN; a self-hosted app serves every
    # byte itself, so the old address leads to the (local) Swagger UI instead.
    path("redoc/", RedirectView.as_view(pattern_name="api-docs"), name="api-redoc"),
    *images_urls.api_urlpatterns,
    *categories_urls.api_urlpatterns,
    *jobs_urls.api_urlpatterns,
]

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    # Browsers ask for /favicon.ico on pages that name no icon (JSON, files): no 404 in logs.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
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
