# Pages under /jobs/ and API routes under /api/v1/ (the root urlconf includes both lists).
from django.urls import path

from jobs import api, predict_api, predict_views, views

urlpatterns = [
    path("", views.job_list, name="job-list"),
    path("new/", views.job_new, name="job-new"),
    path("running/", views.job_running_badge, name="job-running-badge"),
    path("<uuid:job_id>/", views.job_detail, name="job-detail"),
    path("<uuid:job_id>/row/", views.job_row, name="job-row"),
    path("<uuid:job_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("<uuid:job_id>/retry/", views.job_retry, name="job-retry"),
    path("<uuid:job_id>/delete/", views.job_delete, name="job-delete"),
    path("<uuid:job_id>/export.<str:file_format>", views.job_export, name="job-export"),
]
api_urlpatterns = [
    path("submit", api.SubmitApi.as_view(), name="api-job-submit"),
    path("status/<str:job_id>", api.StatusApi.as_view(), name="api-job-status"),
    path("result/<str:job_id>", api.ResultApi.as_view(), name="api-job-result"),
    path("jobs", api.JobListApi.as_view(), name="api-job-list"),
    path("jobs/<str:job_id>", api.JobDetailApi.as_view(), name="api-job-detail"),
    path("jobs/<str:job_id>/cancel", api.CancelApi.as_view(), name="api-job-cancel"),
    path("jobs/<str:job_id>/retry", api.RetryApi.as_view(), name="api-job-retry"),
    path(
        "jobs/<str:job_id>/export.<str:file_format>",
        api.ExportApi.as_view(),
        name="api-job-export",
    ),
    # The single-image predict API (one-image jobs on the high-priority queue).
    path("predict", predict_api.PredictApi.as_view(), name="api-predict"),
    path("predictions", predict_api.PredictionListApi.as_view(), name="api-predictions"),
]
# The live "classify this one photo" page, under /predict/.
predict_urlpatterns = [
    path("", predict_views.predict_page, name="predict"),
    path("submit/", predict_views.predict_submit, name="predict-submit"),
    path("<uuid:job_id>/", predict_views.predict_result, name="predict-result"),
]

# Issue 15: preview before you run, compare two runs, score histograms.
from jobs import insight_urls  # noqa: E402

urlpatterns += insight_urls.urlpatterns
api_urlpatterns += insight_urls.api_urlpatterns
