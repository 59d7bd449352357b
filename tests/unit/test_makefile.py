"""``make run`` installs the Python packages only; the browser is for ``make test``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _dry_run(target: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        ["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_make_run_installs_the_python_packages_and_no_browser() -> None:
    plan = _dry_run("run")
    assert "pip install --quiet -e '.[dev]'" in plan  # trellis dev's SMTP catcher: aiosmtpd
    assert "chromium" not in plan and "apt-get" not in plan


def test_make_test_still_installs_the_browser_and_the_dev_extras() -> None:
    plan = _dry_run("test")
    assert "chromium" in plan and "'.[dev]'" in plan
