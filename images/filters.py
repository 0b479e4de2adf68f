"""Query parameters of the image list: search, checksum, upload-date range, processing state and ordering, each
validated (and no other: config.filters.KnownQueryParameters)."""

import django_filters
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend

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
    """?search=, ?checksum=, ?uploaded_after=, ?uploaded_before=, ?processing=, ?ordering= on the user's images."""

    search = django_filters.CharFilter(
        method="filter_search", help_text="Words in the title or description, ignoring case."
    )
    checksum = django_filters.CharFilter(
        method="filter_checksum",
        validators=[RegexValidator(r"^[0-9a-fA-F]{64}$", "Enter a SHA-256 checksum: 64 hexadecimal digits.")],
        help_text="SHA-256 (hex) of a file: the image whose stored bytes or uploaded bytes have it ("
        "a script skips files it has uploaded before).",
    )
    uploaded_after = django_filters.IsoDateTimeFilter(
        field_name="uploaded_at", lookup_expr="gte", help_text="ISO 8601 date-time: uploaded at or after it."
    )
    uploaded_before = django_filters.IsoDateTimeFilter(
        field_name="uploaded_at", lookup_expr="lt", help_text="ISO 8601 date-time: uploaded before it."
    )
    processing = django_filters.ChoiceFilter(
        choices=Image.Processing.choices,
        help_text="pending (variants not made yet), ready or failed: e.g. the images whose variants failed.",
    )
    ordering = StableOrderingFilter(
        fields=("uploaded_at", "title", "size"),
        help_text="uploaded_at, -uploaded_at (the default), title, -title, size or -size.",
    )

    class Meta:
        model = Image
        fields: list[str] = []

    def filter_checksum(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.lower()
        return queryset.filter(Q(checksum=value) | Q(upload_checksum=value))  # both indexed with the user

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))


class ImageFilterBackend(DjangoFilterBackend):
    """django-filter's backend, which builds and validates a form per request: skipped when the request names none of
    the filters (the plain list), where it would change nothing."""

    def filter_queryset(self, request, queryset: QuerySet, view) -> QuerySet:
        if not any(name in request.query_params for name in ImageFilter.base_filters):
            return queryset
        return super().filter_queryset(request, queryset, view)
