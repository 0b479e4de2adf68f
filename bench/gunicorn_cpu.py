"""gunicorn settings for the benchmarks: log each request's CPU time in its worker (process_time, ns).

`gunicorn -c bench/gunicorn_cpu.py ...` with BENCH_CPU_LOG=<file>: one line per request, "METHOD PATH NS".
The hooks run in the worker around the whole WSGI call, request body reading included.
"""

import os
import time


def pre_request(worker, req) -> None:
    req.cpu_started = time.process_time_ns()


def post_request(worker, req, environ, resp) -> None:
    with open(os.environ["BENCH_CPU_LOG"], "a") as log:
        log.write(f"{req.method} {req.path} {time.process_time_ns() - req.cpu_started}\n")
