"""Ten photos of about 2 MB through the admin's "Upload images" page, in Chromium: the wall time from the Upload click
until all ten are listed ready, and the API's CPU per upload.

A deployment's shape on one machine, as bench/direct_upload_cpu.py has it: gunicorn (one worker of the project's
gunicorn.conf.py, 8 threads, on a core of its own) in front of SeaweedFS, PostgreSQL, Celery on a Redis of the
bench's own with two workers (verifications, variants). The browser test of .ci/browser drives the page (each file
a PUT straight to SeaweedFS, then its completion, which a worker verifies while the API waits). The API's CPU is
the serving thread's around each request (bench/gunicorn_thread_cpu.py): sign + complete per upload, as
bench/direct_upload_cpu.py counts a direct upload, and beside it the page's polls and everything else the worker
process spent during the run. Batches of ten follow one another (the first is cold), then one with the
browser's uploads limited to --mbit (a client's link, not loopback), whose screenshots of the page (uploading,
during, after) go to --screenshots.

Run by hand after `bash .ci/browser/run` (which installs chromium and the npm packages):
.venv/bin/python bench/admin_bulk_upload.py [--size 2000000] [--database sqlite]
Needs PostgreSQL on 127.0.0.1:5432 (trust, postgres), redis-server and the `weed` binary of requirements-dev.txt.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project's root: testutils
sys.path.insert(0, str(ROOT / ".ci" / "browser"))
import stack  # noqa: E402  (.ci/browser/stack.py: the same servers as the browser tests)

from testutils import (  # noqa: E402
    child_pids,
    cpu_seconds,
    free_port,
    postgres_database,
    postgres_drop,
    start_celery_worker,
    start_gunicorn,
    start_redis,
    terminate,
)

PG_DATABASE = "admin_bulk_upload_bench"


def request_cpu(log: Path) -> dict[str, list[float]]:
    """CPU seconds of each request by kind, from bench/gunicorn_thread_cpu.py's log."""
    kinds = (("/upload/sign/", "sign"), ("/complete/", "complete"), ("/upload/images/", "poll"))
    found: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        _, path, ns = line.split()
        kind = next((name for part, name in kinds if part in path), "other")
        found.setdefault(kind, []).append(int(ns) / 1e9)
    return found


def report(files: int, batch: str, wall: float, cpu: dict[str, list[float]], worker_cpu: float) -> None:
    per_upload = (sum(cpu["sign"]) + sum(cpu["complete"])) / files
    print(f"  {batch}: wall time, Upload click to all {files} listed ready: {wall:.1f} s")
    print(
        f"    API CPU per upload (sign + complete, the serving thread's): {per_upload * 1000:.1f} ms "
        f"(sign {statistics.mean(cpu['sign']) * 1000:.1f} ms x {len(cpu['sign'])}, complete "
        f"{statistics.mean(cpu['complete']) * 1000:.1f} ms x {len(cpu['complete'])}: "
        f"{len(cpu['complete']) - files} answered 503 busy and retried)"
    )
    print(
        f"    the page's polls {sum(cpu.get('poll', [])) * 1000:.0f} ms in {len(cpu.get('poll', []))} requests; "
        f"the rest (API logins, admin login and pages, static files) {sum(cpu.get('other', [])) * 1000:.0f} ms in "
        f"{len(cpu.get('other', []))}; the worker process in all {worker_cpu * 1000:.0f} ms "
        f"({worker_cpu * 1000 / files:.1f} ms per upload)"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--size", type=int, default=2_000_000, help="bytes of each photo (at least)")
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--batches", type=int, default=3, help="batches on loopback: the first is cold")
    parser.add_argument("--mbit", type=int, default=50, help="the browser's upload speed in the last batch")
    parser.add_argument("--screenshots", default=str(ROOT / ".ci" / "browser" / "screenshots"))
    args = parser.parse_args()
    api_cores, other_cores = {0}, set(range(1, os.cpu_count() or 1)) or {0}
    os.sched_setaffinity(0, other_cores)
    work = Path(tempfile.mkdtemp(prefix="admin-bulk-bench-"))
    processes: list[subprocess.Popen] = []
    database = ""
    try:
        redis_port = free_port()
        processes.append(start_redis(redis_port, work))
        broker = f"redis://127.0.0.1:{redis_port}/0"
        s3 = f"http://127.0.0.1:{free_port()}"
        weed = stack.start_store(work / "weed", s3)
        processes.append(weed)
        if args.database == "postgres":
            database = postgres_database(PG_DATABASE)
        api = stack.Api("bench", free_port(), {}, work / "api", store=s3)
        cpu_log = work / "request-cpu.log"
        api.env = stack.api_env(
            api.folder, cors=[], database=database, s3_endpoint=s3, CELERY_BROKER_URL=broker, BENCH_CPU_LOG=str(cpu_log)
        )
        if stack.prepare(api).wait() != 0:
            raise SystemExit(api.log_tail())
        server = start_gunicorn(
            api.port,
            api.env,
            api.folder / "gunicorn.log",
            "-c",
            str(ROOT / "bench" / "gunicorn_thread_cpu.py"),
            "--pythonpath",
            str(stack.HERE),
            app="static_wsgi:application",
            preexec_fn=lambda: os.sched_setaffinity(0, api_cores),
        )
        api.processes.append(server)
        processes.append(server)
        for queue in ("uploads", "celery"):
            log = api.folder / f"worker-{queue}.log"
            processes.append(
                start_celery_worker(api.env, log, "--loglevel=WARNING", "-Q", queue, "-n", f"{queue}@bench")
            )
        stack.bucket_ready(s3, [api.base], weed)
        stack.wait_for_api(api)
        (work / "files").mkdir()
        files = stack.photos(work / "files", "photo", args.files, args.size)
        sizes = [path.stat().st_size for path in files]
        worker = child_pids(server.pid)[0]
        config = {
            "page": f"http://127.0.0.1:{free_port()}",
            "example": "",
            "uppy": str(stack.HERE / "node_modules" / "uppy" / "dist"),
            "photos": [],
            "bulk": [str(path) for path in files],
            "screenshots": args.screenshots,
            "stacks": [{"name": api.name, "api": api.base, "store": s3, "password": stack.PASSWORD}],
        }
        timings = work / "timings.json"
        os.environ |= {"BROWSER_ONLY": "the admin uploads", "BROWSER_TIMINGS": str(timings)}
        print(
            f"{args.files} photos of {statistics.mean(sizes) / 1e6:.2f} MB (JPEG, {min(sizes)}-{max(sizes)} bytes) "
            f"through the admin; SeaweedFS, {args.database}, Celery (2 workers), gunicorn 1 x 8 threads on core 0:"
        )
        batches = [
            ("first batch after start (cold: each thread's first database and S3 connections)", ""),
            *((f"batch {number} (warm)", "") for number in range(2, args.batches + 1)),
            (f"the browser's uploads limited to {args.mbit} Mbit/s (the screenshots)", str(args.mbit)),
        ]
        for batch, mbit in batches:
            os.environ["BROWSER_UPLOAD_MBIT"] = mbit
            cpu_log.write_text("")
            before = cpu_seconds(worker)
            if stack.run_tests(config) != 0:
                print(api.log_tail())
                return 1
            report(
                args.files,
                batch,
                json.loads(timings.read_text())["seconds"],
                request_cpu(cpu_log),
                cpu_seconds(worker) - before,
            )
    finally:
        terminate(reversed(processes), timeout=15)
        if database:
            postgres_drop(PG_DATABASE)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
