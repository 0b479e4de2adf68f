"""The service in its production shape, every part a real process of its own, to stop and kill on purpose.

A private PostgreSQL cluster, a private Redis (cache and broker), SeaweedFS on fixed ports (so a restart
comes back where it was), gunicorn with two workers, and a Celery worker with the beat sweeper, supervised
as production runs it (systemd's Restart=always): a worker that exits is started again, and counted. All on
127.0.0.1, all in one temporary folder, all stopped at the end; the machine's own services are never touched.
"""

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import psycopg
import requests
from botocore.config import Config as BotoConfig

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
S3_KEY, S3_SECRET, BUCKET = "fault-key", "fault-secret", "fault-images"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check, what: str, timeout: float = 60, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 (anything but success means: not yet)
            pass
        if time.monotonic() > deadline:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} not ready after {timeout} s\n{tail}")
        time.sleep(0.1)


def as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Postgres:
    """A PostgreSQL cluster of the suite's own, on a free port."""

    def __init__(self, folder: Path) -> None:
        self.bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
        self.data, self.log, self.port = folder / "data", folder / "postgres.log", free_port()
        subprocess.run(
            as_postgres(
                [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
        )

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            as_postgres(
                [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", *args]
            ),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._ctl("stop", "-m", "immediate")

    def connect(self, dbname: str = "images") -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True)


class Redis:
    """A Redis of the suite's own (the machine's shared one is never stopped)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port, self.process = folder, free_port(), None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_until(
            lambda: socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close() or True, "redis", timeout=10
        )

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def unacked(self, db: int = 1) -> int:
        """Tasks taken by a worker and not acknowledged yet (kombu's "unacked" hash in the broker's db)."""
        import redis

        return redis.Redis(port=self.port, db=db).hlen("unacked")


class SeaweedFS:
    """SeaweedFS `weed mini` with every port given, so that a restart comes back on the same ones."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.log = folder, folder / "weed.log"
        names = ["master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc", "admin"]
        self.ports = {name: free_port() for name in names}
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.process = None

    def start(self) -> None:
        p = self.ports
        command = [
            str(BIN / "weed"),
            "mini",
            f"-dir={self.folder}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master.grpc']}",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume.grpc']}",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer.grpc']}",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3.grpc']}",
            f"-admin.port={p['admin']}",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-admin.ui=false",
            f"-filer.localSocket={self.folder}/filer.sock",
            f"-s3.localSocket={self.folder}/s3.sock",
            "-master.telemetry=false",
            f"-bucket={BUCKET}",
        ]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                command, cwd=self.folder, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until(lambda: self.client().head_bucket(Bucket=BUCKET) or True, "SeaweedFS", timeout=90, log=self.log)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
            config=BotoConfig(
                s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=10, retries={"total_max_attempts": 1}
            ),
        )

    def keys(self) -> set[str]:
        keys: set[str] = set()
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            keys.update(obj["Key"] for obj in page.get("Contents", []))
        return keys


class WebhookReceiver:
    """A webhook receiver on loopback (a thread of the suite): it records what it got and answers 200.

    While `slow` is set it holds each request up to 3 s before answering, so that a worker can be killed in the
    middle of a delivery.
    """

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []  # (path, headers, body)
        self.in_flight = 0
        self.slow = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver.lock:
                    receiver.in_flight += 1
                try:
                    if receiver.slow.is_set():
                        time.sleep(3)
                    with receiver.lock:
                        receiver.received.append((self.path, headers, body))
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                finally:
                    with receiver.lock:
                        receiver.in_flight -= 1

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Stack:
    """Every process of the service, configured as production would be (DEBUG off, S3, Redis, a worker)."""

    def __init__(self) -> None:
        # In /tmp itself, readable by the postgres user (pytest's tmp_path is not).
        self.folder = Path(tempfile.mkdtemp(prefix="faults-"))
        os.chmod(self.folder, 0o755)
        pg_folder = self.folder / "pg"
        pg_folder.mkdir()
        if os.geteuid() == 0:
            shutil.chown(pg_folder, "postgres", "postgres")
        self.postgres = Postgres(pg_folder)
        self.redis = Redis(self.folder)
        (self.folder / "s3").mkdir()
        self.s3 = SeaweedFS(self.folder / "s3")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.receiver = WebhookReceiver()
        self.gunicorn = self.worker = None
        # The supervisor: restarts a worker that exited on its own (not one kill_worker stopped on purpose).
        self.worker_restarts = 0
        self.worker_wanted = threading.Event()
        self.stopping = threading.Event()
        self.env = {
            **os.environ,
            "DEBUG": "False",
            "SECRET_KEY": "fault-suite-" + "x" * 50,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "False",
            "SECURE_COOKIES": "False",
            "SECURE_HSTS_SECONDS": "0",
            "DATABASE_URL": "",
            "DB_NAME": "images",
            "DB_USER": "postgres",
            "DB_PASSWORD": "",
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(self.postgres.port),
            "CONN_MAX_AGE": "60",
            "USE_S3": "True",
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": self.s3.endpoint,
            "AWS_S3_ADDRESSING_STYLE": "path",
            "AWS_S3_CONNECT_TIMEOUT": "2",
            "AWS_S3_READ_TIMEOUT": "10",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/0",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis.port}/1",
            # Short waits, so that the suite sees each recovery within seconds.
            "CELERY_VISIBILITY_TIMEOUT": "10",
            "IMAGE_TASK_RETRY_DELAY": "1",
            "IMAGE_PENDING_TIMEOUT": "15",
            "IMAGE_SWEEP_INTERVAL": "5",
            "RETRY_AFTER_SECONDS": "1",
            "IMAGE_DIRECT_UPLOAD_VERIFY_WAIT": "3",
            # Webhooks to the suite's receiver on loopback (and nowhere else), retried and swept within seconds.
            "WEBHOOK_ALLOW_PRIVATE": "True",
            "WEBHOOK_REQUIRE_HTTPS": "False",
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "WEBHOOK_TIMEOUT": "2",  # an attempt killed with its worker is made again after its lease (9 s)
            "WEBHOOK_RETRY_DELAYS": "1,2,4,8,16,32",
            "WEBHOOK_SWEEP_INTERVAL": "5",
            "THROTTLE_LOGIN_RATE": "100000/min",
            "THROTTLE_SIGNUP_RATE": "100000/min",
            "THROTTLE_TOKEN_RATE": "100000/min",
            "THROTTLE_UPLOAD_RATE": "100000/min",
            "MEDIA_ROOT": str(self.folder / "media"),
            "LOG_LEVEL": "WARNING",
        }

    def start(self) -> None:
        self.postgres.start()
        with self.postgres.connect("postgres") as connection:
            connection.execute("CREATE DATABASE images")
        self.redis.start()
        self.s3.start()
        self.manage("migrate", "--noinput", "-v", "0")
        with (self.folder / "gunicorn.log").open("ab") as log:  # the child keeps its own copy of the file
            self.gunicorn = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    "2",
                    "--timeout",
                    "60",
                ],
                cwd=PROJECT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(
            lambda: requests.get(f"{self.url}/api/health/", timeout=2).status_code == 200,
            "gunicorn",
            log=self.folder / "gunicorn.log",
        )
        self.start_worker()
        threading.Thread(target=self._supervise, daemon=True).start()

    def start_worker(self) -> None:
        with (self.folder / "worker.log").open("ab") as log:
            self.worker = subprocess.Popen(
                [
                    str(BIN / "celery"),
                    "-A",
                    "config",
                    "worker",
                    "-B",
                    "-s",
                    str(self.folder / "beat-schedule"),
                    "--concurrency",
                    "2",
                    "--loglevel",
                    "INFO",
                ],
                cwd=PROJECT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.worker_wanted.set()

    def kill_worker(self) -> None:
        """SIGKILL the worker's whole process group, as a crash of its machine would (not restarted for it)."""
        self.worker_wanted.clear()
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait()

    def _supervise(self) -> None:
        # Celery's worker can exit on a broker connection lost while it restores unacknowledged messages
        # (kombu's "Unrecoverable error: AttributeError ... 'hostname'"); production's supervisor starts it again.
        while not self.stopping.wait(0.5):
            if self.worker_wanted.is_set() and self.worker.poll() is not None:
                self.worker_restarts += 1
                print(f"\nsupervisor: the worker exited ({self.worker.returncode}); starting it again", flush=True)
                self.start_worker()

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=PROJECT, env=self.env, capture_output=True, text=True, timeout=120
        )

    def stop(self) -> None:
        self.stopping.set()
        self.worker_wanted.clear()
        for process in (self.gunicorn, self.worker):
            if process is not None and process.poll() is None:
                if process is self.worker:
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    process.terminate()
                process.wait(timeout=30)
        for stopping in (self.s3.kill, self.redis.kill, self.postgres.stop, self.receiver.stop):
            try:
                stopping()
            except Exception:  # noqa: BLE001 (already down)
                pass
        shutil.rmtree(self.folder, ignore_errors=True)
