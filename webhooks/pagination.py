"""Deliveries newest first, always in pages: a plain array and the next page's address in a Link header.

The image list's shape (images.pagination), but paged even without ?limit: an endpoint's deliveries grow
without bound. The cursor is the last id shown, signed (keyset paging on the primary key: any page costs
what the first does).
"""

from django.core import signing
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

CURSOR_SALT = "webhooks.pagination.cursor"
PAGE_SIZE, PAGE_SIZE_MAX = 50, 100


class DeliveryPagination(BasePagination):
    limit_query_param = "limit"
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset, request, view=None) -> list:
        self.request = request
        limit = self._limit(request.query_params.get(self.limit_query_param))
        cursor = request.query_params.get(self.cursor_query_param)
        if cursor is not None:
            queryset = queryset.filter(pk__lt=self._decode(cursor))
        page = list(queryset.order_by("-pk")[: limit + 1])
        self.next_cursor = signing.dumps(page[limit - 1].pk, salt=CURSOR_SALT) if len(page) > limit else None
        return page[:limit]

    def get_paginated_response(self, data) -> Response:
        headers = {}
        if self.next_cursor:
            url = replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, self.next_cursor)
            headers["Link"] = f'<{url}>; rel="next"'
        return Response(data, headers=headers)

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return schema  # a plain array

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": self.limit_query_param,
                "in": "query",
                "required": False,
                "description": f"Page size (default {PAGE_SIZE}, at most {PAGE_SIZE_MAX}).",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.cursor_query_param,
                "in": "query",
                "required": False,
                "description": 'Where the next page starts: take it from the Link rel="next" header.',
                "schema": {"type": "string"},
            },
        ]

    def _limit(self, raw: str | None) -> int:
        if raw is None:
            return PAGE_SIZE
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if limit < 1:
            raise ValidationError({self.limit_query_param: ["Enter a whole number of at least 1."]})
        return min(limit, PAGE_SIZE_MAX)

    def _decode(self, cursor: str) -> int:
        try:
            value = signing.loads(cursor, salt=CURSOR_SALT)
        except signing.BadSignature:
            value = None
        if not isinstance(value, int):
            raise ValidationError({self.cursor_query_param: ["Invalid cursor."]})
        return value
