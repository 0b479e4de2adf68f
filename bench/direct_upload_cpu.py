"""CPU time the API process spends per upload of a ~6 MB photo: proxied (POST /api/images/upload/) vs direct
(sign, the client POSTs to S3, complete).

A deployment's shape on one machine: gunicorn (one sync worker, on a core of its own) in front of SeaweedFS,
PostgreSQL (or --database sqlite), Celery on Redis (database 13, flushed) with two workers, one for the
"uploads" queue and one for the variants. The proxied upload verifies the bytes in the API process (the full
decode is most of its cost); the direct upload's completion has a worker verify them while the API process
waits for the verdict. The API CPU is measured inside the gunicorn worker around each request
(bench/gunicorn_cpu.py, process_time); the workers' CPU is read from /proc and printed beside it (the work
moved, it did not vanish). Two modes: "after idle" starts each upload with the workers idle (and the API's
caches cold); "back to back" sends the next upload as soon as the last one is answered.

Run by hand: .venv/bin/python bench/direct_upload_cpu.py [--runs N] [--phone] [--database sqlite]
Needs PostgreSQL on 127.0.0.1:5432 (trust, postgres), Redis on 127.0.0.1:6379 and the `weed` binary of
requirements-dev.txt.
"""

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project's root: testutils
from testutils import (  # noqa: E402
    PROJECT,
    XMP_WITH_LOCATION,
    S3Server,
    cpu_seconds,
    free_port,
    login_over_http,
    noisy_gradient,
    phone_exif,
    postgres_database,
    postgres_drop,
    srgb_profile,
    start_celery_worker,
    start_gunicorn,
    start_weed,
    terminate,
    wait_for_http,
)

ROOT = PROJECT
BROKER = "redis://127.0.0.1:6379/13"
KEY, SECRET, BUCKET = "bench-key", "bench-secret", "bench-images"
PASSWORD = "Bench-Password-1"
PG_DATABASE = "direct_upload_bench"


def photo(target_bytes: int = 6_000_000, *, phone: bool = False) -> bytes:
    """A photo-like JPEG (a gradient with noise) of about `target_bytes`, 4000x3000 as a 12 MP phone takes it.

    `phone`: with what a phone writes beside the pixels (EXIF with GPS, make and model, a 30 KB maker note; XMP;
    an ICC profile), which the service strips before storing (IMAGE_STRIP_METADATA).
    """
    img = noisy_gradient((4000, 3000), sigma=40)
    options = {}
    if phone:
        exif = phone_exif(6, maker_note=os.urandom(30_000))
        options = {"exif": exif.tobytes(), "icc_profile": srgb_profile(), "xmp": XMP_WITH_LOCATION}
    data = b""
    for quality in range(70, 100):
        buffer = io.BytesIO()
        img.save(buffer, "JPEG", quality=quality, **options)
        data = buffer.getvalue()
        if len(data) >= target_bytes:
            break
    return data


def decode_cpu(data: bytes, runs: int = 5) -> float:
    """CPU seconds of one full Pillow decode of the photo: the verification's floor, on either path."""
    started = time.process_time()
    for _ in range(runs):
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    return (time.process_time() - started) / runs


def request_cpu(log: Path) -> dict[str, float]:
    """Mean CPU seconds per request kind in the log of bench/gunicorn_cpu.py; "direct" is sign + complete."""
    found: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        _, path, ns = line.split()
        kind = next(
            kind
            for end, kind in (("/complete/", "complete"), ("/uploads/", "sign"), ("/me/", "me"), ("/upload/", "upload"))
            if path.endswith(end)
        )
        found.setdefault(kind, []).append(int(ns) / 1e9)
    means = {kind: statistics.mean(values) for kind, values in found.items()}
    if "sign" in means:
        means["direct"] = means["sign"] + means["complete"]
    return means


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--database",
        choices=["postgres", "sqlite"],
        default="postgres",
        help="postgres (the production shape; a database of its own on 127.0.0.1:5432, dropped at "
        "the end) or sqlite (whose queries run inside the API process)",
    )
    parser.add_argument(
        "--phone",
        action="store_true",
        help="a photo with EXIF (GPS, maker note), XMP and an ICC profile, as phones take them",
    )
    args = parser.parse_args()
    runs = args.runs
    # The API process gets a core of its own, as it gets machines of its own in a deployment; this process,
    # SeaweedFS and the Celery workers share the rest (their work would otherwise evict the API's caches and
    # count against it as slower code).
    api_cores, other_cores = {0}, set(range(1, os.cpu_count() or 1)) or {0}
    os.sched_setaffinity(0, other_cores)
    work = Path(tempfile.mkdtemp(prefix="direct-upload-bench-"))
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    store = S3Server(f"http://127.0.0.1:{free_port()}", KEY, SECRET, BUCKET)
    processes: list[subprocess.Popen] = []
    cleanups = []
    try:
        weed = start_weed(work / "weed", store)
        processes.append(weed)
        store.wait_for_bucket(weed)

        database = f"sqlite:///{work / 'db.sqlite3'}"
        if args.database == "postgres":
            database = postgres_database(PG_DATABASE)
            cleanups.append(lambda: postgres_drop(PG_DATABASE))
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "False",
            "SECRET_KEY": "bench-only-" + "x" * 50,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "False",
            "DB_NAME": "",
            "DATABASE_URL": database,
            "MEDIA_ROOT": str(work / "media"),
            **store.service_env(),
            "CELERY_BROKER_URL": BROKER,
            "REDIS_URL": "",
            "THROTTLE_UPLOAD_RATE": "100000/min",
            "THROTTLE_LOGIN_RATE": "100000/min",
            "LOG_LEVEL": "WARNING",
        }
        cpu_log = work / "request-cpu.log"
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, cwd=ROOT)
        subprocess.run(
            [
                *manage,
                "shell",
                "-c",
                "from users.models import User; User.objects.create_user("
                f"email='bench@example.com', username='bench', password='{PASSWORD}')",
            ],
            env=env,
            check=True,
            cwd=ROOT,
        )
        server = start_gunicorn(
            api_port,
            {**env, "BENCH_CPU_LOG": str(cpu_log)},
            None,
            "--timeout",
            "120",
            "-c",
            str(ROOT / "bench" / "gunicorn_cpu.py"),
            preexec_fn=lambda: os.sched_setaffinity(0, api_cores),
        )
        processes.append(server)
        wait_for_http(f"{api}/api/health/", server, None)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {login_over_http(api, 'bench@example.com', PASSWORD)}"
        # Two workers, as the deployment docs have them: verifications (queue "uploads") never wait behind
        # variants (queue "celery").
        workers = [
            start_celery_worker(env, None, "--loglevel=WARNING", "-Q", queue, "-n", f"{queue}@bench")
            for queue in ("uploads", "celery")
        ]
        processes.extend(workers)
        worker_pids = [worker.pid for worker in workers]
        broker = redis.Redis.from_url(BROKER)

        def idle_workers() -> None:
            """Wait until the workers have taken every task and their CPU time stands still (variants done)."""
            before = -1.0
            while broker.llen("celery") or broker.llen("uploads") or cpu_seconds(*worker_pids) != before:
                before = cpu_seconds(*worker_pids)
                time.sleep(0.3)

        data = photo(phone=args.phone)

        def proxied() -> None:
            response = session.post(f"{api}/api/images/upload/", files={"image": ("photo.jpg", data)}, timeout=120)
            assert response.status_code == 201, response.text

        def direct() -> None:
            signed = session.post(
                f"{api}/api/images/uploads/", json={"filename": "photo.jpg", "size": len(data)}, timeout=30
            ).json()
            sent = requests.post(signed["url"], data=signed["fields"], files={"file": ("photo.jpg", data)}, timeout=120)
            assert sent.status_code == 204, sent.text
            response = session.post(f"{api}/api/images/uploads/{signed['id']}/complete/", timeout=120)
            assert response.status_code == 201, response.text

        def batch(upload, *, after_idle: bool) -> dict[str, float]:
            """Upload `runs` times: mean API CPU per request kind, workers' CPU per upload, median wall time."""
            idle_workers()
            cpu_log.write_text("")
            walls, workers_before = [], cpu_seconds(*worker_pids)
            for _ in range(runs):
                if after_idle:
                    idle_workers()
                started = time.perf_counter()
                upload()
                walls.append(time.perf_counter() - started)
            idle_workers()
            found = request_cpu(cpu_log)
            return {
                **found,
                "workers": (cpu_seconds(*worker_pids) - workers_before) / runs,
                "wall": statistics.median(walls),
            }

        proxied(), direct()  # warm up: imports, connections
        results = {}
        for mode, after_idle in (("after idle", True), ("back to back", False)):
            results[mode] = {
                "proxied": batch(proxied, after_idle=after_idle),
                "direct": batch(direct, after_idle=after_idle),
            }
        cpu_log.write_text("")
        for _ in range(runs):  # the floor: an authenticated request that reads one row
            assert session.get(f"{api}/api/auth/me/", timeout=30).status_code == 200
        floor = request_cpu(cpu_log)["me"]
        broker.flushdb()

        print(
            f"A {len(data) / 1e6:.1f} MB {'phone ' if args.phone else ''}JPEG (4000x3000), {runs} uploads per path "
            f"and mode, {args.database}. API CPU: the gunicorn worker's, around each request (process_time)."
        )
        for mode, paths in results.items():
            proxied_ms, direct_ms = paths["proxied"]["upload"] * 1000, paths["direct"]["direct"] * 1000
            print(
                f"  {mode}: proxied {proxied_ms:.1f} ms, direct {direct_ms:.1f} ms (sign "
                f"{paths['direct']['sign'] * 1000:.1f} + complete {paths['direct']['complete'] * 1000:.1f}):"
                f" direct costs the API {proxied_ms / direct_ms:.1f}x less"
            )
            print(
                f"    Celery workers' CPU per upload (variants included): proxied "
                f"{paths['proxied']['workers'] * 1000:.0f} ms, direct {paths['direct']['workers'] * 1000:.0f} ms;"
                f" client wall time median: proxied {paths['proxied']['wall'] * 1000:.0f} ms, direct "
                f"{paths['direct']['wall'] * 1000:.0f} ms"
            )
        print(
            f"  for scale: GET /api/auth/me/ (authenticated, one row and the usage sum) {floor * 1000:.1f} ms;"
            f" one full decode of the photo {decode_cpu(data) * 1000:.1f} ms"
        )
    finally:
        terminate(reversed(processes), timeout=15)
        for cleanup in cleanups:
            cleanup()
        shutil.rmtree(work, ignore_errors=True)  # SeaweedFS's volumes: about 250 MB a run


if __name__ == "__main__":
    main()
