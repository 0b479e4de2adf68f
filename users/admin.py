"""Admin for accounts: Django's user admin, keyed on email."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm as DjangoAdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .models import User
from .services import user_usage, users_with_usage


class UserCreationForm(DjangoAdminUserCreationForm):
    class Meta(DjangoAdminUserCreationForm.Meta):
        model = User
        fields = ("email", "username")


class UserChangeForm(DjangoUserChangeForm):
    class Meta(DjangoUserChangeForm.Meta):
        model = User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Users by email, searchable by email and username, filterable by role, state and join date."""

    form = UserChangeForm
    add_form = UserCreationForm
    list_display = (
        "email",
        "username",
        "email_verified",
        "is_active",
        "is_staff",
        "date_joined",
        "last_login",
        "usage",
        "quota",
    )
    list_filter = ("email_verified", "is_active", "is_staff", "is_superuser", "date_joined")
    search_fields = ("email", "username", "first_name", "last_name")
    ordering = ("-date_joined",)
    fieldsets = (
        (None, {"fields": ("email", "email_verified", "username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
        (_("Storage"), {"fields": ("usage_summary", "quota_bytes")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "username", "usable_password", "password1", "password2")}),
    )
    readonly_fields = ("last_login", "date_joined", "usage_summary")

    def get_queryset(self, request):
        # Usage in the same query as the page of users (the usage hook's annotation), sortable.
        return users_with_usage(super().get_queryset(request))

    def save_model(self, request, obj: User, form, change: bool) -> None:
        if change and "email" in form.changed_data:
            obj.email_generation += 1  # verification links mailed to an earlier address stop working
        super().save_model(request, obj, form, change)

    @admin.display(description="Usage", ordering="usage_bytes")
    def usage(self, obj: User) -> str:
        if not hasattr(obj, "usage_bytes") or not hasattr(obj, "usage_images"):  # annotated together (get_queryset)
            return "—"
        return f"{filesizeformat(obj.usage_bytes)} in {obj.usage_images} image(s)"

    @admin.display(description="Quota", ordering="quota_bytes")
    def quota(self, obj: User) -> str:
        return filesizeformat(obj.quota_bytes) if obj.quota_bytes is not None else "default"

    @admin.display(description="Usage")
    def usage_summary(self, obj: User) -> str:
        usage = user_usage(obj) if obj.pk else None
        if usage is None:
            return "—"
        quota = filesizeformat(usage["quota_bytes"]) if usage["quota_bytes"] is not None else "no quota"
        return f"{filesizeformat(usage['bytes'])} in {usage['images']} image(s), of {quota}"
