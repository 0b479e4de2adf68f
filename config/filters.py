"""A list refuses query parameters it does not know: `?page=2` is a 400 naming the ones it takes, not page one."""

from rest_framework.exceptions import ValidationError


class KnownQueryParameters:
    """A DRF filter backend, first in a list view's `filter_backends`: any query parameter that neither the view's
    other filter backends nor its paginator declare (the parameters the OpenAPI description lists) is a 400."""

    def filter_queryset(self, request, queryset, view):
        known = known_query_parameters(view)
        unknown = [name for name in request.query_params if name not in known]
        if unknown:
            takes = f"This list takes: {', '.join(known)}." if known else "This list takes no query parameters."
            raise ValidationError({name: [f"Unknown query parameter. {takes}"] for name in unknown})
        return queryset

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return []


def known_query_parameters(view) -> list[str]:
    """The names of the query parameters the view declares: its paginator's, its filter set's, its other backends'."""
    names = []
    if getattr(view, "paginator", None) is not None:
        names += [parameter["name"] for parameter in view.paginator.get_schema_operation_parameters(view)]
    for backend_class in getattr(view, "filter_backends", ()):
        if backend_class is KnownQueryParameters:
            continue
        backend = backend_class()
        if hasattr(backend, "get_filterset_class"):  # django-filter: one parameter per filter of the set
            filterset_class = backend.get_filterset_class(view, view.get_queryset())
            names += list(filterset_class.base_filters) if filterset_class else []
        else:
            names += [parameter["name"] for parameter in backend.get_schema_operation_parameters(view)]
    return names
