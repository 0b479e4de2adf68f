"""Query parameters of the image list: search, upload-date range and ordering, each validated."""
import django_filters
from django.db.models import Q, QuerySet

from .models import Image


class StableOrderingFilter(django_filters.OrderingFilter):
    """django-filter's ordering, ending with the id as a tie-breaker so every order is total
    (the keyset cursor of the list needs one)."""

    def filter(self, qs: QuerySet, value) -> QuerySet:
        qs = super().filter(qs, value)
        if value:
            qs = qs.order_by(*qs.query.order_by, "-id" if value[-1].startswith("-") else "id")
        return qs


class ImageFilter(django_filters.FilterSet):
    """?search=, ?uploaded_after=, ?uploaded_before=, ?ordering= on the requesting user's images."""

    search = django_filters.CharFilter(
        method="filter_search", help_text="Words in the title or description, ignoring case."
    )
    uploaded_after = django_filters.IsoDateTimeFilter(
        field_name="uploaded_at", lookup_expr="gte", help_text="ISO 8601 date-time: uploaded at or after it."
    )
    uploaded_before = django_filters.IsoDateTimeFilter(
        field_name="uploaded_at", lookup_expr="lt", help_text="ISO 8601 date-time: uploaded before it."
    )
    ordering = StableOrderingFilter(
        fields=("uploaded_at", "title", "size"),
        help_text="uploaded_at, -uploaded_at (the default), title, -title, size or -size.",
    )

    class Meta:
        model = Image
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))
