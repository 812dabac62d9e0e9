# Pages under /predict/ and API routes under /api/v1/ (the root urlconf includes both lists).
# Only the single-image predict endpoints (seed 004); the engine has no HTTP surface.
from django.urls import path

from inference import api, views

urlpatterns = [
    path("", views.predict_page, name="predict"),
    path("submit/", views.predict_submit, name="predict-submit"),
    path("<uuid:job_id>/", views.predict_result, name="predict-result"),
]
api_urlpatterns = [
    path("predict", api.PredictApi.as_view(), name="api-predict"),
    path("predictions", api.PredictionListApi.as_view(), name="api-predictions"),
]
