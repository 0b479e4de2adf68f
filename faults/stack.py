"""The service as production runs it, every part a real process of its own, to stop and kill on purpose.

A private PostgreSQL cluster, a private Redis (the shared cache, and the broker when chosen), a private RabbitMQ
node (when it is the broker), SeaweedFS on fixed ports (so that a restart comes back where it was), one or two API
nodes (gunicorn as gunicorn.conf.py makes it, two worker processes each) behind nginx when there are two, one or
two Celery workers and one beat, each started with its line of the project's Procfile, and the workers supervised
as production runs them (systemd's Restart=always). Every setting is the shipped default but those that say
where things are, and the rates that would throttle the suite's own load. All on 127.0.0.1, all in one temporary
folder, all stopped at the end; the machine's own services are never touched.
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import requests

from testutils import (
    BIN,
    PROJECT,
    Receiver,
    S3Server,
    free_port,
    kill,
    kill_group,
    port_open,
    start_redis,
    start_weed,
    wait_until,
)

S3_KEY, S3_SECRET, BUCKET = "fault-key", "fault-secret", "fault-images"


def as_user(user: str, command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    return ["runuser", "-u", user, "--", *command] if os.geteuid() == 0 else command


def procfile_command(kind: str) -> str:
    """The project's Procfile line for a kind of process (web, worker, beat)."""
    for line in (PROJECT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == kind:
            return command.strip()
    raise KeyError(kind)


class Postgres:
    """A PostgreSQL cluster of the suite's own, on a free port."""

    def __init__(self, folder: Path) -> None:
        self.bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
        self.data, self.log, self.port = folder / "data", folder / "postgres.log", free_port()
        subprocess.run(
            as_user(
                "postgres",
                [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            ),
            check=True,
            capture_output=True,
        )

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", *args]
        subprocess.run(as_user("postgres", command), check=True, capture_output=True)

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._ctl("stop", "-m", "immediate")

    def connect(self, dbname: str = "images") -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True)


class Redis:
    """A Redis of the suite's own (the machine's shared one is never stopped); it keeps nothing on disk."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port, self.process = folder, free_port(), None

    def start(self) -> None:
        self.process = start_redis(self.port, self.folder)

    def kill(self) -> None:
        kill(self.process)

    def restart(self) -> None:
        """Killed, and started again empty (no persistence, as on these machines)."""
        self.kill()
        time.sleep(5)
        self.start()

    def unacked(self) -> int:
        """Jobs taken by a worker and not acknowledged yet (kombu's "unacked" hash in the broker's db)."""
        import redis

        return redis.Redis(port=self.port, db=1).hlen("unacked")


class RabbitMQ:
    """A RabbitMQ node of the suite's own, on free ports; its queues and messages survive a kill (on disk)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port, self.dist_port = free_port(), free_port()
        self.node = f"faults{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.process = None
        (folder / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n")
        (folder / "enabled_plugins").write_text("[].\n")
        (folder / "rabbitmq-env.conf").write_text("")
        for sub in ("mnesia", "log"):
            (folder / sub).mkdir(exist_ok=True)
        if os.geteuid() == 0:  # rabbitmq-server runs as its own user when started by root
            for path in (folder, *folder.rglob("*")):
                shutil.chown(path, "rabbitmq", "rabbitmq")

    def start(self) -> None:
        f = self.folder
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(f / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(f / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(f / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(f / "mnesia"),
            "RABBITMQ_LOG_BASE": str(f / "log"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(f / "feature_flags"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        with (f / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["rabbitmq-server"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until(lambda: port_open(self.port), "rabbitmq", timeout=90, log=f / "server.log")

    def kill(self) -> None:
        """SIGKILL the server. Debian's rabbitmq-server runs it through `su`, which starts it in a session of its own:
        the launcher's group alone would leave the server running (and a restart would find it still listening)."""
        kill_group(self.process)
        for session in self._server_sessions():
            try:
                os.killpg(session, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(self._stopped, "rabbitmq gone", timeout=30)

    def _stopped(self) -> bool:
        try:
            port_open(self.port)
        except OSError:
            return True  # nothing accepts connections there any more
        return False

    def _server_sessions(self) -> set[int]:
        """The sessions of the processes that run this node (found by the RABBITMQ_NODENAME they were given)."""
        marker = f"RABBITMQ_NODENAME={self.node}".encode()
        sessions = set()
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and marker in (proc / "environ").read_bytes().split(b"\0"):
                    sessions.add(os.getsid(int(proc.name)))
            except (OSError, ProcessLookupError):
                continue  # gone meanwhile, or not ours to read
        return sessions - {os.getsid(0)}  # never the suite's own

    def restart(self) -> None:
        """Killed (SIGKILL), and started again on its data: durable queues and persistent messages come back."""
        self.kill()
        time.sleep(5)
        self.start()

    def unacked(self) -> int:
        """Jobs taken by a worker and not acknowledged yet, over every queue."""
        listed = subprocess.run(
            ["rabbitmqctl", "-n", self.node, "-q", "list_queues", "messages_unacknowledged"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return sum(int(n) for n in re.findall(r"^\d+$", listed.stdout, flags=re.MULTILINE))


class SeaweedFS:
    """SeaweedFS `weed mini` with every port given, so that a restart comes back on the same ones."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.log = folder, folder / "weed.log"
        names = ["master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc", "admin"]
        self.ports = {name: free_port() for name in names}
        self.server = S3Server(f"http://127.0.0.1:{self.ports['s3']}", S3_KEY, S3_SECRET, BUCKET)
        self.endpoint = self.server.endpoint
        self.process = None

    def start(self) -> None:
        sockets = (f"-filer.localSocket={self.folder}/filer.sock", f"-s3.localSocket={self.folder}/s3.sock")
        self.process = start_weed(
            self.folder, self.server, self.log, ports=self.ports, options=sockets, start_new_session=True
        )
        wait_until(lambda: self.client().head_bucket(Bucket=BUCKET) or True, "SeaweedFS", timeout=90, log=self.log)

    def kill(self) -> None:
        kill_group(self.process)

    def hang(self) -> None:
        """SIGSTOP: connections are still accepted (by the kernel), and nothing answers."""
        kill_group(self.process, signal.SIGSTOP)

    def resume(self) -> None:
        kill_group(self.process, signal.SIGCONT)

    def client(self):
        return self.server.client()

    def keys(self) -> set[str]:
        return set(self.server.keys())


class Nginx:
    """nginx (Debian's package, installed here when missing) running deploy/nginx.conf in front of the nodes."""

    def __init__(self, folder: Path, upstreams: list[int]) -> None:
        self.folder, self.port, self.process = folder, free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"
        site = (PROJECT / "deploy" / "nginx.conf").read_text()
        servers = "".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;\n" for port in upstreams)
        site = re.sub(r"(upstream image_api \{\n)(?:\s*server [^\n]*\n)+", rf"\g<1>{servers}", site)
        site = re.sub(r"listen 80;", f"listen 127.0.0.1:{self.port};", site)
        (folder / "site.conf").write_text(site)
        temp = "".join(f"    {kind}_temp_path {folder}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi"))
        temp += "".join(f"    {kind}_temp_path {folder}/{kind};\n" for kind in ("uwsgi", "scgi"))
        (folder / "nginx.conf").write_text(
            f"worker_processes 1;\nerror_log {folder}/error.log warn;\npid {folder}/nginx.pid;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n    access_log off;\n{temp}    include {folder}/site.conf;\n}}\n"
        )

    @staticmethod
    def install() -> str:
        """The nginx binary; installed with apt-get (Debian's package) when the machine has none."""
        found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if found:
            return found
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx"], check=True, capture_output=True, env=env)
        return shutil.which("nginx") or "/usr/sbin/nginx"

    def start(self) -> None:
        binary = self.install()
        command = [binary, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"), "-g", "daemon off;"]
        with (self.folder / "nginx.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: port_open(self.port), "nginx", timeout=20, log=self.folder / "error.log")

    def stop(self) -> None:
        kill_group(self.process)


class Service:
    """One process of the service, started with its Procfile line, in a session of its own (to kill it whole)."""

    def __init__(self, stack: "Stack", kind: str, name: str, env: dict[str, str] | None = None) -> None:
        self.stack, self.kind, self.name, self.env = stack, kind, name, env or {}
        self.log = stack.folder / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.wanted = False  # the supervisor starts it again when it exits on its own
        self.restarts = 0

    def start(self) -> None:
        env = {**self.stack.env, **self.env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["bash", "-c", "exec " + procfile_command(self.kind)],
                cwd=PROJECT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wanted = True

    def kill(self) -> None:
        """SIGKILL the process and every child, as a crash of its machine would; not started again for it."""
        self.wanted = False
        kill_group(self.process)

    def hold(self) -> None:
        """SIGSTOP the process and its children: alive, connected, doing nothing."""
        kill_group(self.process, signal.SIGSTOP)

    def release(self) -> None:
        kill_group(self.process, signal.SIGCONT)


class ApiNode(Service):
    """An API node: gunicorn with two worker processes (the Procfile's web line), on a port of its own."""

    def __init__(self, stack: "Stack", number: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(stack, "web", f"api{number}", {"BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": "2"})

    def start(self) -> None:
        super().start()
        wait_until(self.healthy, self.name, timeout=60, log=self.log)

    def healthy(self) -> bool:
        return requests.get(f"{self.url}/api/health/", timeout=2).status_code == 200


class Stack:
    """Every process of the service, configured as production would be, with this broker and this many nodes."""

    def __init__(self, broker: str = "redis", nodes: int = 1) -> None:
        self.broker_kind, self.nodes_count = broker, nodes
        # In /tmp itself, readable by the postgres and rabbitmq users (pytest's tmp_path is not).
        self.folder = Path(tempfile.mkdtemp(prefix=f"faults-{broker}-{nodes}-"))
        os.chmod(self.folder, 0o755)
        self.postgres = Postgres(self._folder("pg", owner="postgres"))
        self.redis = Redis(self.folder)
        self.rabbitmq = RabbitMQ(self._folder("rabbitmq")) if broker == "rabbitmq" else None
        self.s3 = SeaweedFS(self._folder("s3"))
        # Webhooks go to a receiver in the suite's process: it records them and answers 200 (3 s late while its
        # `slow` is set, so that a worker can be killed in the middle of a delivery).
        self.receiver = Receiver()
        broker_url = self.rabbitmq.url if self.rabbitmq else f"redis://127.0.0.1:{self.redis.port}/1"
        self.env = {
            **os.environ,
            "DOTENV_FILE": "",
            # Where things are, and production's security settings as a plain-HTTP loopback test needs them.
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
            "USE_S3": "True",
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": self.s3.endpoint,
            "AWS_S3_ADDRESSING_STYLE": "path",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/0",
            "CELERY_BROKER_URL": broker_url,
            "MEDIA_ROOT": str(self.folder / "media"),
            "BEAT_SCHEDULE": str(self.folder / "beat-schedule"),
            "NUM_PROXIES": "1" if nodes > 1 else "0",  # behind nginx
            # Webhooks to the suite's receiver on loopback, and nowhere else.
            "WEBHOOK_ALLOW_PRIVATE": "True",
            "WEBHOOK_REQUIRE_HTTPS": "False",
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            # The suite's own load would be throttled: four clients upload as fast as they can.
            "THROTTLE_SIGNUP_RATE": "100000/min",
            "THROTTLE_UPLOAD_RATE": "100000/min",
            "LOG_LEVEL": "WARNING",
        }
        self.api = [ApiNode(self, n + 1) for n in range(nodes)]
        # Each worker a name of its own (on one machine they would share celery@<host>, and RabbitMQ refuses the
        # second one's control queue).
        self.workers = [
            Service(self, "worker", f"worker{n + 1}", {"WORKER_NAME": f"worker{n + 1}"}) for n in range(nodes)
        ]
        self.beat = Service(self, "beat", "beat")
        self.nginx = Nginx(self._folder("nginx"), [node.port for node in self.api]) if nodes > 1 else None
        self.url = self.nginx.url if self.nginx else self.api[0].url
        self.stopping = threading.Event()

    def _folder(self, name: str, owner: str | None = None) -> Path:
        folder = self.folder / name
        folder.mkdir()
        if owner and os.geteuid() == 0:
            shutil.chown(folder, owner, owner)
        return folder

    @property
    def name(self) -> str:
        return f"{self.broker_kind}, {self.nodes_count} node{'s' if self.nodes_count > 1 else ''}"

    @property
    def broker(self):
        return self.rabbitmq or self.redis

    def start(self) -> None:
        self.postgres.start()
        with self.postgres.connect("postgres") as connection:
            connection.execute("CREATE DATABASE images")
        self.redis.start()
        # SeaweedFS before RabbitMQ: its nine ports were chosen free when the stack was made, and the Erlang nodes of
        # RabbitMQ and of its CLI listen on ports of the kernel's choosing, which could take one of them meanwhile.
        self.s3.start()
        if self.rabbitmq:
            self.rabbitmq.start()
        migrated = self.manage("migrate", "--noinput", "-v", "0")
        assert migrated.returncode == 0, migrated.stderr
        for node in self.api:
            node.start()
        if self.nginx:
            self.nginx.start()
        for process in (*self.workers, self.beat):
            process.start()
        threading.Thread(target=self._supervise, daemon=True).start()

    def _supervise(self) -> None:
        # A Celery worker can exit on its own when it loses the broker while handing back unacknowledged jobs;
        # production's supervisor starts it again, and so does this one (counted).
        while not self.stopping.wait(0.5):
            for process in (*self.workers, self.beat):
                if process.wanted and process.process.poll() is not None:
                    process.restarts += 1
                    print(f"\nsupervisor: {process.name} exited ({process.process.returncode}); starting it again")
                    process.start()

    @property
    def worker_restarts(self) -> int:
        return sum(process.restarts for process in (*self.workers, self.beat))

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=PROJECT, env=self.env, capture_output=True, text=True, timeout=300
        )

    def stop(self) -> None:
        self.stopping.set()
        for process in (*self.workers, self.beat, *self.api):
            process.release()
            process.kill()
        if self.nginx:
            self.nginx.stop()
        self.s3.resume()
        for stopping in (self.s3.kill, self.redis.kill, self.postgres.stop, self.receiver.stop):
            try:
                stopping()
            except Exception:  # noqa: BLE001 (already down)
                pass
        if self.rabbitmq:
            self.rabbitmq.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
