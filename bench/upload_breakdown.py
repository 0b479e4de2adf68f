"""Where a request's time goes: each step's time and queries, per proxied upload, list of 20, detail and account.

The service runs under gunicorn (DEBUG off, SERVER_TIMING on) on a PostgreSQL database of its own, with files on a
SeaweedFS of its own (or local disk), the presigned-URL cache and throttles on Redis, and variants queued to a Redis
broker that no worker reads (the upload path alone). Requests are sent one at a time; each answer's Server-Timing
header (config/timing.py) says what each step took inside the process. Medians are printed as a Markdown table.

Run by hand (PostgreSQL on 127.0.0.1:5432 as postgres; a Redis whose databases 2 and 3 may be flushed):

    .venv/bin/python bench/upload_breakdown.py --redis redis://127.0.0.1:6379 [--uploads 200] [--storage local]
"""

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service import ROOT, Stack, account, photo  # noqa: E402


def service_env(database_url: str, redis_url: str, media: Path) -> dict[str, str]:
    """The service as the benches run it: production settings, throttles lifted, a broker with no worker."""
    return {
        "DEBUG": "False",
        "SECRET_KEY": "bench-only-0123456789abcdefghijklmnopqrstuvwxyz-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "False",
        "DATABASE_URL": database_url,
        "DB_NAME": "",
        "MEDIA_ROOT": str(media),
        "USE_S3": "False",
        "REDIS_URL": f"{redis_url}/2",
        "CELERY_BROKER_URL": f"{redis_url}/3",
        "THROTTLE_UPLOAD_RATE": "1000000/min",
        "THROTTLE_LOGIN_RATE": "1000000/min",
        "THROTTLE_SIGNUP_RATE": "1000000/min",
        # A quota, so that its check is paid as a deployment with quotas pays it.
        "IMAGE_USER_QUOTA_BYTES": str(100 * 2**30),
        "LOG_LEVEL": "WARNING",
    }


def parse_server_timing(header: str) -> dict[str, tuple[float, int]]:
    """{step: (ms, queries)} from a Server-Timing header."""
    steps = {}
    for entry in header.split(","):
        parts = [part.strip() for part in entry.split(";")]
        ms = next(float(p[4:]) for p in parts if p.startswith("dur="))
        queries = next((int(p[6:].split()[0]) for p in parts if p.startswith('desc="')), 0)
        steps[parts[0]] = (ms, queries)
    return steps


def measure(send, runs: int) -> tuple[dict[str, list[float]], dict[str, list[int]], list[float]]:
    times, queries, outside = defaultdict(list), defaultdict(list), []
    for i in range(runs):
        started = time.perf_counter()
        response = send(i)
        outside.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 201), response.text[:500]
        for step, (ms, count) in parse_server_timing(response.headers["Server-Timing"]).items():
            times[step].append(ms)
            queries[step].append(count)
    return times, queries, outside


def table(title: str, times, queries, outside: list[float]) -> str:
    order = sorted((s for s in times if s not in ("total", "other")), key=lambda s: -statistics.median(times[s]))
    lines = [f"**{title}**", "", "| step | ms (median) | queries |", "| --- | ---: | ---: |"]
    for step in [*order, "other", "total"]:
        if step in times:
            ms, count = statistics.median(times[step]), round(statistics.median(queries[step]))
            lines.append(f"| {step} | {ms:.2f} | {count} |")
    lines.append(f"| seen by the client | {statistics.median(outside):.2f} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis base URL (databases 2, 3 used)")
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--reads", type=int, default=200, help="lists, details and account reads, each")
    parser.add_argument("--storage", choices=["s3", "local"], default="s3")
    parser.add_argument("--size", default="1600x1200", help="the photo's width x height (JPEG, quality 90)")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))

    stack = Stack()
    try:
        for db in (2, 3):
            redis.Redis.from_url(f"{args.redis}/{db}").flushdb()
        env = service_env(stack.database(f"bench_breakdown_{os.getpid()}"), args.redis, stack.work / "media")
        if args.storage == "s3":
            env.update(stack.seaweedfs())
        env["SERVER_TIMING"] = "True"
        base = stack.gunicorn(ROOT, env, workers=1)
        token = account(base)
        auth = {"Authorization": f"Bearer {token}"}
        data = photo(width, height)
        session = requests.Session()

        def upload(i: int) -> requests.Response:
            files = {"image": ("photo.jpg", data, "image/jpeg")}
            return session.post(f"{base}/api/images/upload/", files=files, data={"title": f"run {i}"}, headers=auth)

        for i in range(5):  # warm up: imports, connections, caches
            upload(i)
        results = [(f"Upload of a {width}x{height} JPEG ({len(data) / 1e6:.2f} MB)", *measure(upload, args.uploads))]
        first = session.get(f"{base}/api/images/?limit=1", headers=auth).json()[0]["id"]
        for label, url in (
            ("List of 20", f"{base}/api/images/?limit=20"),
            ("Detail", f"{base}/api/images/{first}/"),
            ("Account (me)", f"{base}/api/auth/me/"),
        ):
            for _ in range(5):
                session.get(url, headers=auth)
            results.append((label, *measure(lambda i, url=url: session.get(url, headers=auth), args.reads)))
        print(
            f"storage {args.storage}, PostgreSQL, gunicorn -w 1 (sync), DEBUG off; {args.uploads} uploads, "
            f"{args.reads} reads each; load average {os.getloadavg()[0]:.2f}\n"
        )
        for label, times, queries, outside in results:
            print(table(label, times, queries, outside) + "\n")
    finally:
        stack.close()
        for db in (2, 3):
            redis.Redis.from_url(f"{args.redis}/{db}").flushdb()


if __name__ == "__main__":
    main()
