"""gunicorn's settings, read from the project's root by every `gunicorn config.wsgi:application` (docs/deployment.md).

gunicorn refuses a request it cannot parse (a request line over its limit, a malformed header) before Django
sees it, with an HTML page. Clients of this API parse JSON, so those answers are JSON too, in the shape of the
API's own errors: {"detail": ..., "code": ...}.
"""

import json
import os
import shutil
import tempfile

from gunicorn import util

# Threads, not one request per process: a request that waits (on the store, a worker's verdict, a slow client's
# body) holds one thread of its process, and the others go on answering. Django keeps a database connection per
# thread (CONN_MAX_AGE): each worker process may hold up to `threads` of them. Still, gunicorn must not face
# clients directly (docs/deployment.md, "Reverse Proxy"): a proxy that buffers request bodies, as nginx does,
# hands it only complete requests.
worker_class = "gthread"
threads = 8

# The longest request line gunicorn allows (its default is 4094): a list URL with every filter, a long search
# and a cursor fits. A longer one is refused with the JSON 400 below.
limit_request_line = 8190


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """Send gunicorn's own error answer (400, 403, 431, 500, 501) as JSON instead of HTML."""
    code = reason.lower().replace(" ", "_")
    body = json.dumps({"detail": mesg or reason, "code": code}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


# gunicorn has no setting for its error pages: every worker class calls util.write_error, so that is the one
# place to replace. This file runs in the arbiter before the workers are forked; they inherit it.
util.write_error = write_json_error


# /metrics (config.metrics): each worker process counts its own requests; a scrape reaches one of them and must see
# all of them added up. prometheus-client's multiprocess mode does that through files in a folder the processes of this
# server share: a fresh one for each start (made before the workers are forked, so each one inherits it), the counts of
# a worker that exits kept (a counter never goes back), the folder removed when the server stops.
_metrics_dir: str | None = None


def on_starting(server) -> None:
    global _metrics_dir
    _metrics_dir = tempfile.mkdtemp(prefix="image-api-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if _metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
