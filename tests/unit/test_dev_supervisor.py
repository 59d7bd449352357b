"""``trellis dev``'s supervisor: a crashed child is started again, with a back-off that grows."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from console.supervisor import Backoff, Child, exit_words, keep_running


@pytest.mark.parametrize(
    ("n", "seconds"), [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (40, 30.0)]
)
def test_the_back_off_doubles_from_half_a_second_up_to_thirty(n: int, seconds: float) -> None:
    assert Backoff().delay(n) == seconds


@pytest.mark.parametrize(
    ("code", "words"),
    [(3, "exited with 3"), (0, "exited with 0"), (-signal.SIGKILL, "was killed by SIGKILL")],
)
def test_an_exit_is_said_in_words(code: int, words: str) -> None:
    assert exit_words(code) == words


async def test_a_child_that_keeps_crashing_is_restarted_until_told_to_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    starts = tmp_path / "starts"
    script = f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(3)"
    child = Child("flaky", [sys.executable, "-c", script])
    stopping = asyncio.Event()
    restarted: list[int] = []
    thrice = asyncio.Event()

    def on_restart(c: Child) -> None:
        restarted.append(c.restarts)
        if len(restarted) == 3:
            thrice.set()

    await child.start({})
    backoff = Backoff(first_s=0.01, max_s=0.02)
    keeper = asyncio.create_task(keep_running(child, {}, stopping, backoff, on_restart))
    await asyncio.wait_for(thrice.wait(), 30)
    stopping.set()
    await asyncio.wait_for(keeper, 10)
    await child.stop()
    assert restarted[:3] == [1, 2, 3]
    assert len(starts.read_text()) >= 3  # each restart really ran the program again
    out = capsys.readouterr().out
    assert "flaky exited with 3; restarting it in 0.01s (restart 1; crash 1 in a row)" in out
    assert "(restart 2; crash 2 in a row)" in out and "restarting it in 0.02s" in out


async def test_a_child_is_not_restarted_once_stopping(tmp_path: Path) -> None:
    child = Child("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
    stopping = asyncio.Event()
    restarted: list[int] = []
    await child.start({})
    keeper = asyncio.create_task(
        keep_running(child, {}, stopping, on_restart=lambda c: restarted.append(c.restarts))
    )
    stopping.set()
    await asyncio.wait_for(keeper, 10)
    await child.stop()
    assert restarted == []
    assert child.process is not None and child.process.returncode == -signal.SIGTERM
