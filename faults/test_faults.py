"""Fault injection: the service with its shipped defaults, under load from clients that retry, while its parts fail.

Each stack (faults/stack.py: a broker, one node or two behind nginx) runs every phase: no fault, PostgreSQL
restarted, the broker killed for 5 s (Redis comes back empty; RabbitMQ on its data), a Celery worker killed with
SIGKILL while it holds jobs, the store killed for 5 s, the store hung (SIGSTOP) for 8 s, and with two nodes an API
node killed with SIGKILL and then a worker. Four clients (threads, each its own account with a webhook endpoint)
upload, upload directly to the store, list, show and delete; every POST that creates carries an Idempotency-Key,
and a client retries with it a timeout, a dropped connection, a 503 (after its Retry-After) and a 409 in use,
as a real client would.

After each phase, what a user could observe is checked: no 500 (only 2xx, 4xx, or a JSON 503 with Retry-After),
no duplicate (one image per upload, whatever the retries), every 201 has its row and its objects, no error left
a row, no object that nothing owns or will remove, every image ready within 60 s of the recovery, and every
webhook the load caused delivered and signed (checked with `standardwebhooks`). Then a burst of 50 direct-upload
completions with every worker stopped, while a list on the same node must keep answering (p99 under 250 ms).
The figures of each phase are printed, and a table at the end.

`make faults` runs RabbitMQ with two nodes through every phase, and Redis with one node through the phases where
the broker makes a difference (CI does, about eight minutes); `make faults-full` runs every phase with each broker
on one node and on two (FAULT_STACKS=redis-1,redis-2,rabbitmq-1,rabbitmq-2). Loopback only.
"""

import io
import itertools
import os
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import requests
from PIL import Image as PILImage
from stack import Stack  # faults/ is on sys.path (pytest's rootdir insertion)

from testutils import account_over_http, log_tail

THREADS = 4
LOAD_SECONDS = 14  # each phase: the fault starts 3 s in
READY_WITHIN = 60  # seconds after recovery by which every image must be ready
RETRY_FOR = 90  # seconds after the load stops that a client goes on retrying what it started
PASSWORD = "Fault-Suite-Password-42"
UPLOAD_NUMBERS = itertools.count()  # across phases and stacks: every upload's title is unique
# Which stacks run: broker-nodes, and "/broker" for the phases where the broker makes a difference only (its
# restart and a worker's death); the others (PostgreSQL, the store, a node, the burst) are the same on both.
STACKS = [
    (*name.partition("/")[0].split("-"), name.partition("/")[2] or "all")
    for name in os.environ.get("FAULT_STACKS", "redis-1/broker,rabbitmq-2").split(",")
]


def phase_of(kind: str, stack: Stack) -> None:
    """Skip a phase that is not the broker's on a stack that runs only those."""
    if stack.phases == "broker" and kind != "broker":
        pytest.skip("the same on either broker: run on the other stack (make faults-full runs it here too)")


def photo(seed: int, size: tuple[int, int] = (320, 240), quality: int = 80) -> bytes:
    """A real JPEG, different for every seed."""
    rng = random.Random(seed)
    img = PILImage.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for _ in range(20):
        x, y = rng.randrange(size[0] - 20), rng.randrange(size[1] - 20)
        img.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)), (x, y, x + 20, y + 20))
    if size[0] > 320:  # a photo's texture: what makes a JPEG of this size take its real time to decode
        img = PILImage.blend(img, PILImage.effect_noise(size, 40).convert("RGB"), 0.3)
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@dataclass
class Answer:
    """One HTTP answer (or none) to one attempt."""

    op: str
    status: int
    seconds: float
    problem: str = ""  # what was wrong with the answer itself
    retry_after: float = 1.0
    code: str = ""
    body: dict = field(default_factory=dict)


@dataclass
class Outcome:
    """What one operation came to, after its retries."""

    op: str
    status: int
    title: str = ""
    image_id: int | None = None


@dataclass
class Load:
    """Threads of clients, each with its own account, recording every answer and every operation's outcome."""

    stack: Stack
    tokens: list[str]
    answers: list[Answer] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    deleted: set[int] = field(default_factory=set)
    ended: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, seconds: float, fault: Callable[[], float]) -> float:
        """Drive load for `seconds`, running `fault` 3 s in; return the time the fault ended (recovery)."""
        threads = [threading.Thread(target=self._client, args=(token,), daemon=True) for token in self.tokens]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(3)
        recovered = fault()
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        self.stop.set()
        self.retry_until = time.monotonic() + RETRY_FOR
        for thread in threads:
            thread.join(timeout=RETRY_FOR + 60)
        self.ended = time.monotonic()
        return recovered

    retry_until = float("inf")

    def _client(self, token: str) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        mine: list[int] = []
        rng = random.Random(token)
        while not self.stop.is_set():
            roll = rng.random()
            if roll < 0.4 or not mine:
                self._upload(session, mine)
            elif roll < 0.55:
                self._direct_upload(session, mine)
            elif roll < 0.75:
                self.call(session, "list", "get", "/api/images/")
            elif roll < 0.9:
                self.call(session, "detail", "get", f"/api/images/{rng.choice(mine)}/")
            else:
                image_id = mine.pop(rng.randrange(len(mine)))
                answer = self.call(session, "delete", "delete", f"/api/images/{image_id}/")
                if answer.status in (204, 404):  # 404: deleted by an attempt whose answer was lost
                    with self.lock:
                        self.deleted.add(image_id)
                else:
                    mine.append(image_id)

    def _outcome(self, op: str, answer: Answer, title: str) -> Outcome:
        outcome = Outcome(op, answer.status, title, answer.body.get("id") if answer.status in (200, 201) else None)
        with self.lock:
            self.outcomes.append(outcome)
        return outcome

    def _upload(self, session: requests.Session, mine: list[int]) -> None:
        n = next(UPLOAD_NUMBERS)
        title = f"fault-{n}"
        files = {"image": (f"photo-{n}.jpg", photo(n), "image/jpeg")}
        answer = self.call(
            session, "upload", "post", "/api/images/upload/", key=str(uuid.uuid4()), files=files, data={"title": title}
        )
        if self._outcome("upload", answer, title).status == 201:
            mine.append(answer.body["id"])

    def _direct_upload(self, session: requests.Session, mine: list[int]) -> None:
        """Sign, POST the file to the store, complete: each step retried as a client would."""
        n = next(UPLOAD_NUMBERS)
        title, data = f"fault-{n}", photo(n)
        signed = self.call(
            session,
            "sign",
            "post",
            "/api/images/uploads/",
            key=str(uuid.uuid4()),
            json={"filename": f"photo-{n}.jpg", "size": len(data), "title": title},
        )
        if signed.status != 201:
            return
        for _ in range(10):  # the store may be down or hung: a client tries a few times, then gives up
            try:
                sent = requests.post(
                    signed.body["url"],
                    data=signed.body["fields"],
                    files={"file": (f"photo-{n}.jpg", data, "image/jpeg")},
                    timeout=15,
                )
                if sent.status_code < 300:
                    break
            except requests.RequestException:
                pass
            time.sleep(1)
        else:
            return  # abandoned: the sweeper removes it once it expires
        answer = self.call(
            session, "complete", "post", f"/api/images/uploads/{signed.body['id']}/complete/", key=str(uuid.uuid4())
        )
        if self._outcome("complete", answer, title).status in (200, 201):
            mine.append(answer.body["id"])

    def call(
        self, session, op: str, method: str, path: str, key: str | None = None, base: str | None = None, **kwargs
    ) -> Answer:
        """One operation: attempts until an answer that is not worth retrying, as a client with retries would.

        A request that creates is retried only with its Idempotency-Key; reads and deletes are idempotent anyway.
        """
        headers = {"Idempotency-Key": key} if key else {}
        attempts: list[str] = []  # each attempt's status (0: no answer) and when, for a problem's report
        first = time.monotonic()
        while True:
            answer = self._attempt(session, op, method, (base or self.stack.url) + path, headers, **kwargs)
            attempts.append(f"{answer.status or answer.problem.rsplit(' ', 1)[-1]}@{time.monotonic() - first:.1f}s")
            again = answer.status in (0, 502, 503, 504) or (
                answer.status == 409 and answer.code == "idempotency_key_in_use"
            )
            if not again or (method == "post" and not key) or time.monotonic() > self.retry_until:
                if answer.problem and len(attempts) > 1:
                    answer.problem += f" (attempts: {', '.join(attempts[-8:])} of {len(attempts)})"
                return answer
            time.sleep(min(answer.retry_after, 2))

    def _attempt(self, session, op: str, method: str, url: str, headers: dict, **kwargs) -> Answer:
        started = time.monotonic()
        try:
            response = session.request(method, url, headers=headers, timeout=30, **kwargs)
        except requests.RequestException as exc:
            answer = Answer(op, 0, time.monotonic() - started, f"no answer: {type(exc).__name__}")
        else:
            answer = Answer(op, response.status_code, time.monotonic() - started, _problem(response))
            if response.headers.get("Content-Type", "").startswith("application/json") and response.content:
                body = response.json()
                answer.body = body if isinstance(body, dict) else {}
                answer.code = answer.body.get("code", "")
            if response.headers.get("Retry-After", "").isdigit():
                answer.retry_after = float(response.headers["Retry-After"])
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


@pytest.fixture(scope="module", params=STACKS, ids=[f"{b}-{n}" + ("" if p == "all" else f"-{p}") for b, n, p in STACKS])
def stack(request):
    broker, nodes, phases = request.param
    stack = Stack(broker, int(nodes))
    stack.phases = phases
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
        email = f"load{i}-{stack.broker_kind}-{stack.nodes_count}@example.com"
        tokens.append(account_over_http(stack.url, email, email.split("@")[0], PASSWORD))
        path = f"/hooks/{email}"
        endpoint = requests.post(
            f"{stack.url}/api/webhooks/",
            json={"url": stack.receiver.url(path)},
            headers={"Authorization": f"Bearer {tokens[-1]}"},
            timeout=30,
        )
        assert endpoint.status_code == 201, endpoint.text
        SECRETS[path] = endpoint.json()["secret"]
    return tokens


FIGURES: list[dict] = []
VERIFIED: dict[int, list[tuple[str, int, str]]] = {}  # the receiver -> (type, id, webhook-id) of each verified
WEBHOOKS_SEEN: dict[int, int] = {}  # the receiver (by id) -> how many requests it had before the current phase


def webhooks_check(stack: Stack, load: Load, deadline: float) -> tuple[list[str], dict]:
    """Wait until no delivery is pending; check every event the load caused reached the receiver, signed."""
    problems: list[str] = []
    with stack.postgres.connect() as db:
        while True:
            pending = db.execute("SELECT count(*) FROM webhooks_webhookdelivery WHERE state = 'pending'").fetchone()[0]
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        delivered_at = time.monotonic()
        states = dict(db.execute("SELECT state, count(*) FROM webhooks_webhookdelivery GROUP BY state").fetchall())
        recorded = {f"msg_{row[0].hex}" for row in db.execute("SELECT id FROM webhooks_webhookevent")}
        ready = {row[0] for row in db.execute("SELECT id FROM images_image WHERE processing = 'ready'")}
    with stack.receiver.changed:
        received = list(stack.receiver.received)
    got: dict[str, set] = {
        "image.ready": set(),
        "image.deleted": set(),
        "upload.completed": set(),
        "image.failed": set(),
    }
    # Each delivery verified once, in the phase it arrived in (the library refuses a timestamp over 5 minutes old).
    seen = WEBHOOKS_SEEN.get(id(stack.receiver), 0)
    verified = VERIFIED.setdefault(id(stack.receiver), [])
    for request in received[seen:]:
        try:
            payload = request.verified(SECRETS[request.path])
        except Exception as exc:  # noqa: BLE001 (any failure to verify is the finding)
            problems.append(f"webhook {request.headers.get('webhook-id')} to {request.path} does not verify: {exc}")
            continue
        verified.append((payload["type"], payload["data"]["id"], request.headers["webhook-id"]))
    ids = Counter()
    for kind, data_id, webhook_id in verified:
        got[kind].add(data_id)
        ids[webhook_id] += 1
    if pending:
        problems.append(f"{pending} webhook deliveries still pending")
    if states.get("failed"):
        problems.append(f"{states['failed']} webhook deliveries failed")
    for missing in sorted(recorded - set(ids))[:5]:
        problems.append(f"event {missing} recorded, never received")
    completed = {o.image_id for o in load.outcomes if o.op == "complete" and o.status == 201}
    for kind, expected in (("image.ready", ready), ("image.deleted", load.deleted), ("upload.completed", completed)):
        for image_id in sorted(expected - got[kind])[:5]:
            problems.append(f"no {kind} received for image {image_id}")
    WEBHOOKS_SEEN[id(stack.receiver)] = len(received)
    this_phase = Counter(request.headers["webhook-id"] for request in received[seen:])
    return problems, {
        "webhooks": len(received) - seen,
        "webhook_dupes": sum(n - 1 for n in this_phase.values()),
        "webhooks_after_s": round(delivered_at - load.ended, 1),
    }


def settle_and_check(stack: Stack, load: Load, recovered: float, name: str, **extra) -> dict:
    """Wait until nothing is pending (60 s after recovery at most); check what a user could observe."""
    deadline = recovered + READY_WITHIN
    with stack.postgres.connect() as db:
        while True:
            pending = db.execute("SELECT count(*) FROM images_image WHERE processing = 'pending'").fetchone()[0]
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        settled_at = time.monotonic()
        rows = {row[0]: row for row in db.execute("SELECT id, title, image, variants, processing FROM images_image")}
        duplicates = db.execute(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM images_image GROUP BY title) AS titles"
        ).fetchone()[0]
        # Objects of direct uploads still open belong to them until they expire; files recorded for deletion
        # (a deletion, a process killed half-way) are the sweeper's, removed within a minute or so.
        open_uploads = {row[0] for row in db.execute("SELECT key FROM images_directupload WHERE image_id IS NULL")}
        recorded = {row[0] for row in db.execute("SELECT name FROM images_storedfiledeletion")}
    keys = stack.s3.keys()
    titles = {row[1] for row in rows.values()}
    created = [o for o in load.outcomes if o.status == 201]

    problems = [f"{a.op} {a.problem}" for a in load.answers if a.problem]
    for outcome in created:
        row = rows.get(outcome.image_id)
        if outcome.image_id in load.deleted:
            continue
        if row is None:
            problems.append(f"201 for image {outcome.image_id} without its row")
        elif row[2] not in keys:
            problems.append(f"201 for image {outcome.image_id} without its object {row[2]}")
        elif row[4] == "ready" and not set(row[3].values()) <= keys:
            problems.append(f"image {outcome.image_id} ready without its variants")
    for outcome in load.outcomes:
        if outcome.status not in (200, 201) and outcome.title in titles:
            problems.append(f"an upload answered {outcome.status} left a row ({outcome.title})")
    for image_id in load.deleted:
        if image_id in rows:
            problems.append(f"deleted image {image_id} still has its row")
    owned = set(open_uploads)
    for row in rows.values():
        owned.add(row[2])
        owned.update(row[3].values())
    orphans = sorted(key for key in keys if key not in owned and key not in recorded)

    webhook_problems, webhook_figures = webhooks_check(stack, load, deadline + 60)
    problems += webhook_problems
    statuses = Counter(a.status for a in load.answers)
    figures = {
        "stack": stack.name,
        "phase": name,
        "requests": len(load.answers),
        "201": sum(1 for o in created if o.op == "upload"),
        "direct": sum(1 for o in created if o.op == "complete"),
        "503": statuses[503],
        "500": sum(n for s, n in statuses.items() if s >= 500 and s != 503),
        "no_answer": statuses[0],
        "duplicates": int(duplicates),
        "orphans": len(orphans),
        "to_sweep": len(keys & recorded),
        "pending_60s": pending,
        "ready_after_s": round(settled_at - recovered, 1),
        "worker_restarts": stack.worker_restarts
        - sum(f["worker_restarts"] for f in FIGURES if f["stack"] == stack.name),
        **webhook_figures,
        **extra,
        "problems": problems[:10],
    }
    FIGURES.append(figures)
    print(f"\n{stack.name} / {name}: {figures}")
    if problems:  # what the API nodes logged last, to tell why
        for node in stack.api:
            print(f"--- {node.name}'s log, last lines ---\n{log_tail(node.log, 6000)}")
    assert not problems, problems
    assert figures["duplicates"] == 0
    assert figures["orphans"] == 0, orphans[:10]
    assert figures["pending_60s"] == 0
    return figures


def test_baseline_no_fault(stack, tokens):
    load = Load(stack, tokens)
    recovered = load.run(6, time.monotonic)
    settle_and_check(stack, load, recovered, "baseline")


def test_postgresql_restarted(stack, tokens):
    phase_of("other", stack)

    def restart() -> float:
        stack.postgres.restart()
        return time.monotonic()

    load = Load(stack, tokens)
    recovered = load.run(LOAD_SECONDS, restart)
    figures = settle_and_check(stack, load, recovered, "postgresql restart")
    assert figures["requests"] > figures["503"]  # service resumed after the restart


def test_broker_killed_for_5_seconds(stack, tokens):
    def outage() -> float:
        stack.broker.restart()  # Redis comes back empty; RabbitMQ with its queues
        return time.monotonic()

    load = Load(stack, tokens)
    recovered = load.run(LOAD_SECONDS, outage)
    settle_and_check(stack, load, recovered, f"{stack.broker_kind} killed 5 s")


def test_worker_killed_with_sigkill_while_holding_jobs(stack, tokens):
    held, mid_delivery = [], []

    def crash() -> float:
        # Killed while it holds work: jobs taken and not acknowledged, in the middle of a webhook delivery (the
        # receiver holds its requests since the phase began, so the worker's processes are busy sending).
        deadline = time.monotonic() + 8
        while not (stack.receiver.in_flight and stack.broker.unacked()) and time.monotonic() < deadline:
            time.sleep(0.01)
        stack.workers[0].kill()
        held.append(stack.broker.unacked())
        mid_delivery.append(stack.receiver.in_flight)
        stack.receiver.slow.clear()
        time.sleep(2)
        stack.workers[0].start()
        return time.monotonic()

    load = Load(stack, tokens)
    stack.receiver.slow.set()
    recovered = load.run(LOAD_SECONDS, crash)
    settle_and_check(stack, load, recovered, "worker SIGKILL", held=held[0], mid_delivery=mid_delivery[0])
    assert held[0] > 0  # it was killed while holding work, and that work was done after all


def test_store_killed_for_5_seconds(stack, tokens):
    phase_of("other", stack)

    def outage() -> float:
        stack.s3.kill()
        time.sleep(5)
        stack.s3.start()
        return time.monotonic()

    load = Load(stack, tokens)
    recovered = load.run(LOAD_SECONDS, outage)
    figures = settle_and_check(stack, load, recovered, "store killed 5 s")
    assert figures["503"] > 0  # the outage was seen, and answered as one


def test_hung_store_fails_fast(stack, tokens):
    phase_of("other", stack)
    hung: list[float] = []

    def outage() -> float:
        stack.s3.hang()
        hung.append(time.monotonic())
        time.sleep(8)
        stack.s3.resume()
        hung.append(time.monotonic())
        return time.monotonic()

    load = Load(stack, tokens)
    recovered = load.run(LOAD_SECONDS, outage)
    # Uploads that got their 503 while the store was hung: how long each took.
    waits = [a.seconds for a in load.answers if a.op == "upload" and a.status == 503]
    slowest = round(max(waits, default=0.0), 1)
    figures = settle_and_check(stack, load, recovered, "store hung 8 s", upload_503_within_s=slowest)
    assert waits, "no upload met the hung store"
    assert figures["upload_503_within_s"] <= 10


def test_an_api_node_then_a_worker_killed(stack, tokens):
    phase_of("other", stack)
    if len(stack.api) < 2:
        pytest.skip("one node: nothing takes over")

    def crash() -> float:
        stack.api[0].kill()  # the requests it held are the only ones that fail
        time.sleep(4)
        stack.workers[1].kill()  # the other worker does the jobs (RabbitMQ: at once; Redis: after the timeout)
        return time.monotonic()

    load = Load(stack, tokens)
    recovered = load.run(LOAD_SECONDS, crash)
    stack.api[0].start()
    stack.workers[1].start()
    settle_and_check(stack, load, recovered, "API node + worker SIGKILL")


def test_throttles_and_url_cache_hold_across_nodes(stack, tokens):
    phase_of("other", stack)
    if len(stack.api) < 2:
        pytest.skip("one node")
    # The login throttle (10/min by default) counts attempts sent to either node together, per client address.
    statuses = []
    for attempt in range(11):
        node = stack.api[attempt % 2]
        response = requests.post(
            f"{node.url}/api/auth/login/",
            json={"email": "x@example.com", "password": "wrong"},
            headers={"X-Forwarded-For": "198.51.100.7"},
            timeout=10,
        )
        statuses.append(response.status_code)
    assert statuses == [401] * 10 + [429], statuses
    # A presigned URL signed on one node is the one the other answers (the cache in Redis), not a new signature.
    auth = {"Authorization": f"Bearer {tokens[0]}"}
    image_id = requests.get(f"{stack.api[0].url}/api/images/", headers=auth, timeout=10).json()[0]["id"]
    urls = {
        requests.get(f"{node.url}/api/images/{image_id}/", headers=auth, timeout=10).json()["image_url"]
        for node in stack.api
    }
    assert len(urls) == 1, urls


def test_no_starvation_during_a_burst_of_completions(stack, tokens):
    """50 completions with every worker stopped; a list on the same node keeps answering."""
    phase_of("other", stack)
    node = stack.api[0]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {tokens[0]}"
    load = Load(stack, tokens)
    uploads = []
    for n in range(50):
        data = photo(10_000 + n + next(UPLOAD_NUMBERS), size=(1600, 1200), quality=90)
        signed = session.post(
            f"{node.url}/api/images/uploads/",
            json={"filename": "p.jpg", "size": len(data), "title": f"burst-{uuid.uuid4()}"},
            timeout=30,
        )
        assert signed.status_code == 201, signed.text
        signed = signed.json()
        sent = requests.post(
            signed["url"], data=signed["fields"], files={"file": ("p.jpg", data, "image/jpeg")}, timeout=30
        )
        assert sent.status_code < 300, sent.text
        uploads.append(signed["id"])
    for worker in stack.workers:
        worker.hold()  # every verification worker stopped (SIGSTOP): alive, connected, verifying nothing
    listed: list[tuple[float, int]] = []
    done = threading.Event()

    def lister() -> None:
        client = requests.Session()
        client.headers["Authorization"] = f"Bearer {tokens[1]}"
        while not done.is_set():
            started = time.monotonic()
            try:
                status = client.get(f"{node.url}/api/images/?limit=20", timeout=30).status_code
            except requests.RequestException:
                status = 0
            listed.append((time.monotonic() - started, status))
            time.sleep(0.05)

    results: dict[str, Answer] = {}

    def complete(upload_id: str) -> None:
        client = requests.Session()
        client.headers["Authorization"] = f"Bearer {tokens[0]}"
        results[upload_id] = load.call(
            client,
            "complete",
            "post",
            f"/api/images/uploads/{upload_id}/complete/",
            key=str(uuid.uuid4()),
            base=node.url,
        )

    watcher = threading.Thread(target=lister, daemon=True)
    watcher.start()
    time.sleep(1)
    started = time.monotonic()
    threads = [threading.Thread(target=complete, args=(upload_id,), daemon=True) for upload_id in uploads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    took = time.monotonic() - started
    done.set()
    watcher.join(timeout=30)
    for worker in stack.workers:
        worker.release()

    during = [seconds for seconds, _ in listed]
    quantiles = statistics.quantiles(during, n=100)
    figures = {
        "stack": stack.name,
        "phase": "burst of 50 completions, workers stopped",
        "completed": sum(1 for a in results.values() if a.status == 201),
        "busy_503": sum(1 for a in load.answers if a.status == 503),
        "burst_s": round(took, 1),
        "lists": len(listed),
        "list_errors": sum(1 for _, status in listed if status != 200),
        "list_p50_ms": round(statistics.median(during) * 1000),
        "list_p99_ms": round(quantiles[98] * 1000),
        "list_max_ms": round(max(during) * 1000),
        "worker_restarts": 0,
    }
    FIGURES.append(figures)
    print(f"\n{stack.name} / burst: {figures}")
    assert figures["completed"] == 50, [a for a in results.values() if a.status != 201][:5]
    assert len({a.body["id"] for a in results.values()}) == 50
    assert figures["list_errors"] == 0
    assert figures["list_p99_ms"] < 250


def test_zz_nothing_left_behind(stack, tokens):
    """Once the sweeper has removed what was recorded for deletion, the store holds exactly what the rows own."""
    with stack.postgres.connect() as db:
        deadline = time.monotonic() + 150  # a killed upload's file waits out its grace (60 s), then a sweep
        while db.execute("SELECT count(*) FROM images_storedfiledeletion").fetchone()[0]:
            assert time.monotonic() < deadline, "files recorded for deletion were never removed"
            time.sleep(1)
        while db.execute("SELECT count(*) FROM images_image WHERE processing = 'pending'").fetchone()[0]:
            assert time.monotonic() < deadline, "images still pending"  # the burst's variants, once workers resume
            time.sleep(1)
    check = stack.manage("check_storage", "--grace", "0")
    if check.returncode:  # say what the store and the rows disagree about, with what else is known
        with stack.postgres.connect() as db:
            rows = db.execute(
                "SELECT id, title, image, variants, processing, uploaded_at FROM images_image ORDER BY id DESC LIMIT 3"
            ).fetchall()
        print("\nlatest rows:", rows)
        keys = sorted(stack.s3.keys())
        for line in check.stdout.splitlines():
            if line.strip().isdigit():
                with stack.postgres.connect() as db:
                    row = db.execute(
                        "SELECT title, image, variants, processing, uploaded_at FROM images_image WHERE id = %s",
                        [int(line)],
                    ).fetchone()
                stem = row[1].rsplit(".", 1)[0]
                print(f"\nimage {line}: {row}; stored: {[key for key in keys if key.startswith(stem)]}")
    assert check.returncode == 0, check.stdout + check.stderr


def test_zzz_summary(stack):
    """Print the figures of every phase so far as one table (for the notes)."""
    columns = [
        "stack",
        "phase",
        "requests",
        "201",
        "direct",
        "503",
        "500",
        "no_answer",
        "duplicates",
        "orphans",
        "to_sweep",
        "pending_60s",
        "ready_after_s",
        "worker_restarts",
        "webhooks",
        "webhook_dupes",
    ]
    print("\n" + " | ".join(columns))
    for figures in FIGURES:
        print(" | ".join(str(figures.get(c, "")) for c in columns))
    for figures in FIGURES:
        extra = {k: v for k, v in figures.items() if k not in columns and k != "problems"}
        if extra:
            print(f"{figures['stack']} / {figures['phase']}: {extra}")
