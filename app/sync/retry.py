"""Retries of the sync's requests: bounded, with exponential backoff and full jitter, and
cancellable while waiting."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from app.sync.errors import MalformedAnswer, ServerFailed, ServerRejected, ServerUnreachable

log = logging.getLogger("madoguchi.sync")

T = TypeVar("T")

# Errors after which the same request may simply be sent again (the feed is read-only and
# events are idempotent by event_id).
RETRYABLE = (ServerUnreachable, ServerFailed, MalformedAnswer)
# 4xx that mean "later", not "never".
RETRY_STATUSES = frozenset({408, 425, 429})

Cancel = Callable[[], bool] | threading.Event


class SyncCancelled(Exception):
    """Raised inside the engine when the caller's cancel flag is set; never escapes it."""


class RetryCounter(Protocol):
    """A result that counts the retries made for it (PullResult, PushResult, RepairResult)."""

    retries: int


def is_cancelled(cancel: Cancel | None) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base·2^n))."""

    attempts: int = 5  # total tries of one request, the first included
    base_seconds: float = 0.5
    cap_seconds: float = 30.0

    def delay(self, failures: int, rng: random.Random) -> float:
        ceiling = min(self.cap_seconds, self.base_seconds * (2 ** (failures - 1)))
        return rng.uniform(0.0, ceiling)


DEFAULT_RETRY = RetryPolicy()  # frozen: one default shared safely


@dataclass(frozen=True, slots=True)
class EventBackoff:
    """One event the server keeps failing on while it takes others (issue 21 item 5): held back
    base·2^(n−1) after its nth failed attempt (at most `cap_seconds`), quarantined at the
    `quarantine_after`th for a supervisor to look at."""

    quarantine_after: int = 5
    base_seconds: float = 60.0
    cap_seconds: float = 1800.0

    def retry_at(self, attempts: int, now: datetime) -> datetime:
        delay = min(self.cap_seconds, self.base_seconds * (2 ** max(0, attempts - 1)))
        return now + timedelta(seconds=delay)


DEFAULT_EVENT_BACKOFF = EventBackoff()


class Retrier:
    """Runs one request with the bounded retries of a RetryPolicy; waits can be cancelled."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._rng = rng or random.Random()

    def wait(self, seconds: float, cancel: Cancel | None) -> None:
        if cancel is None:
            self._sleep(seconds)
            return
        if isinstance(cancel, threading.Event):
            if cancel.wait(seconds):
                raise SyncCancelled
            return
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if is_cancelled(cancel):
                raise SyncCancelled
            self._sleep(min(left, 0.1))
        if is_cancelled(cancel):
            raise SyncCancelled

    def call(
        self, what: str, fn: Callable[[], T], cancel: Cancel | None, counter: RetryCounter
    ) -> T:
        """fn() with bounded retries on network errors, 5xx, unreadable answers, 408/429."""
        failures = 0
        while True:
            if is_cancelled(cancel):
                raise SyncCancelled
            try:
                return fn()
            except ServerRejected as exc:
                if exc.status not in RETRY_STATUSES:
                    raise
                error: Exception = exc
            except RETRYABLE as exc:
                error = exc
            failures += 1
            if failures >= self.policy.attempts:
                log.warning(
                    "sync %s: giving up after %d tries (%s)", what, failures, type(error).__name__
                )
                raise error
            delay = self.policy.delay(failures, self._rng)
            counter.retries += 1
            log.info("sync %s: %s, retry %d in %.2fs", what, type(error).__name__, failures, delay)
            self.wait(delay, cancel)
