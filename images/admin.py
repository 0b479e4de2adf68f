"""Admin for images: owner, title, size, date and a small preview; uploads pass the API's validation."""
from django import forms
from django.contrib import admin
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from .models import Image
from .validators import clean_image_upload


class ImageAdminForm(forms.ModelForm):
    """The admin's upload form, held to the same rules as the API."""

    class Meta:
        model = Image
        fields = ["user", "image", "title", "description"]

    def clean_image(self):
        file = self.cleaned_data["image"]
        if isinstance(file, UploadedFile):
            clean_image_upload(file)
        return file


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    """Images with their owner, searchable by title and owner, filterable by date and owner."""

    form = ImageAdminForm
    list_display = ("id", "preview", "title", "user", "file_size", "uploaded_at")
    list_display_links = ("id", "preview", "title")
    list_filter = ("uploaded_at", ("user", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("user",)
    search_fields = ("title", "description", "user__email", "user__username")
    date_hierarchy = "uploaded_at"
    autocomplete_fields = ("user",)
    readonly_fields = ("preview_large", "file_size", "uploaded_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        # A stored file is never replaced in place: upload a new image instead.
        return self.readonly_fields + (("user", "image") if obj else ())

    @admin.display(description="Preview")
    def preview(self, obj: Image) -> str:
        return format_html('<img src="{}" alt="" style="max-height:48px;max-width:64px">', obj.image.url)

    @admin.display(description="Preview")
    def preview_large(self, obj: Image) -> str:
        return format_html('<img src="{}" alt="" style="max-height:320px;max-width:480px">', obj.image.url)

    @admin.display(description="Size", ordering="size")
    def file_size(self, obj: Image) -> str:
        return filesizeformat(obj.size)
