"""What the HTTP benches share: the service under gunicorn on a PostgreSQL database of its own, SeaweedFS.

Imported by bench/upload_breakdown.py and bench/side_by_side.py (with the project's root on sys.path: the helpers
come from testutils); not a bench itself. Everything it starts is stopped by `Stack.close()` (the benches call it in
a finally), and the databases are dropped.
"""

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from testutils import (
    PROJECT,
    S3Server,
    free_port,
    postgres_database,
    postgres_drop,
    start_gunicorn,
    start_weed,
    terminate,
    wait_for_http,
)

ROOT = PROJECT
PASSWORD = "Bench-Password-1"


@dataclass
class Stack:
    """Processes and databases a bench started, to stop and drop at the end."""

    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-")))
    processes: list[subprocess.Popen] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)

    def database(self, name: str) -> str:
        """A fresh PostgreSQL database; its URL."""
        self.databases.append(name)
        return postgres_database(name)

    def seaweedfs(self, bucket: str = "bench-bucket") -> dict[str, str]:
        """A SeaweedFS S3 server of the bench's own; the service's environment for it."""
        server = S3Server(f"http://127.0.0.1:{free_port()}", "bench", "bench-secret", bucket)
        log = self.work / "weed.log"
        process = start_weed(self.work / "weed", server, log)
        self.processes.append(process)
        server.wait_for_bucket(process, log, timeout=90)
        return server.service_env()

    def gunicorn(
        self, cwd: Path, env: dict[str, str], *, workers: int = 2, worker_class: str = "sync", name: str = "service"
    ) -> str:
        """gunicorn config.wsgi:application in `cwd` on a free port, after migrate; its base URL."""
        port = free_port()
        environment = {**os.environ, "DOTENV_FILE": "", **env}
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=cwd, env=environment, check=True
        )
        log = self.work / f"{name}.log"
        options = [f"--worker-class={worker_class}", "--log-level=warning"]
        if worker_class == "sync":
            options.append("--threads=1")
        process = start_gunicorn(port, environment, log, *options, workers=workers, cwd=cwd)
        self.processes.append(process)
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base + "/", process, log)
        return base

    def close(self) -> None:
        for process in reversed(self.processes):
            terminate(process, timeout=20)
        if self.databases:
            time.sleep(0.5)
            for name in self.databases:
                postgres_drop(name)
        subprocess.run(["rm", "-rf", str(self.work)], check=False)
