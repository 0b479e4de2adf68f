"""A real S3 server: SeaweedFS (`weed mini`, from requirements-dev.txt) started on loopback, and a client for it."""

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from testutils.processes import BIN, log_tail

S3_ACCESS_KEY = "test-access-key"
S3_SECRET_KEY = "test-secret-key"
S3_BUCKET = "test-images"
S3_BACKEND = "images.storage.PrivateS3Storage"
WEED = BIN / "weed"


@dataclass(frozen=True)
class S3Server:
    """Where an S3 server answers, and with which credentials."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    pid: int | None = None  # the server's process when the tests started it (to stop it on purpose)

    def client(self, secret_key: str | None = None):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name="us-east-1",
            config=s3_client_config(),
        )

    def storage_options(self, **overrides) -> dict:
        """S3Storage options as settings.py builds them, pointed at this server."""
        from django.conf import settings

        return {
            **settings.S3_STORAGE_OPTIONS,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "bucket_name": self.bucket,
            "endpoint_url": self.endpoint,
            "client_config": s3_client_config(),
            **overrides,
        }

    def service_env(self) -> dict[str, str]:
        """The service's environment (settings.py's names) for storing its files here."""
        return {
            "USE_S3": "True",
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_STORAGE_BUCKET_NAME": self.bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_ADDRESSING_STYLE": "path",
        }

    def keys(self) -> list[str]:
        """Every key in the bucket, sorted."""
        keys: set[str] = set()
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys.update(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)

    def wait_for_bucket(
        self, process: subprocess.Popen | None = None, log: Path | None = None, timeout: float = 60
    ) -> None:
        """Wait until the bucket answers; fail with the server's log if its process exits first."""
        deadline = time.monotonic() + timeout
        while True:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"weed exited with {process.returncode}:\n{log_tail(log)}")
            try:
                self.client().head_bucket(Bucket=self.bucket)
                return
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline:
                    message = f"No S3 bucket at {self.endpoint} after {timeout:g} s.\n{log_tail(log)}"
                    raise AssertionError(message) from None
                time.sleep(0.05)


def s3_client_config() -> BotoConfig:
    # One attempt and short timeouts: a failure test fails in milliseconds instead of retrying.
    return BotoConfig(
        s3={"addressing_style": "path"},
        signature_version="s3v4",
        connect_timeout=2,
        read_timeout=10,
        retries={"mode": "standard", "total_max_attempts": 1},
    )


def use_storage(settings, **options) -> None:
    """Make the default storage private S3 with these options (pytest-django's `settings` undoes it)."""
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": S3_BACKEND, "OPTIONS": options}}


def start_weed(
    folder: Path,
    server: S3Server,
    log: Path | None = None,
    ports: dict[str, int] | None = None,
    options: tuple[str, ...] = (),
    **popen,
) -> subprocess.Popen:
    """Start SeaweedFS (`weed mini`) on loopback with its data in `folder`, serving `server`'s bucket and keys.

    The S3 port is the endpoint's; weed moves its other components to free ports by itself, unless `ports` gives
    them (by weed's names: "master", "master.grpc", "filer"...), so that a restart comes back on the same ones;
    `options` are more of weed's flags. Its output is appended to `log` (nowhere when None).
    """
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        str(WEED),
        "mini",
        f"-dir={folder}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.port={server.endpoint.rsplit(':', 1)[1]}",
        *(_port_flag(name, port) for name, port in (ports or {}).items() if name != "s3"),
        "-master.telemetry=false",
        "-admin.ui=false",
        # Off: WebDAV caches in a folder of /tmp that every weed on the machine shares (another suite's weed
        # holds its locks), and the Iceberg and Lance ports are fixed ones that two weeds cannot both have.
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-bucket={server.bucket}",
        *options,
    ]
    # The keys in its environment are the server's credentials.
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key}
    if log is None:
        return subprocess.Popen(
            command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, **popen
        )
    with log.open("ab") as output:
        return subprocess.Popen(command, cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT, **popen)


def _port_flag(name: str, port: int) -> str:
    """weed's flag for a component's port: "filer" is -filer.port, "filer.grpc" is -filer.port.grpc."""
    component, _, grpc = name.partition(".")
    return f"-{component}.port{'.grpc' if grpc else ''}={port}"


def names_in_store(prefixes: tuple[str, ...] = ("images/", "uploads/"), storage=None) -> set[str]:
    """Everything under these prefixes in a store (the default one unless given), local or S3: by default images
    and their variants, and direct uploads' files until they are verified."""
    from images.storage import image_storage

    return {name for prefix in prefixes for name, _ in (storage or image_storage()).stored_objects(prefix)}
