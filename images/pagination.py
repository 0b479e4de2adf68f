"""Paging that keeps the spec's plain JSON array: ?limit=N pages, a keyset cursor in a Link header.

Without ?limit, ?cursor or ?count the list is the spec's whole array. With them, the body is still a
plain array of at most `limit` items; the next page's address is in `Link: <...>; rel="next"` (RFC 8288)
and, with ?count=true, the number of matching images in `X-Total-Count`. The cursor holds the last
item's ordering values (keyset paging), so page 1000 costs one indexed query, as page 1 does. It is
signed: a client cannot forge values into the query, only hand back what it was given.
"""

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no", ""}
CURSOR_SALT = "images.pagination.cursor"


class KeysetLinkPagination(BasePagination):
    limit_query_param = "limit"
    cursor_query_param = "cursor"
    count_query_param = "count"

    def paginate_queryset(
        self, queryset: QuerySet[Any, Any] | Sequence[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        if not isinstance(queryset, QuerySet):
            raise TypeError("Keyset paging filters its rows in the database: it needs a queryset.")
        params = request.query_params
        if not any(p in params for p in (self.limit_query_param, self.cursor_query_param, self.count_query_param)):
            return None  # the spec's plain, whole list
        self.request, self.model = request, queryset.model
        self.limit = self._limit(params.get(self.limit_query_param))
        self.ordering = self._ordering(queryset)
        self.total = queryset.count() if self._flag(params.get(self.count_query_param, "")) else None

        if self.cursor_query_param in params:
            queryset = queryset.filter(self._after(self._decode(params[self.cursor_query_param])))
        if self.limit is None:
            self.next_cursor = None
            return list(queryset)
        page = list(queryset[: self.limit + 1])
        self.next_cursor = self._encode(page[self.limit - 1]) if len(page) > self.limit else None
        return page[: self.limit]

    def get_paginated_response(self, data) -> Response:
        headers = {}
        if self.next_cursor:
            url = self.request.build_absolute_uri()
            url = replace_query_param(url, self.cursor_query_param, self.next_cursor)
            headers["Link"] = f'<{url}>; rel="next"'
        if self.total is not None:
            headers["X-Total-Count"] = str(self.total)
        return Response(data, headers=headers)

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return schema  # still the plain array

    def get_schema_operation_parameters(self, view) -> list[dict]:
        maximum = settings.IMAGE_PAGE_SIZE_MAX
        return [
            {
                "name": self.limit_query_param,
                "in": "query",
                "required": False,
                "description": f"Page size (at most {maximum}). Without it the whole list is returned.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.cursor_query_param,
                "in": "query",
                "required": False,
                "description": 'Where the next page starts: take it from the Link rel="next" header.',
                "schema": {"type": "string"},
            },
            {
                "name": self.count_query_param,
                "in": "query",
                "required": False,
                "description": "true adds the number of matching images in an X-Total-Count header.",
                "schema": {"type": "boolean"},
            },
        ]

    # --- parameters -----------------------------------------------------------------------------

    def _limit(self, raw: str | None) -> int | None:
        if raw is None:
            return None if self.cursor_query_param not in self.request.query_params else settings.IMAGE_PAGE_SIZE_MAX
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if limit < 1:
            raise ValidationError({self.limit_query_param: ["Enter a whole number of at least 1."]})
        return min(limit, settings.IMAGE_PAGE_SIZE_MAX)

    def _flag(self, raw: str) -> bool:
        value = raw.strip().lower()
        if value not in TRUE | FALSE:
            raise ValidationError({self.count_query_param: ["Enter true or false."]})
        return value in TRUE

    @staticmethod
    def _ordering(queryset: QuerySet) -> list[str]:
        ordering: list[str] = []
        for field in queryset.query.order_by or queryset.model._meta.ordering or ():
            if not isinstance(field, str):  # the cursor holds each ordering field's value, read by its name
                raise TypeError(f"Keyset paging orders by field names, not by {field!r}.")
            ordering.append(field)
        if ordering[-1].lstrip("-") not in ("id", "pk"):
            ordering.append("-id" if ordering[-1].startswith("-") else "id")
        return ordering

    # --- the cursor -----------------------------------------------------------------------------

    def _encode(self, item) -> str:
        values = [getattr(item, field.lstrip("-")) for field in self.ordering]
        values = [value.isoformat() if hasattr(value, "isoformat") else value for value in values]
        return signing.dumps([self.ordering, values], salt=CURSOR_SALT, compress=True)

    def _decode(self, cursor: str) -> list:
        try:
            ordering, raw_values = signing.loads(cursor, salt=CURSOR_SALT)
            if ordering == self.ordering:
                fields = [self.model._meta.get_field(name.lstrip("-")) for name in ordering]
                return [field.to_python(value) for field, value in zip(fields, raw_values, strict=True)]
        except (signing.BadSignature, ValueError, TypeError, DjangoValidationError):
            pass
        raise ValidationError({self.cursor_query_param: ["Invalid cursor."]})

    def _after(self, values: list) -> Q:
        """Rows after the cursor: (a > x) or (a = x and b > y) ..., each comparison in its field's direction."""
        after, equal = Q(), Q()
        for field, value in zip(self.ordering, values, strict=True):
            name = field.lstrip("-")
            after |= equal & Q(**{f"{name}__{'lt' if field.startswith('-') else 'gt'}": value})
            equal &= Q(**{name: value})
        return after
