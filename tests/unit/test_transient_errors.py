"""Infrastructure failures are retried, never dead-lettered; logic errors are poison suspects."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError
from sqlalchemy.exc import IntegrityError, OperationalError

from trellis.consumer import is_transient


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError("db down"),
        TimeoutError(),
        KafkaConnectionError("broker down"),
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
    ],
)
def test_outages_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad data"),
        KeyError("missing"),
        IntegrityError("INSERT", {}, Exception("constraint")),
    ],
)
def test_logic_errors_are_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_a_wrapped_outage_is_still_transient() -> None:
    try:
        try:
            raise ConnectionResetError("reset")
        except ConnectionResetError as inner:
            raise RuntimeError("while saving") from inner
    except RuntimeError as outer:
        assert is_transient(outer)
