"""One child process of ``bench e2e`` / ``python -m chaos``: started, killed with SIGKILL,
started again; its CPU seconds and RSS read from ``/proc``. Children die with the harness
(PR_SET_PDEATHSIG)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from trellis.broker import port_in_use

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except OSError:
        return 0


@dataclass
class Service:
    """One ``trellis <name>`` (or other) child process that may be killed and restarted."""

    name: str
    argv: list[str]
    env: dict[str, str]
    logs: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    cpu_before: float = 0.0  # CPU seconds of earlier incarnations

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} not started"
        return self.process.pid

    def start(self) -> None:
        self.starts += 1
        log = (self.logs / f"{self.name}-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.close()

    def log_text(self) -> str:
        return (self.logs / f"{self.name}-{self.starts}.log").read_text(errors="replace")

    def wait_for_log(self, needle: str, deadline_s: float = 60) -> None:
        end = time.monotonic() + deadline_s
        while needle not in self.log_text():
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_text()[-3000:]}")
            if time.monotonic() > end:
                raise RuntimeError(f"{self.name}: {needle!r} not logged in {deadline_s}s")
            time.sleep(0.05)

    def wait_for_port(self, port: int, deadline_s: float = 60) -> None:
        end = time.monotonic() + deadline_s
        while not port_in_use("127.0.0.1", port):
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_text()[-3000:]}")
            if time.monotonic() > end:
                raise RuntimeError(f"{self.name}: port {port} not open in {deadline_s}s")
            time.sleep(0.05)

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.cpu_before += cpu_seconds(self.process.pid)
            self.process.kill()
            self.process.wait()
            self.kills += 1

    def stop(self, timeout_s: float = 20) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        self.cpu_before += cpu_seconds(proc.pid)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def cpu(self) -> float:
        """CPU seconds over all incarnations so far."""
        live = self.process is not None and self.process.poll() is None
        return self.cpu_before + (cpu_seconds(self.pid) if live else 0.0)

    def rss(self) -> int:
        live = self.process is not None and self.process.poll() is None
        return rss_bytes(self.pid) if live else 0
