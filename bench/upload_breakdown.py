"""Where a request's time goes: each step's time and queries, per proxied upload, list of 20, detail and account.

The service runs under gunicorn (DEBUG off, SERVER_TIMING on) on a PostgreSQL database of its own, with files on a
SeaweedFS of its own (or local disk), the presigned-URL cache and throttles on Redis, and variants queued to a Redis
broker that no worker reads (the upload path alone). Requests are sent one at a time; each answer's Server-Timing
header (config/timing.py) says what each step took inside the process. Medians are printed as a Markdown table.

Run by hand (PostgreSQL on 127.0.0.1:5432 as postgres; a Redis whose databases 2 to 5 may be flushed):

    .venv/bin/python bench/upload_breakdown.py --redis redis://127.0.0.1:6379 [--uploads 200] [--storage local]

With `--compare PATH` (another checkout, e.g. `git worktree add /tmp/before <commit>`), both are served and each
request goes to one, then the other: the two columns met the same load, which on a shared machine moves a lot.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project's root: testutils, bench
from bench.service import PASSWORD, ROOT, Stack  # noqa: E402
from testutils import account_over_http, photo_jpeg  # noqa: E402


def service_env(database_url: str, redis_url: str, media: Path, redis_dbs: tuple[int, int] = (2, 3)) -> dict[str, str]:
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
        "REDIS_URL": f"{redis_url}/{redis_dbs[0]}",
        "CELERY_BROKER_URL": f"{redis_url}/{redis_dbs[1]}",
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


class Results:
    """Each step's times and queries, and the time the client saw, of one kind of request to one server."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.queries: dict[str, list[int]] = defaultdict(list)
        self.outside: list[float] = []

    def add(self, response: requests.Response, seconds: float) -> None:
        assert response.status_code in (200, 201), response.text[:500]
        self.outside.append(seconds * 1000)
        for step, (ms, count) in parse_server_timing(response.headers["Server-Timing"]).items():
            self.times[step].append(ms)
            self.queries[step].append(count)

    def cells(self, step: str) -> str:
        if step == "seen by the client":
            return f"{statistics.median(self.outside):.2f} | "
        if step not in self.times:
            return "- | - "
        return f"{statistics.median(self.times[step]):.2f} | {round(statistics.median(self.queries[step]))}"


def table(title: str, results: dict[str, Results]) -> str:
    """One Markdown table: a row per step (most costly first), a time and a query count per server."""
    steps = {step for result in results.values() for step in result.times} - {"total", "other"}
    first = next(iter(results.values()))
    order = sorted(steps, key=lambda step: -statistics.median(first.times.get(step, [0])))
    head = " | ".join(f"{name} ms | {name} queries" for name in results)
    lines = [f"**{title}**", "", f"| step | {head} |", "| --- |" + " ---: | ---: |" * len(results)]
    for step in [*order, "other", "total", "seen by the client"]:
        lines.append(f"| {step} | " + " | ".join(result.cells(step) for result in results.values()) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis base URL (databases 2 to 5 used)")
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--reads", type=int, default=200, help="lists, details and account reads, each")
    parser.add_argument("--storage", choices=["s3", "local"], default="s3")
    parser.add_argument("--size", default="1600x1200", help="the photo's width x height (JPEG, quality 90)")
    parser.add_argument(
        "--compare",
        type=Path,
        help="another checkout of the project (e.g. `git worktree add` of an earlier commit), "
        "served beside this one: each request goes to both in turn, so both meet the same load",
    )
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))

    trees = {"before": args.compare, "after": ROOT} if args.compare else {"this": ROOT}
    stack = Stack()
    try:
        for db in (2, 3, 4, 5):
            redis.Redis.from_url(f"{args.redis}/{db}").flushdb()
        storage = stack.seaweedfs() if args.storage == "s3" else {}
        servers = {}
        for index, (name, tree) in enumerate(trees.items()):
            database = stack.database(f"bench_breakdown_{os.getpid()}_{index}")
            env = service_env(database, args.redis, stack.work / f"media-{index}", (2 + 2 * index, 3 + 2 * index))
            env.update(storage, SERVER_TIMING="True")
            base = stack.gunicorn(tree, env, workers=1, name=f"service-{index}")
            token = account_over_http(base, "bench@example.com", "bench", PASSWORD)
            servers[name] = (base, {"Authorization": f"Bearer {token}"})
        data = photo_jpeg(width, height)
        session = requests.Session()

        def upload(base: str, auth: dict, i: int) -> requests.Response:
            files = {"image": ("photo.jpg", data, "image/jpeg")}
            return session.post(f"{base}/api/images/upload/", files=files, data={"title": f"run {i}"}, headers=auth)

        def read(path: str):
            return lambda base, auth, i: session.get(base + path, headers=auth)

        def run(send, count: int) -> dict[str, Results]:
            results = {name: Results() for name in servers}
            for i in range(5 + count):  # 5 to warm up: imports, connections, caches
                # Each goes first every other time: what the other's request leaves behind (its commit, its
                # connection's upkeep) falls on both alike.
                for name, (base, auth) in sorted(servers.items(), reverse=bool(i % 2)):
                    started = time.perf_counter()
                    response = send(base, auth, i)
                    if i >= 5:
                        results[name].add(response, time.perf_counter() - started)
            return results

        tables = [table(f"Upload of a {width}x{height} JPEG ({len(data) / 1e6:.2f} MB)", run(upload, args.uploads))]
        base, auth = next(iter(servers.values()))
        for label, path in (
            ("List of 20", "/api/images/?limit=20"),
            ("Detail", "/api/images/{id}/"),
            ("Account (me)", "/api/auth/me/"),
        ):
            if "{id}" in path:  # the newest image of each server: the same id in each database
                path = path.format(id=session.get(f"{base}/api/images/?limit=1", headers=auth).json()[0]["id"])
            tables.append(table(label, run(read(path), args.reads)))
        print(
            f"storage {args.storage}, PostgreSQL, gunicorn -w 1 (sync) each, DEBUG off; {args.uploads} uploads, "
            f"{args.reads} reads each, in turn to {' and '.join(servers)}; load average {os.getloadavg()[0]:.2f}\n"
        )
        print("\n\n".join(tables))
    finally:
        stack.close()
        for db in (2, 3, 4, 5):
            redis.Redis.from_url(f"{args.redis}/{db}").flushdb()


if __name__ == "__main__":
    main()
