"""The one poll-until-deadline loop of the tests.

    answer = poll_until(lambda: fetch() or None, timeout=10, what="the card")

Calls `condition` until it returns something truthy and returns that. Exceptions of the types in
`retry_on` count as "not yet"; anything else (an assertion about a process that died, say)
stops the wait at once. Past `timeout` seconds it fails with AssertionError naming `what` (and
chains the last retried exception). The deadline only bounds a wait for an outside component:
it never decides a test's result by itself.

Qt tests wait with qtbot.waitUntil / waitSignal (they spin the event loop, which this loop does
not); their bound is QT_WAIT_MS, the same for every such wait: generous, because a loaded
machine makes an argon2id check or a background thread take seconds, and a wait for something
that does happen returns as soon as it does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

QT_WAIT_MS = 30_000


def poll_until[T](
    condition: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.1,
    what: str = "the condition",
    retry_on: tuple[type[BaseException], ...] = (),
) -> T:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = condition()
        except retry_on as exc:
            last = exc
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout:g} s") from last
        time.sleep(interval)
