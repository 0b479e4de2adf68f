"""Run a development server so that stopping `make` stops it: `python dev/foreground.py COMMAND [ARGS...]`.

`make run` and `make s3` exec this in their recipe, so it is make's own child. It starts the server in a process
group of its own (runserver is two processes: its reloader and the server it restarts) and stops that whole group
when it is told to stop (Ctrl-C, SIGTERM, SIGHUP) or when make goes away, however make was stopped: killed by its
process id, make leaves its children running, and so a runserver child or a weed used to outlive it.
"""

import os
import signal
import subprocess
import sys
import time

# How long a server may take to stop once told (weed takes a few seconds), before it is killed.
STOP_TIMEOUT = 15.0


def run(command: list[str]) -> int:
    """Run `command` until it exits, or until this process is told to stop or loses its parent; return its status."""
    parent = os.getppid()
    server = subprocess.Popen(command, process_group=0)
    told: list[int] = []

    def stop(signum: int, frame: object) -> None:
        told.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    while True:
        try:
            return server.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
        if told or os.getppid() != parent:
            return stop_group(server, told[0] if told else signal.SIGTERM)


def stop_group(server: subprocess.Popen, signum: int) -> int:
    """Send `signum` to the server's process group, then SIGKILL whatever is left of it after STOP_TIMEOUT."""
    try:
        os.killpg(server.pid, signum)
    except ProcessLookupError:
        return server.wait()
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None and not group_alive(server.pid):
            return server.returncode
        time.sleep(0.1)
    if group_alive(server.pid):
        os.killpg(server.pid, signal.SIGKILL)
    return server.wait()


def group_alive(group: int) -> bool:
    """Whether any process of the group is left (runserver's server outlives its reloader by a moment)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python dev/foreground.py COMMAND [ARGS...]")
    sys.exit(run(sys.argv[1:]))
