"""Every test here is also a log test: the records it causes at INFO+ (in this process, any
logger, any thread, in-process servers included) must carry no email address or phone number
(``tests/pii.py``). A test that starts services as subprocesses scans their output itself with
``find_personal_data``; the capture still covers what this process logs.

A test whose logs cannot be scanned must say so with
``@pytest.mark.logs_not_scanned("why, and where they are checked instead")``; nothing is skipped
silently.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pii import no_personal_data_logged


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "logs_not_scanned(reason): this test's log records are not scanned for PII"
    )


@pytest.fixture(autouse=True)
def personal_data_never_logged(request: pytest.FixtureRequest) -> Iterator[None]:
    marker = request.node.get_closest_marker("logs_not_scanned")
    if marker is not None:
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
        assert str(reason).strip(), "logs_not_scanned needs a reason: where are they checked?"
        yield
        return
    with no_personal_data_logged():
        yield
