from django.contrib import admin

from categories.models import Category


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "label_count", "updated_at"]
    list_filter = ["owner"]
    search_fields = ["name", "owner__username"]
    list_select_related = ["owner"]

    @admin.display(description="labels")
    def label_count(self, obj) -> int:
        return len(obj.labels)
