"""config.background: what a request defers runs once the WSGI server has sent its answer, never before."""

import logging

from config.background import AfterResponse, after_response
from config.logs import RequestIdMiddleware, current_request_id


def test_a_deferred_call_runs_when_the_server_closes_the_response_before_the_body_closes():
    events = []

    class Body(list):
        def close(self) -> None:
            events.append("body closed")

    def app(environ, start_response):
        after_response(events.append, "deferred")
        events.append("answered")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body([b"done"])

    body = AfterResponse(app)({}, lambda status, headers: None)
    assert b"".join(body) == b"done"
    assert events == ["answered"]  # the body is written first: nothing deferred has run

    body.close()

    assert events == ["answered", "deferred", "body closed"]


def test_with_nothing_deferred_the_body_is_passed_through_untouched():
    sent = [b"file"]

    def app(environ, start_response):
        start_response("200 OK", [])
        return sent

    assert AfterResponse(app)({}, lambda status, headers: None) is sent  # a file response stays one (sendfile)


def test_outside_a_request_it_runs_at_once_and_a_failure_is_logged_not_raised(caplog):
    calls = []
    after_response(calls.append, 1)

    def fail() -> None:
        raise ConnectionRefusedError("the mail server is down")

    after_response(fail)

    assert calls == [1]
    [record] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert "run after the response, failed" in record.getMessage()
    assert "the mail server is down" in caplog.text


def test_a_deferred_call_keeps_the_request_id_of_its_request(settings):
    """Account mail is queued after the answer: its task must still carry the request's id (config.logs)."""
    settings.LOG_REQUESTS = False
    seen = []

    def view(request):
        from django.http import HttpResponse

        after_response(lambda: seen.append(current_request_id()))
        return HttpResponse("ok")

    def app(environ, start_response):
        from django.test import RequestFactory

        response = RequestIdMiddleware(view)(RequestFactory().get("/", HTTP_X_REQUEST_ID="req-42"))
        start_response("200 OK", list(response.items()))
        return response

    body = AfterResponse(app)({}, lambda status, headers: None)
    assert current_request_id() is None  # the request is over: its id is no longer the current one
    body.close()

    assert seen == ["req-42"]
