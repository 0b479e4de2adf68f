"""Real processes started on purpose: free ports, waits with a deadline, gunicorn, Redis, Celery, and their ends."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import redis
import requests

PROJECT = Path(__file__).resolve().parents[1]
# The virtualenv's scripts (gunicorn, celery, weed) beside the Python that runs us.
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port (raises OSError when nothing does)."""
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


def log_tail(log: Path | None, chars: int = 3000) -> str:
    """The end of a process's log, for a failure's message ("" when there is none yet)."""
    if log is None or not log.exists():
        return ""
    return log.read_text(errors="replace")[-chars:]


def wait_until(check: Callable[[], object], what: str, timeout: float = 30, log: Path | None = None) -> None:
    """Poll `check` until it returns a true value (an exception counts as not yet); fail after `timeout` seconds.

    The failure names `what` and ends with the tail of `log`, when given.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 (anything but success means: not yet)
            pass
        if time.monotonic() > deadline:
            tail = log_tail(log)
            raise AssertionError(f"{what}: not within {timeout} s" + (f"\n{tail}" if tail else ""))
        time.sleep(0.05)


def wait_for_http(url: str, process: subprocess.Popen, log: Path | None, timeout: float = 60) -> None:
    """Wait until a server we started answers HTTP at `url` (any status); fail with its log if it exits first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{url} does not answer:\n{log_tail(log)}") from None
            time.sleep(0.1)


def served_env(database_url: str, media_root: Path, **overrides: str) -> dict[str, str]:
    """A served process's environment as production sets it, on loopback and plain HTTP: no `.env`, DEBUG off, no
    broker (variants after the answer), mail kept in memory; only PATH, HOME, LANG and VIRTUAL_ENV of the caller's.
    `overrides`: settings.py's names, e.g. EMAIL_BACKEND or CELERY_BROKER_URL."""
    return {
        **{key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG", "VIRTUAL_ENV"}},
        "DOTENV_FILE": "",
        "DEBUG": "False",
        "SECRET_KEY": "test-only-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "False",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(media_root),
        "CELERY_BROKER_URL": "",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "WARNING",
        **overrides,
    }


def start_gunicorn(
    port: int,
    env: dict[str, str],
    log: Path | None,
    *options: str,
    workers: int = 1,
    app: str = "config.wsgi:application",
    cwd: Path = PROJECT,
    **popen,
) -> subprocess.Popen:
    """Start the production command (docs/deployment.md) (one worker, unless told) from the project's root, so
    gunicorn.conf.py applies; `options` are gunicorn's own, its output goes to `log` (nowhere when None).

    The caller waits for it to answer (wait_for_http).
    """
    command = [str(BIN / "gunicorn"), app, "--bind", f"127.0.0.1:{port}", "--workers", str(workers), *options]
    if log is None:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, **popen)
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, **popen)


def start_celery_worker(env: dict[str, str], log: Path | None, *options: str, cwd: Path = PROJECT) -> subprocess.Popen:
    """Start `celery -A config worker` in one process (solo pool), without the chatter between workers."""
    command = [str(BIN / "celery"), "-A", "config", "worker", "--pool=solo", *options]
    command += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
    if log is None:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)


def start_redis(port: int, folder: Path, **popen) -> subprocess.Popen:
    """Start a private Redis on this port (never stop the machine's shared one), answering when returned.

    It keeps nothing on disk: killed, it comes back empty.
    """
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [*command, "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, **popen
    )
    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {port} did not start") from None
            time.sleep(0.05)


def kill(process: subprocess.Popen) -> None:
    """Kill a process (SIGKILL: as a crash would) and wait for it."""
    process.kill()
    process.wait(timeout=10)


def kill_group(process: subprocess.Popen | None, sig: int = signal.SIGKILL) -> None:
    """Send a signal to a process started in a session of its own, and to every process it started."""
    if process is not None and process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGKILL:
            process.wait(timeout=30)


def terminate(processes: subprocess.Popen | Iterable[subprocess.Popen], timeout: float = 15) -> None:
    """Stop processes as a supervisor does: SIGTERM to each still running, then SIGKILL to any not gone in `timeout`."""
    stopping = [processes] if isinstance(processes, subprocess.Popen) else list(processes)
    for process in stopping:
        if process.poll() is None:
            process.terminate()
    for process in stopping:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(*pids: int) -> float:
    """User + system CPU seconds these processes have spent so far (/proc/PID/stat, fields 14 and 15)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def child_pids(pid: int) -> list[int]:
    """The processes this one started (a gunicorn master's workers)."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
