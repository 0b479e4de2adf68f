"""Does the password reset request tell by its timing whether an account exists? Known vs unknown address.

Run by hand: .venv/bin/python bench/reset_timing.py [--pairs 30] [--broker redis://127.0.0.1:6379/13] [--root DIR]

Starts gunicorn as the deployment docs do (`gunicorn config.wsgi:application --workers 2`, from the project's root so
gunicorn.conf.py applies; --root runs another checkout of the project, e.g. an older commit), with DEBUG off,
SQLite in a temporary folder and mail sent by SMTP to a real server on loopback (aiosmtpd, answering after
--smtp-delay ms, as a remote relay would). Then POSTs /api/auth/password/reset/ for a registered address and
an unknown one, interleaved (the order alternating), and prints the median and mean of each in ms. Without
--broker tasks run inline (the mail is sent by the API process); with it they are queued to that broker (the
Redis database is flushed before and after; no worker consumes them).
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests
from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project's root: testutils
from testutils import (  # noqa: E402
    PROJECT,
    SlowMailServer,
    account_over_http,
    free_port,
    served_env,
    start_gunicorn,
    terminate,
    wait_for_http,
)

ROOT = PROJECT
KNOWN, UNKNOWN = "known@example.com", "nobody@example.com"
PASSWORD = "Bench-Password-42"


def timed_post(url: str, email: str) -> float:
    started = time.perf_counter()
    response = requests.post(url, json={"email": email}, timeout=30)
    elapsed = time.perf_counter() - started
    assert response.status_code == 202, response.text
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--broker", default="", help="a Redis URL to queue tasks to; empty: tasks run inline")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve (default: this one)")
    parser.add_argument("--smtp-delay", type=float, default=0.0, help="ms the mail server takes to accept a mail")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="reset-bench-"))
    sink = SlowMailServer(args.smtp_delay / 1000)
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()
    env = served_env(
        f"sqlite:///{work / 'db.sqlite3'}",
        work / "media",
        USE_S3="False",
        REDIS_URL="",
        CELERY_BROKER_URL=args.broker,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port),
        THROTTLE_LOGIN_RATE="100000/min",
        THROTTLE_SIGNUP_RATE="100000/min",
        # Every request mails (the limit per address would otherwise stop all but the first): what is measured is
        # the work of the request itself.
        PASSWORD_RESET_MAIL_RATES="100000/min",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=args.root, env=env, check=True)
    if args.broker:
        redis.Redis.from_url(args.broker).flushdb()
    log = work / "gunicorn.log"
    server = start_gunicorn(port, env, log, workers=2, cwd=args.root)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/api/", server, log)
        account_over_http(base, KNOWN, "known", PASSWORD)
        url = f"{base}/api/auth/password/reset/"
        for _ in range(5):  # warm both workers up
            timed_post(url, KNOWN)
            timed_post(url, UNKNOWN)
        known, unknown = [], []
        for i in range(args.pairs):
            order = [(KNOWN, known), (UNKNOWN, unknown)]
            for email, times in order if i % 2 else reversed(order):
                times.append(timed_post(url, email))
        time.sleep(1)
    finally:
        terminate(server, timeout=30)
        smtp.stop()
        if args.broker:
            redis.Redis.from_url(args.broker).flushdb()

    mode = f"broker {args.broker}" if args.broker else "no broker (tasks inline)"
    print(f"{args.root} | {mode} | SMTP delay {args.smtp_delay:.0f} ms | {args.pairs} interleaved pairs")
    for name, times in (("known", known), ("unknown", unknown)):
        print(f"  {name:8} median {statistics.median(times):6.1f} ms   mean {statistics.mean(times):6.1f} ms")
    print(f"  mails received: {sink.received}")


if __name__ == "__main__":
    main()
