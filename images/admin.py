from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from images.files import image_file_response
from images.models import Image
from images.services import images_delete


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = [
        "thumb",
        "original_filename",
        "owner",
        "format",
        "width",
        "height",
        "size_bytes",
        "created_at",
    ]
    list_display_links = ["thumb", "original_filename"]
    list_filter = ["format", "created_at"]
    search_fields = ["owner__username", "owner__email", "original_filename", "=sha256"]
    list_select_related = ["owner"]
    show_full_result_count = False  # a COUNT over every image on each page view is slow
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Image._meta.fields] + ["thumb"]
    # Deletion goes through images.services, which removes the stored files too.
    actions = ["delete_with_files"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # images enter through intake only

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # the stock delete would leave the files behind

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        if not request.user.has_perm("images.delete_image"):
            actions.pop("delete_with_files", None)
        return actions

    @admin.action(description="Delete selected images and their files")
    def delete_with_files(self, request: HttpRequest, queryset) -> None:
        by_owner: dict = {}
        for image in queryset.select_related("owner"):
            by_owner.setdefault(image.owner, []).append(image.pk)
        deleted = sum(images_delete(user=owner, ids=ids) for owner, ids in by_owner.items())
        self.message_user(request, f"Deleted {deleted} images and their files.", messages.SUCCESS)

    @admin.display(description="Thumbnail")
    def thumb(self, obj: Image) -> str:
        if not obj.thumbnail:
            return "—"
        url = reverse("admin:images_image_thumbnail", args=[obj.pk])
        return format_html('<img src="{}" alt="" style="height:48px;border-radius:4px">', url)

    def get_urls(self):
        # Owners see their files through ownership-checked views; staff get their own
        # route here, guarded by the admin's view permission.
        extra = [
            path(
                "<uuid:image_id>/thumbnail/",
                self.admin_site.admin_view(self.thumbnail_view),
                name="images_image_thumbnail",
            ),
        ]
        return extra + super().get_urls()

    def thumbnail_view(self, request: HttpRequest, image_id) -> HttpResponseBase:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return image_file_response(get_object_or_404(Image, pk=image_id), thumbnail=True)
