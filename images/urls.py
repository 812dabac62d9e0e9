# Pages under /images/ and API routes under /api/v1/ (the root urlconf includes both lists).
from django.urls import path

from images import api, views

urlpatterns = [
    path("", views.gallery, name="images-gallery"),
    path("upload/", views.upload, name="images-upload"),
    path("delete/", views.bulk_delete, name="images-bulk-delete"),
    path("<uuid:image_id>/", views.detail, name="images-detail"),
    path("<uuid:image_id>/chip", views.image_chip, name="images-chip"),
    path("<uuid:image_id>/file", views.image_file, name="images-file"),
    path("<uuid:image_id>/thumbnail", views.image_thumbnail, name="images-thumbnail"),
    path("<uuid:image_id>/delete/", views.delete, name="images-delete"),
]

api_urlpatterns = [
    path("images", api.ImageListCreateApi.as_view(), name="api-images"),
    path("images/bulk-delete", api.ImageBulkDeleteApi.as_view(), name="api-images-bulk-delete"),
    path("images/finalize", api.DirectUploadFinalizeApi.as_view(), name="api-images-finalize"),
    path("images/<uuid:image_id>", api.ImageDetailApi.as_view(), name="api-image"),
    path("images/<uuid:image_id>/file", api.ImageFileApi.as_view(), name="api-image-file"),
    path(
        "images/<uuid:image_id>/thumbnail",
        api.ImageThumbnailApi.as_view(),
        name="api-image-thumbnail",
    ),
    path("upload-url", api.DirectUploadCreateApi.as_view(), name="api-upload-url"),
]

# Issue 15: labels people own, search by meaning.
from images import feature_urls  # noqa: E402

urlpatterns += feature_urls.urlpatterns
api_urlpatterns += feature_urls.api_urlpatterns
