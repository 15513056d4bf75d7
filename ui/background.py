"""Background operations: every slow call runs off the GUI thread (the Anki pattern).

    run_in_background(parent, lambda: session.search(q), on_success=show, on_error=report)

The callable runs in the global QThreadPool; its result or exception comes back to the GUI thread
through a queued signal, so widgets are only ever touched on the GUI thread. A cancelled or
destroyed parent simply drops the result.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal
from shiboken6 import isValid

from app.domain.errors import DomainError

log = logging.getLogger(__name__)


class _Relay(QObject):
    succeeded = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._fn = fn
        self._relay = relay
        self.setAutoDelete(True)

    def run(self) -> None:
        # The worker keeps nothing that the GUI thread might free later: the callable is
        # released here, and an exception travels without its traceback (whose frames would
        # hold this runnable's wrapper after Qt deleted the runnable: a crash).
        fn, self._fn = self._fn, None
        relay = self._relay
        try:
            result = fn()
        except BaseException as exc:
            if not isinstance(exc, DomainError):
                # Only the type and stack: exception texts may carry personal data.
                log.error(
                    "background operation failed: %s\n%s",
                    type(exc).__name__,
                    "".join(traceback.format_tb(exc.__traceback__)),
                )
            relay.failed.emit(exc.with_traceback(None))
        else:
            relay.succeeded.emit(result)
        finally:
            del fn
            # Posted after the result, so the GUI thread delivers the result first and deletes
            # the relay afterwards; never deleted while this thread may still be emitting.
            relay.deleteLater()


def run_in_background(
    parent: QObject,
    fn: Callable[[], Any],
    on_success: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
) -> None:
    # The relay lives in the GUI thread and is owned by the application object (C++ ownership):
    # neither a widget closed meanwhile nor Python's garbage collector can delete it while the
    # worker still emits on it; the worker deletes it (deleteLater) after its last emit.
    # Callbacks are skipped when `parent` is gone by the time the result arrives.
    relay = _Relay(QCoreApplication.instance())

    def deliver(callback: Callable[[Any], None] | None, value: Any) -> None:
        if callback is not None and isValid(parent):
            callback(value)

    def fail(exc: BaseException) -> None:
        if on_error is None:
            log.error("unhandled background error: %s", type(exc).__name__)
        deliver(on_error, exc)

    relay.succeeded.connect(lambda result: deliver(on_success, result))
    relay.failed.connect(fail)
    QThreadPool.globalInstance().start(_Task(fn, relay))


def user_message(exc: BaseException) -> str:
    """The Japanese text a clerk sees for an error."""
    if isinstance(exc, DomainError):
        return exc.message
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message:
        return message
    return (
        f"予期しないエラーが発生しました({type(exc).__name__})。システム管理者に連絡してください。"
    )
