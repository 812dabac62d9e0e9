# Labels people own and search by meaning (issue 15); images/urls.py appends these lists.
from django.urls import path

from images import label_api, label_views, search_api, search_views

urlpatterns = [
    path("search/", search_views.search, name="images-search"),
    path("labels/", label_views.labels_bulk, name="images-labels"),
    path("labels.csv", label_views.labels_csv, name="images-labels-csv"),
    path("<uuid:image_id>/label/", label_views.label_one, name="images-label"),
]
api_urlpatterns = [
    path("search", search_api.SearchApi.as_view(), name="api-images-search"),
    path("search/", search_views.search, name="images-search"),
    path("labels", label_api.UserLabelListApi.as_view(), name="api-labels"),
    path("labels/clear", label_api.UserLabelClearApi.as_view(), name="api-labels-clear"),
    path("labels/export.csv", label_api.UserLabelCsvApi.as_view(), name="api-labels-export"),
]
