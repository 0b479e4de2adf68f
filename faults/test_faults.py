"""Fault injection: the service under concurrent uploads while its dependencies fail for real.

Each phase drives uploads (proxied, and direct: sign, POST to the S3 server, complete, retrying a 503 as a
client would), lists, details and deletes from several threads while one fault happens:
PostgreSQL restarted, Redis killed for 5 s, the Celery worker killed with SIGKILL, the S3 server killed
and started again. After each, what a user could observe is checked: no 500 (only 2xx, 4xx or a JSON 503
with Retry-After), every 201 has its row and its objects, no error answer left a row, no object without a
row, and every image ready (or visibly failed) within a bounded time after recovery. Every user has a webhook
endpoint on the suite's receiver: every event the load caused (image.ready of each ready image, image.deleted
of each 204, upload.completed of each completed direct upload) must reach it, signed (checked with
`standardwebhooks`), once the service has recovered; duplicates are allowed, losses are not. The figures of
each phase are printed. Run with `make faults` (CI does); about four minutes; loopback only.
"""

import io
import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import requests
from PIL import Image as PILImage
from stack import Stack  # faults/ is on sys.path (pytest's rootdir insertion)
from standardwebhooks.webhooks import Webhook

THREADS = 4
LOAD_SECONDS = 14  # each phase: the fault starts 3 s in
READY_WITHIN = 90  # seconds after recovery by which every image must be ready or failed
PASSWORD = "Fault-Suite-Password-42"
UPLOAD_NUMBERS = itertools.count()  # across phases: every upload's title is unique


def photo(seed: int) -> bytes:
    """A small real JPEG, different for every upload."""
    rng = random.Random(seed)
    img = PILImage.new("RGB", (320, 240), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for _ in range(20):
        x, y = rng.randrange(300), rng.randrange(220)
        img.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)), (x, y, x + 20, y + 20))
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


@dataclass
class Answer:
    op: str
    status: int
    title: str = ""
    image_id: int | None = None
    problem: str = ""  # what was wrong with the answer itself
    body: dict = field(default_factory=dict)  # a signed direct upload's answer


@dataclass
class Load:
    """Threads of clients, each with its own account, recording every answer."""

    stack: Stack
    tokens: list[str]
    answers: list[Answer] = field(default_factory=list)
    ended: float = 0.0  # when the load stopped
    deleted: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, seconds: float, fault: Callable[[], float]) -> float:
        """Drive load for `seconds`, running `fault` 3 s in; return the time the fault ended (recovery)."""
        stop = threading.Event()
        threads = [threading.Thread(target=self._client, args=(token, stop), daemon=True) for token in self.tokens]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(3)
        recovered = fault()
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        self.ended = time.monotonic()
        return recovered

    def _client(self, token: str, stop: threading.Event) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        mine: list[int] = []
        rng = random.Random(token)
        while not stop.is_set():
            roll = rng.random()
            if roll < 0.4 or not mine:
                self._upload(session, mine)
            elif roll < 0.55:
                self._direct_upload(session, mine)
            elif roll < 0.75:
                self._call(session, "list", "get", "/api/images/")
            elif roll < 0.9:
                self._call(session, "detail", "get", f"/api/images/{rng.choice(mine)}/")
            else:
                image_id = mine.pop(rng.randrange(len(mine)))
                answer = self._call(session, "delete", "delete", f"/api/images/{image_id}/", image_id=image_id)
                if answer.status == 204:
                    with self.lock:
                        self.deleted.add(image_id)
                elif answer.status != 404:
                    mine.append(image_id)

    def _upload(self, session: requests.Session, mine: list[int]) -> None:
        n = next(UPLOAD_NUMBERS)
        title = f"fault-{n}"
        files = {"image": (f"photo-{n}.jpg", photo(n), "image/jpeg")}
        answer = self._call(
            session, "upload", "post", "/api/images/upload/", files=files, data={"title": title}, title=title
        )
        if answer.status == 201:
            mine.append(answer.image_id)

    def _direct_upload(self, session: requests.Session, mine: list[int]) -> None:
        """Sign, POST the file to the store, complete; a 503 on completion is retried, honouring Retry-After."""
        n = next(UPLOAD_NUMBERS)
        title, data = f"fault-{n}", photo(n)
        signed = self._call(
            session,
            "sign",
            "post",
            "/api/images/uploads/",
            title=title,
            json={"filename": f"photo-{n}.jpg", "size": len(data), "title": title},
        )
        if signed.status != 201:
            return
        try:
            sent = requests.post(
                signed.body["url"],
                data=signed.body["fields"],
                files={"file": (f"photo-{n}.jpg", data, "image/jpeg")},
                timeout=30,
            )
        except requests.RequestException:
            return  # the store is down: the upload is abandoned (swept after it expires)
        if sent.status_code >= 300:
            return
        for _ in range(10):
            answer = self._call(
                session, "complete", "post", f"/api/images/uploads/{signed.body['id']}/complete/", title=title
            )
            if answer.status != 503:
                break
            time.sleep(float(answer.body.get("retry_after", 1)))
        if answer.status == 201:
            mine.append(answer.image_id)

    def _call(
        self, session, op: str, method: str, path: str, title: str = "", image_id: int | None = None, **kwargs
    ) -> Answer:
        try:
            response = session.request(method, self.stack.url + path, timeout=60, **kwargs)
        except requests.RequestException as exc:
            answer = Answer(op, 0, title, image_id, f"no answer: {exc}")
        else:
            answer = Answer(op, response.status_code, title, image_id, _problem(response))
            if op in ("upload", "complete") and response.status_code == 201:
                answer.image_id = response.json()["id"]
            elif op == "sign" and response.status_code == 201:
                answer.body = response.json()
            elif response.status_code == 503:
                answer.body = {"retry_after": response.headers.get("Retry-After", "1")}
        with self.lock:
            self.answers.append(answer)
        return answer


def _problem(response: requests.Response) -> str:
    """What is wrong with an answer a client could not rely on: a 5xx other than a JSON 503 with Retry-After."""
    if response.status_code < 500:
        return ""
    if response.status_code != 503:
        return f"{response.status_code}: {response.text[:200]}"
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        return f"503 not JSON: {response.text[:200]}"
    if not response.headers.get("Retry-After"):
        return "503 without Retry-After"
    return ""


@pytest.fixture(scope="module")
def stack():
    stack = Stack()
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


SECRETS: dict[str, str] = {}  # each load user's webhook path on the receiver -> its signing secret


@pytest.fixture(scope="module")
def tokens(stack: Stack) -> list[str]:
    """Each load user's token; each user also registers a webhook endpoint for every event on the receiver."""
    tokens = []
    for i in range(THREADS):
        body = {"email": f"load{i}@example.com", "username": f"load{i}", "password": PASSWORD, "password2": PASSWORD}
        response = requests.post(f"{stack.url}/api/auth/signup/", json=body, timeout=30)
        assert response.status_code == 201, response.text
        tokens.append(response.json()["tokens"]["access"])
        path = f"/hooks/load{i}"
        endpoint = requests.post(
            f"{stack.url}/api/webhooks/",
            json={"url": stack.receiver.url + path},
            headers={"Authorization": f"Bearer {tokens[-1]}"},
            timeout=30,
        )
        assert endpoint.status_code == 201, endpoint.text
        SECRETS[path] = endpoint.json()["secret"]
    return tokens


FIGURES: list[dict] = []
SWEPT: set[int] = set()  # images the sweeper queued again in an earlier phase
WEBHOOKS_SEEN = [0]  # how many requests the receiver had got before the current phase


def webhooks_check(stack: Stack, load: Load, deadline: float) -> tuple[list[str], dict]:
    """Wait until no delivery is pending; check every event the load caused reached the receiver, signed."""
    problems: list[str] = []
    with stack.postgres.connect() as db:
        while True:
            pending = db.execute("SELECT count(*) FROM webhooks_webhookdelivery WHERE state = 'pending'").fetchone()[0]
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        delivered_at = time.monotonic()
        states = dict(db.execute("SELECT state, count(*) FROM webhooks_webhookdelivery GROUP BY state").fetchall())
        recorded = {f"msg_{row[0].hex}" for row in db.execute("SELECT id FROM webhooks_webhookevent")}
        ready = {row[0] for row in db.execute("SELECT id FROM images_image WHERE processing = 'ready'")}
    with stack.receiver.lock:
        received = list(stack.receiver.received)
    got: dict[str, set] = {"image.ready": set(), "image.deleted": set(), "upload.completed": set()}
    ids = Counter()
    for path, headers, body in received:
        try:
            payload = Webhook(SECRETS[path]).verify(body, headers)
        except Exception as exc:  # noqa: BLE001 (any failure to verify is the finding)
            problems.append(f"webhook {headers.get('webhook-id')} to {path} does not verify: {exc}")
            continue
        got[payload["type"]].add(payload["data"]["id"])
        ids[headers["webhook-id"]] += 1
    if pending:
        problems.append(f"{pending} webhook deliveries still pending")
    if states.get("failed"):
        problems.append(f"{states['failed']} webhook deliveries failed")
    for missing in sorted(recorded - set(ids))[:5]:
        problems.append(f"event {missing} recorded, never received")
    completed = {a.image_id for a in load.answers if a.op == "complete" and a.status == 201}
    for kind, expected in (("image.ready", ready), ("image.deleted", load.deleted), ("upload.completed", completed)):
        for image_id in sorted(expected - got[kind])[:5]:
            problems.append(f"no {kind} received for image {image_id}")
    phase = received[WEBHOOKS_SEEN[0] :]
    WEBHOOKS_SEEN[0] = len(received)
    this_phase = Counter(headers["webhook-id"] for _, headers, _ in phase)
    figures = {
        "webhooks": len(phase),
        "webhook_dupes": sum(n - 1 for n in this_phase.values()),
        "webhooks_after_s": round(delivered_at - load.ended, 1),
    }
    return problems, figures


def settle_and_check(stack: Stack, load: Load, recovered: float, name: str) -> dict:
    """Wait until nothing is pending; check what a user could observe; return the phase's figures."""
    deadline = recovered + READY_WITHIN
    with stack.postgres.connect() as db:
        while True:
            pending = db.execute("SELECT count(*) FROM images_image WHERE processing = 'pending'").fetchone()[0]
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        settled_at = time.monotonic()
        rows = {
            row[0]: row
            for row in db.execute(
                "SELECT id, title, image, variants, processing, processing_requeues FROM images_image"
            )
        }
        # Objects of direct uploads still open (signed, not completed) belong to them until they expire.
        open_uploads = {row[0] for row in db.execute("SELECT key FROM images_directupload WHERE image_id IS NULL")}
        # Deletions the store refused are swept within IMAGE_SWEEP_INTERVAL: wait for them as well.
        while db.execute("SELECT count(*) FROM images_storedfiledeletion").fetchone()[0]:
            assert time.monotonic() < deadline + 30, "refused deletions were never swept"
            time.sleep(0.5)
    keys = stack.s3.keys()
    titles = {row[1] for row in rows.values()}
    # A direct upload's last completion answer stands for it (a 503 is retried as a client would).
    last = {a.title: a for a in load.answers if a.op == "complete"}
    uploads = [a for a in load.answers if a.op == "upload"] + list(last.values())
    created = [a for a in uploads if a.status == 201]

    problems = [f"{a.op} {a.problem}" for a in load.answers if a.problem]
    for answer in created:
        row = rows.get(answer.image_id)
        if answer.image_id in load.deleted:
            continue
        if row is None:
            problems.append(f"201 for image {answer.image_id} without its row")
        elif row[2] not in keys:
            problems.append(f"201 for image {answer.image_id} without its object {row[2]}")
        elif row[4] == "ready" and not set(row[3].values()) <= keys:
            problems.append(f"image {answer.image_id} ready without its variants")
    for answer in uploads:
        if answer.status != 201 and answer.title in titles:
            problems.append(f"an upload answered {answer.status} left a row ({answer.title})")
    for image_id in load.deleted:
        if image_id in rows:
            problems.append(f"deleted image {image_id} still has its row")
    owned = set(open_uploads)
    for row in rows.values():
        owned.add(row[2])
        owned.update(row[3].values())
    orphans = sorted(key for key in keys if key not in owned)
    check = stack.manage("check_storage", "--grace", "0")
    webhook_problems, webhook_figures = webhooks_check(stack, load, deadline + 60)
    problems += webhook_problems

    statuses = Counter(a.status for a in load.answers)
    figures = {
        "phase": name,
        "requests": len(load.answers),
        "201": sum(1 for a in created if a.op == "upload"),
        "direct": sum(1 for a in created if a.op == "complete"),
        "503": statuses[503],
        "500": sum(n for s, n in statuses.items() if s >= 500 and s != 503),
        "other": sum(n for s, n in statuses.items() if s not in (200, 201, 204, 503) and s < 500),
        "orphans": len(orphans),
        "pending": sum(1 for row in rows.values() if row[4] == "pending"),
        "failed": sum(1 for row in rows.values() if row[4] == "failed"),
        # Images the sweeper queued again (their job was lost with the broker), rather than redelivered.
        "swept": len({row[0] for row in rows.values() if row[5]} - SWEPT),
        "ready_after_s": round(settled_at - recovered, 1),
        "drained_after_s": round(settled_at - load.ended, 1),
        # Workers that exited on their own and the supervisor started again (stack.py), since the last phase.
        "worker_restarts": stack.worker_restarts - sum(f["worker_restarts"] for f in FIGURES),
        **webhook_figures,
        "problems": problems[:10],
        "check_storage": check.returncode,
    }
    FIGURES.append(figures)
    SWEPT.update(row[0] for row in rows.values() if row[5])
    print(f"\n{name}: {figures}")
    load.answers.clear()
    load.deleted.clear()
    assert not problems, problems
    assert figures["orphans"] == 0, orphans[:10]
    assert figures["pending"] == 0
    assert figures["failed"] == 0
    assert check.returncode == 0, check.stdout + check.stderr
    return figures


def test_baseline_no_fault(stack, tokens):
    load = Load(stack, tokens)
    recovered = load.run(6, lambda: time.monotonic())
    settle_and_check(stack, load, recovered, "baseline")


def test_postgresql_restarted(stack, tokens):
    def restart() -> float:
        stack.postgres.restart()
        return time.monotonic()

    load = Load(stack, tokens)
    recovered = load.run(LOAD_SECONDS, restart)
    figures = settle_and_check(stack, load, recovered, "postgresql restart")
    assert figures["requests"] > figures["503"]  # service resumed after the restart


def test_redis_down_for_5_seconds(stack, tokens):
    def outage() -> float:
        stack.redis.kill()
        time.sleep(5)
        stack.redis.start()  # empty: the broker's queue is gone, the sweeper queues those images again
        return time.monotonic()

    load = Load(stack, tokens)
    recovered = load.run(LOAD_SECONDS, outage)
    settle_and_check(stack, load, recovered, "redis down 5 s")


def test_worker_killed_with_sigkill(stack, tokens):
    held, mid_delivery = [], []

    def crash() -> float:
        # Kill it while it holds work, a task taken and not acknowledged: in the middle of a webhook delivery (the
        # receiver has held its requests since the phase began, so the worker's processes are busy sending). Each
        # polled for up to 5 s.
        deadline = time.monotonic() + 5
        while not (stack.receiver.in_flight and stack.redis.unacked()) and time.monotonic() < deadline:
            time.sleep(0.002)
        stack.kill_worker()
        held.append(stack.redis.unacked())
        mid_delivery.append(stack.receiver.in_flight)
        stack.receiver.slow.clear()
        time.sleep(2)
        stack.start_worker()
        return time.monotonic()

    load = Load(stack, tokens)
    stack.receiver.slow.set()
    recovered = load.run(LOAD_SECONDS, crash)
    settle_and_check(stack, load, recovered, "worker SIGKILL")
    print(f"\ntasks the killed worker held unacknowledged: {held[0]}; webhooks it was sending: {mid_delivery[0]}")
    assert held[0] > 0  # it was killed while holding work, and that work was done after all
    assert mid_delivery[0] > 0  # and in the middle of a delivery, which was made again (no delivery pending)


def test_s3_server_killed_and_started_again(stack, tokens):
    def outage() -> float:
        stack.s3.kill()
        time.sleep(5)
        stack.s3.start()
        return time.monotonic()

    load = Load(stack, tokens)
    recovered = load.run(LOAD_SECONDS, outage)
    figures = settle_and_check(stack, load, recovered, "s3 down 5 s")
    assert figures["503"] > 0  # the outage was seen, and answered as one


def test_zz_summary():
    """Print the figures of every phase as one table (for the notes)."""
    columns = [
        "phase",
        "requests",
        "201",
        "direct",
        "503",
        "500",
        "other",
        "orphans",
        "pending",
        "failed",
        "swept",
        "ready_after_s",
        "drained_after_s",
        "worker_restarts",
        "webhooks",
        "webhook_dupes",
        "webhooks_after_s",
    ]
    print("\n" + " | ".join(columns))
    for figures in FIGURES:
        print(" | ".join(str(figures[c]) for c in columns))
