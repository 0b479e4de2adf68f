"""gunicorn settings for benchmarks of a threaded worker: the project's gunicorn.conf.py (gthread, 8 threads), plus
each request's CPU time in the thread that served it (thread_time, ns) logged to BENCH_CPU_LOG, "METHOD PATH NS".

bench/gunicorn_cpu.py measures the process's CPU around each request, which is each request's own in a sync worker
only; with threads serving requests at once, the thread's CPU is the request's.
"""

import os
import time
from pathlib import Path

exec(compile((Path(__file__).resolve().parents[1] / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"))


def pre_request(worker, req) -> None:
    req.cpu_started = time.thread_time_ns()


def post_request(worker, req, environ, resp) -> None:
    with open(os.environ["BENCH_CPU_LOG"], "a") as log:
        log.write(f"{req.method} {req.path} {time.thread_time_ns() - req.cpu_started}\n")
