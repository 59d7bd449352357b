"""The child processes of ``trellis dev``: started, prefixed, restarted when they crash.

A service that dies (a bug, an OOM kill, ``kill -9``) is started again after a back-off that
doubles while it keeps crashing (0.5 s, 1 s, 2 s ... 30 s) and resets once it has stayed up a
minute, so a crash loop neither spins the CPU nor hides: each exit and each restart is a line.
Children die with the supervisor if it is killed outright (PR_SET_PDEATHSIG): nothing is orphaned.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

COLOURS = {
    "broker": 35,
    "ingest": 36,
    "orchestrator": 33,
    "notifier": 32,
    "sinks": 34,
    "dev": 1,
}
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def say(name: str, line: str) -> None:
    colour = COLOURS.get(name, 0) if sys.stdout.isatty() else 0
    prefix = f"\x1b[{colour}m{name:>12} |\x1b[0m" if colour else f"{name:>12} |"
    sys.stdout.write(f"{prefix} {line}\n")
    sys.stdout.flush()


def exit_words(returncode: int) -> str:
    """``exited with 3`` or ``was killed by SIGKILL`` (asyncio gives a signal as -N)."""
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with {returncode}"


@dataclass(frozen=True)
class Backoff:
    """How long to wait before restart number ``n`` (1-based) of a crash loop."""

    first_s: float = 0.5
    max_s: float = 30.0
    stable_after_s: float = 60.0
    """A child that ran this long before dying starts a new crash loop (back-off from first)."""

    def delay(self, n: int) -> float:
        return float(min(self.first_s * 2 ** (n - 1), self.max_s))


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    process: asyncio.subprocess.Process | None = None
    pump: asyncio.Task[None] | None = field(default=None, repr=False)
    restarts: int = 0

    async def start(self, env: dict[str, str]) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            preexec_fn=_die_with_parent,
            start_new_session=True,  # Ctrl-C reaches us; we stop children in order
        )
        self.pump = asyncio.create_task(self._pump())
        say("dev", f"started {self.name} (pid {self.process.pid})")

    async def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for raw in self.process.stdout:
            say(self.name, raw.decode(errors="replace").rstrip())

    async def stop(self, timeout_s: float = 15.0) -> None:
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            say("dev", f"{self.name} did not stop in {timeout_s}s; killing it")
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if self.pump is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self.pump, 2)


async def keep_running(
    child: Child,
    env: dict[str, str],
    stopping: asyncio.Event,
    backoff: Backoff = Backoff(),
    on_restart: Callable[[Child], None] | None = None,
) -> None:
    """Restart ``child`` whenever it exits until ``stopping`` is set (it must be started).

    ``on_restart`` is called after each restart and must not block (``trellis dev`` starts a
    task there that waits for the child's readiness and says so)."""
    loop = asyncio.get_running_loop()
    crashes = 0
    while not stopping.is_set():
        assert child.process is not None
        started = loop.time()
        code = await _exit_or_stop(child.process, stopping)
        if code is None:
            return
        if child.pump is not None:  # its last lines (the traceback) before ours
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(child.pump, 2)
        crashes = 1 if loop.time() - started >= backoff.stable_after_s else crashes + 1
        wait_s = backoff.delay(crashes)
        say("dev", f"{child.name} {exit_words(code)}; restarting it in {wait_s:g}s "
                   f"(restart {child.restarts + 1}; crash {crashes} in a row)")  # fmt: skip
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), wait_s)
        if stopping.is_set():
            return
        await child.start(env)
        child.restarts += 1
        if on_restart is not None:
            on_restart(child)


async def _exit_or_stop(process: asyncio.subprocess.Process, stopping: asyncio.Event) -> int | None:
    """The process's exit code, or None if ``stopping`` came first."""
    exited = asyncio.ensure_future(process.wait())
    stopped = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({exited, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if exited.done() and not stopping.is_set():
        stopped.cancel()
        return exited.result()
    exited.cancel()
    stopped.cancel()
    return None
