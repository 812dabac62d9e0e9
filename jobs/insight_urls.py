# Issue 15 (preview, compare, thresholds, accepting labels, dataset export);
# jobs/urls.py appends these lists.
from django.urls import path

from jobs import insight_api, insight_views, label_api, label_views

urlpatterns = [
    path("preview/", insight_views.job_preview, name="job-preview"),
    path("compare/", insight_views.job_compare, name="job-compare"),
    path("<uuid:job_id>/thresholds/", insight_views.job_thresholds, name="job-thresholds"),
    path("<uuid:job_id>/accept/", label_views.job_labels_accept, name="job-labels-accept"),
    path("labels/accept/", label_views.labels_accept, name="labels-accept"),
    path("dataset.zip", label_views.dataset_zip, name="dataset-zip"),
]
api_urlpatterns = [
    path("preview", insight_api.PreviewApi.as_view(), name="api-job-preview"),
    path("compare", insight_api.CompareApi.as_view(), name="api-job-compare"),
    path(
        "jobs/<str:job_id>/histogram", insight_api.HistogramApi.as_view(), name="api-job-histogram"
    ),
    path("labels/accept", label_api.LabelAcceptApi.as_view(), name="api-labels-accept"),
    path("dataset", label_api.DatasetApi.as_view(), name="api-dataset"),
]
