"""Every example marked runnable in the README and docs/ (a fenced block opened with
```` ```sh runnable ````) works against the stack ``make run`` starts.

One ``trellis dev`` is started in a fresh directory whose ``.trellis/`` is its data directory, so
the examples' ``.trellis/dev-*-key`` paths work as written; ``localhost:8000`` and
``localhost:8001`` are rewritten to the free ports the stack got. Each block runs in bash with
``set -euo pipefail``, the venv's ``trellis`` and ``python`` first on ``PATH``: a failing
command, an HTTP error (the examples use ``curl --fail-with-body``) or a failed ``assert`` fails
the test, naming the file and line of the block.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.dev_stack import READY
from trellis.broker import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```sh runnable\n(.*?)^```$", re.M | re.S)
DEADLINE_S = 90


@dataclass(frozen=True)
class Example:
    where: str  # file:line
    script: str


def runnable_examples() -> list[Example]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Example(f"{doc.relative_to(ROOT)}:{line}", match.group(1)))
    return found


@dataclass(frozen=True)
class Stack:
    cwd: Path
    env: dict[str, str]
    ingest: int
    ops: int
    log: Path

    def localised(self, script: str) -> str:
        for host in ("localhost", "127.0.0.1"):
            script = script.replace(f"{host}:8000", f"127.0.0.1:{self.ingest}")
            script = script.replace(f"{host}:8001", f"127.0.0.1:{self.ops}")
        return script


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    cwd = tmp_path_factory.mktemp("docs")
    ingest, ops = free_port(), free_port()
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")} | {
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
        "TRELLIS_DATA_DIR": str(cwd / ".trellis"),
        "TRELLIS_EMBEDDED_BROKER_PORT": str(free_port()),
        "TRELLIS_INGEST_PORT": str(ingest),
        "TRELLIS_OPS_PORT": str(ops),
        "TRELLIS_OPS_BASE_URL": f"http://127.0.0.1:{ops}",
        "TRELLIS_TOPIC_PARTITIONS": "2",
        "TRELLIS_DEV_SMTP_PORT": str(free_port()),
        "TRELLIS_DEV_SMS_PORT": str(free_port()),
        "TRELLIS_NOTIFIER_HTTP_PORT": str(free_port()),
    }
    log = cwd / "dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "dev"],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        end = time.monotonic() + DEADLINE_S
        while not READY.search(log.read_text()):  # every service's /readyz answered 200
            assert proc.poll() is None, f"trellis dev exited:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < end, f"stack not ready:\n{log.read_text()[-4000:]}"
            time.sleep(0.3)
        yield Stack(cwd, env, ingest, ops, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_readme_and_the_producers_page_have_runnable_examples() -> None:
    places = {e.where.split(":")[0] for e in runnable_examples()}
    assert {"README.md", "docs/producers.md"} <= places
    assert len(runnable_examples()) >= 6


def test_a_failing_example_fails(stack: Stack) -> None:
    """The harness would notice a broken example: an HTTP error is a non-zero exit."""
    broken = "curl -sS --fail-with-body -u 'not-a-key:' -XPOST localhost:8000/v1/events -d '{}'"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", stack.localised(broken)],
        cwd=stack.cwd, env=stack.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 22, done.stderr  # curl: the server answered an HTTP error


@pytest.mark.parametrize("example", runnable_examples(), ids=lambda e: e.where)
def test_runnable_example_works_against_a_started_stack(stack: Stack, example: Example) -> None:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", stack.localised(example.script)],
        cwd=stack.cwd, env=stack.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, (
        f"{example.where} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        f"\n--- dev log:\n{stack.log.read_text()[-3000:]}"
    )
