"""tests/support/poll.py: returns the first truthy answer, retries the named errors, fails past
the deadline."""

from __future__ import annotations

import pytest

from tests.support.poll import poll_until


def test_returns_the_first_truthy_answer() -> None:
    answers = iter([None, 0, "ready", "later"])
    assert poll_until(lambda: next(answers), timeout=5, interval=0) == "ready"


def test_retries_the_named_errors_only() -> None:
    calls: list[int] = []

    def flaky() -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("not yet")
        return True

    assert poll_until(flaky, timeout=5, interval=0, retry_on=(ConnectionError,))
    with pytest.raises(KeyError):
        poll_until(lambda: {}["x"], timeout=5, interval=0, retry_on=(ConnectionError,))


def test_fails_past_the_deadline_with_the_last_error() -> None:
    def never() -> bool:
        raise ConnectionError("down")

    with pytest.raises(AssertionError, match="the server") as info:
        poll_until(never, timeout=0, interval=0, what="the server", retry_on=(ConnectionError,))
    assert isinstance(info.value.__cause__, ConnectionError)
