"""Admin for images: owner, thumbnail, dimensions, format, size, status; uploads pass the API's validation, one
by one in the add form or many at once on the "Upload images" page (straight to the store, with Uppy)."""

import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .errors import QuotaExceeded
from .models import Image
from .quota import quota_check
from .services import image_create, variants_schedule_many
from .validators import validate_image_file
from .views import AdminDirectUploadCompleteView, AdminDirectUploadView, AdminUploadedImagesView


class ImageAdminForm(forms.ModelForm):
    """The admin's upload form, held to the same rules as the API."""

    class Meta:
        model = Image
        fields = ["user", "image", "title", "description"]

    def clean_image(self):
        file = self.cleaned_data["image"]
        if isinstance(file, UploadedFile):
            validate_image_file(file)  # shown on the form; image_create checks it again as it saves
        return file

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        file, user = cleaned.get("image"), cleaned.get("user")
        if isinstance(file, UploadedFile) and file.size is not None and user is not None:
            try:
                quota_check(user, file.size)  # the owner's quota holds here too (image_create checks it again)
            except QuotaExceeded as exc:
                self.add_error("image", exc.message)
        return cleaned


class BulkUploadForm(forms.Form):
    """The bulk upload page's one choice: whose images the files become."""

    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.all(),
        required=False,
        help_text="Leave empty to add the images to your own account.",
    )

    def __init__(self, *args, admin_site: admin.AdminSite, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]  # the admin's search-as-you-type select, as on the image form
        assert isinstance(owner, forms.ModelChoiceField)  # as declared above
        owner.widget = AutocompleteSelect(Image._meta.get_field("user"), admin_site)
        owner.widget.choices = owner.choices


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    """Images with their owner and what the file is; searchable, filterable, variants rebuildable."""

    form = ImageAdminForm
    # Compact columns (long titles and emails cut with an ellipsis, the file's facts in one column), so the
    # list fits a 1400 px window beside the admin's navigation and filters.
    list_display = ("id", "preview", "short_title", "owner", "file_facts", "status", "uploaded_on")
    list_display_links = ("id", "preview", "short_title")
    list_filter = ("processing", "format", "uploaded_at", ("user", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("user",)
    search_fields = ("title", "description", "user__email", "user__username", "checksum")
    date_hierarchy = "uploaded_at"
    autocomplete_fields = ("user",)
    actions = ["rebuild_variants"]
    readonly_fields = (
        "preview_large",
        "original_filename",
        "dimensions",
        "format",
        "mime_type",
        "file_size",
        "checksum",
        "upload_checksum",
        "processing",
        "variant_links",
        "uploaded_at",
        "updated_at",
    )

    def get_urls(self) -> list:
        """The bulk upload page, and the calls it makes (the API's signing and completion, in the admin's session)."""
        wrap, name = self.admin_site.admin_view, f"{self.opts.app_label}_{self.opts.model_name}_upload"
        return [
            path("upload/", wrap(self.bulk_upload_view), name=name),
            path("upload/sign/", wrap(AdminDirectUploadView.as_view()), name=f"{name}_sign"),
            path("upload/<uuid:pk>/complete/", wrap(AdminDirectUploadCompleteView.as_view()), name=f"{name}_complete"),
            path("upload/images/", wrap(AdminUploadedImagesView.as_view()), name=f"{name}_images"),
            *super().get_urls(),
        ]

    def bulk_upload_view(self, request: HttpRequest) -> TemplateResponse:
        """Upload images: drop many files; each goes straight to the store by PUT, then is completed and listed."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_upload"
        form = BulkUploadForm(admin_site=self.admin_site)
        placeholder = uuid.UUID(int=0)
        config = {
            "sign": reverse(f"{name}_sign"),
            "complete": reverse(f"{name}_complete", args=[placeholder]),
            "placeholder": str(placeholder),
            "images": reverse(f"{name}_images"),
            "owner": form["owner"].id_for_label,
            "me": request.user.get_username(),  # the email: USERNAME_FIELD
            "completing": settings.IMAGE_DIRECT_UPLOAD_CONCURRENCY,  # completions the page sends at once
            "note": f"Images up to {filesizeformat(settings.IMAGE_MAX_UPLOAD_SIZE)}: JPEG, PNG, GIF, WebP, HEIC, AVIF.",
        }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Upload images",
            "form": form,
            "media": self.media + form.media,
            "config": config,
        }
        return TemplateResponse(request, "admin/images/image/bulk_upload.html", context)

    def get_fieldsets(self, request, obj=None):
        given = (None, {"fields": ["user", "image", "title", "description"]})
        if obj is None:
            return [given]
        return [
            given,
            (
                "File",
                {
                    "fields": [
                        "preview_large",
                        "original_filename",
                        "dimensions",
                        "format",
                        "mime_type",
                        "file_size",
                        "checksum",
                        "upload_checksum",
                    ]
                },
            ),
            ("Processing", {"fields": ["processing", "variant_links"]}),
            ("Dates", {"fields": ["uploaded_at", "updated_at"]}),
        ]

    def save_model(self, request, obj: Image, form: ImageAdminForm, change: bool) -> None:
        if change:  # title and description only: the file and its owner are read-only
            super().save_model(request, obj, form, change)
            return
        # Staff uploading on a user's behalf mean to: IMAGE_DUPLICATES governs the API's uploads only.
        created = image_create(
            user=obj.user,
            file=form.cleaned_data["image"],
            title=obj.title,
            description=obj.description,
            duplicates="allow",
        )
        vars(obj).update(vars(created))  # the admin goes on with `obj` (its messages, its redirect)

    def get_readonly_fields(self, request, obj=None):
        # A stored file is never replaced in place: upload a new image instead.
        return self.readonly_fields + (("user", "image") if obj else ())

    @staticmethod
    def _url(obj: Image, variant: str) -> str:
        name = obj.variants.get(variant) or obj.image.name
        return obj.image.storage.url(name)

    @admin.display(description="Preview")
    def preview(self, obj: Image) -> str:
        return format_html('<img src="{}" alt="" style="max-height:48px;max-width:48px">', self._url(obj, "thumbnail"))

    @admin.display(description="Preview")
    def preview_large(self, obj: Image) -> str:
        return format_html('<img src="{}" alt="" style="max-height:320px;max-width:480px">', self._url(obj, "medium"))

    @admin.display(description="Variants")
    def variant_links(self, obj: Image) -> str:
        """Each variant as a linked thumbnail with its name and size (not the raw JSON of storage names)."""
        if not obj.variants:
            return "—"
        links = []
        for name, stored in obj.variants.items():
            url = obj.image.storage.url(stored)
            size = obj.variant_sizes.get(name)
            label = f"{name} {size[0]} × {size[1]}" if size else name
            links.append((url, url, name, label))
        return format_html_join(
            "",
            '<a href="{}" style="display:inline-block;margin-right:12px;text-align:center">'
            '<img src="{}" alt="{}" style="display:block;max-height:96px;max-width:128px">{}</a>',
            links,
        )

    @admin.display(description="Title", ordering="title")
    def short_title(self, obj: Image) -> str:
        return _cut(obj.title or obj.original_filename or obj.image.name or "", 120)

    @admin.display(description="Owner", ordering="user__email")
    def owner(self, obj: Image) -> str:
        return _cut(obj.user.email, 110)

    @admin.display(description="File", ordering="size")
    def file_facts(self, obj: Image) -> str:
        return format_html(
            '<span style="white-space:nowrap">{}<br>{} · {}</span>',
            self.dimensions(obj),
            obj.format or "—",
            filesizeformat(obj.size),
        )

    @admin.display(description="Status", ordering="processing")
    def status(self, obj: Image) -> str:
        return obj.get_processing_display()

    @admin.display(description="Uploaded", ordering="uploaded_at")
    def uploaded_on(self, obj: Image) -> str:
        return format_html(
            '<span title="{}" style="white-space:nowrap">{}</span>',
            obj.uploaded_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            obj.uploaded_at.strftime("%Y-%m-%d"),
        )

    @admin.display(description="Size", ordering="size")
    def file_size(self, obj: Image) -> str:
        return filesizeformat(obj.size)

    @admin.display(description="Dimensions")
    def dimensions(self, obj: Image) -> str:
        return f"{obj.width} × {obj.height}" if obj.width else "—"

    @admin.action(description="Rebuild variants of the selected images")
    def rebuild_variants(self, request, queryset) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        queryset.update(processing=Image.Processing.PENDING, processing_queued_at=timezone.now())
        variants_schedule_many(ids)
        self.message_user(request, f"Variants of {len(ids)} image(s) queued for rebuilding.", messages.SUCCESS)


def _cut(text: str, width_px: int) -> str:
    """Text on one line, cut with an ellipsis at this width; the whole of it shows on hover."""
    return format_html(
        '<span title="{}" style="display:inline-block;max-width:{}px;overflow:hidden;text-overflow:ellipsis;'
        'white-space:nowrap;vertical-align:top">{}</span>',
        text,
        width_px,
        text,
    )
