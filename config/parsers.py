"""Request body parsers: DRF's, made safe against bodies that would break them."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .timing import timed


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; a document nested deeper than Python's recursion limit is a 400, not a 500.

    `[` x 1000 + `]` x 1000 is 2 KB of valid JSON, and the json module raises RecursionError on it, which DRF
    does not catch (only ValueError): every JSON endpoint, the unauthenticated ones included, answered 500
    with a traceback in the log.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, timed as the step "parse" (reading the body, a large file into a temporary file)."""

    def parse(self, stream, media_type=None, parser_context=None):
        with timed("parse"):
            return super().parse(stream, media_type, parser_context)
