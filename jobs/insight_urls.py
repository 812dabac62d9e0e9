# Preview, compare and thresholds (issue 15); jobs/urls.py appends these lists.
from django.urls import path

from jobs import insight_api, insight_views

urlpatterns = [
    path("preview/", insight_views.job_preview, name="job-preview"),
    path("compare/", insight_views.job_compare, name="job-compare"),
    path("<uuid:job_id>/thresholds/", insight_views.job_thresholds, name="job-thresholds"),
]
api_urlpatterns = [
    path("preview", insight_api.PreviewApi.as_view(), name="api-job-preview"),
    path("compare", insight_api.CompareApi.as_view(), name="api-job-compare"),
    path(
        "jobs/<str:job_id>/histogram", insight_api.HistogramApi.as_view(), name="api-job-histogram"
    ),
]
