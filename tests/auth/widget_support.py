"""Shared by the widget tests of tests/auth and tests/audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def sync_runner(
    parent: Any,
    fn: Callable[[], Any],
    on_success: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
) -> None:
    """Runs the "background" call at once on the GUI thread: deterministic widget tests.

    ui.background.run_in_background itself is tested by its owner; here the widgets' own
    behaviour is under test.
    """
    try:
        result = fn()
    except BaseException as exc:
        if on_error is not None:
            on_error(exc)
        return
    if on_success is not None:
        on_success(result)
