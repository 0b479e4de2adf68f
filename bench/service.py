"""What the HTTP benches share: the service under gunicorn on a PostgreSQL database of its own, SeaweedFS, a photo.

Imported by bench/upload_breakdown.py and bench/side_by_side.py; not a bench itself. Everything it starts is
stopped by `Stack.close()` (the benches call it in a finally), and the database is dropped.
"""

import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import psycopg
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Bench-Password-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def photo(width: int, height: int, quality: int = 90) -> bytes:
    """A photo-like JPEG, as bench/upload_latency.py makes it: a gradient with noise, at this quality."""
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 30)
    img = Image.merge("RGB", (gradient, noise, Image.blend(gradient, noise, 0.5)))
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def wait_http(url: str, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited:\n{log.read_text()[-3000:]}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer:\n{log.read_text()[-3000:]}")


@dataclass
class Stack:
    """Processes and databases a bench started, to stop and drop at the end."""

    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-")))
    processes: list[subprocess.Popen] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    pg: str = "postgresql://postgres@127.0.0.1:5432"

    def database(self, name: str) -> str:
        """A fresh PostgreSQL database; its URL."""
        with psycopg.connect(f"{self.pg}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return f"{self.pg}/{name}"

    def seaweedfs(self, bucket: str = "bench-bucket") -> dict[str, str]:
        """A SeaweedFS S3 server of the bench's own; the service's environment for it."""
        port, key, secret = free_port(), "bench", "bench-secret"
        env = {**os.environ, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
        command = [
            str(Path(sys.executable).with_name("weed")),
            "mini",
            f"-dir={self.work / 'weed'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={port}",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-bucket={bucket}",
        ]
        (self.work / "weed").mkdir()
        with (self.work / "weed.log").open("wb") as log:
            self.processes.append(subprocess.Popen(command, cwd=self.work, env=env, stdout=log, stderr=log))
        client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            region_name="us-east-1",
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                client.head_bucket(Bucket=bucket)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        return {
            "USE_S3": "True",
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_S3_ADDRESSING_STYLE": "path",
        }

    def gunicorn(
        self, cwd: Path, env: dict[str, str], *, workers: int = 2, worker_class: str = "sync", name: str = "service"
    ) -> str:
        """gunicorn config.wsgi:application in `cwd` on a free port, after migrate; its base URL."""
        port = free_port()
        environment = {**os.environ, "DOTENV_FILE": "", **env}
        python = str(Path(sys.executable))
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=cwd, env=environment, check=True)
        log = self.work / f"{name}.log"
        command = [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            f"--worker-class={worker_class}",
            "--log-level=warning",
        ]
        if worker_class == "sync":
            command.append("--threads=1")
        with log.open("wb") as output:
            process = subprocess.Popen(command, cwd=cwd, env=environment, stdout=output, stderr=output)
        self.processes.append(process)
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/", process, log)
        return base

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self.databases:
            time.sleep(0.5)
            with psycopg.connect(f"{self.pg}/postgres", autocommit=True) as conn:
                for name in self.databases:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        subprocess.run(["rm", "-rf", str(self.work)], check=False)


def account(base: str, email: str = "bench@example.com", username: str = "bench") -> str:
    """Sign up (the project's and the upstream's signup take the same body) and log in; the access token."""
    body = {"email": email, "username": username, "password": PASSWORD, "password2": PASSWORD}
    requests.post(f"{base}/api/auth/signup/", json=body, timeout=30).raise_for_status()
    login = requests.post(f"{base}/api/auth/login/", json={"email": email, "password": PASSWORD}, timeout=30)
    login.raise_for_status()
    return login.json()["access"]
