"""Background operations deliver results on the GUI thread, survive a closed widget, and never
delete their relay while a worker still emits on it."""

from __future__ import annotations

import threading

from PySide6.QtCore import QCoreApplication, QThreadPool, Signal
from PySide6.QtWidgets import QWidget
from shiboken6 import delete

from app.domain.errors import DomainError
from tests.support.poll import QT_WAIT_MS
from ui.background import run_in_background, user_message


class _Widget(QWidget):
    done = Signal()


def test_result_arrives_on_the_gui_thread(qtbot) -> None:
    w = _Widget()
    qtbot.addWidget(w)
    seen: list[tuple[int, bool]] = []
    gui = threading.get_ident()
    run_in_background(w, lambda: 6 * 7, lambda r: seen.append((r, threading.get_ident() == gui)))
    qtbot.waitUntil(lambda: bool(seen), timeout=QT_WAIT_MS)
    assert seen == [(42, True)]


def test_error_reaches_the_handler_with_its_japanese_message(qtbot) -> None:
    w = _Widget()
    qtbot.addWidget(w)
    errors: list[str] = []

    def fail() -> None:
        raise DomainError("検索条件を1つ以上入力してください。")

    run_in_background(w, fail, on_error=lambda e: errors.append(user_message(e)))
    qtbot.waitUntil(lambda: bool(errors), timeout=QT_WAIT_MS)
    assert errors == ["検索条件を1つ以上入力してください。"]


def test_many_quick_results_in_a_row(qtbot) -> None:
    # A result handler that emits at once used to race the relay's deletion (segfault).
    for _ in range(200):
        w = _Widget()
        qtbot.addWidget(w)
        with qtbot.waitSignal(w.done, timeout=QT_WAIT_MS):
            run_in_background(w, lambda: 1, lambda _r, w=w: w.done.emit())


def test_widget_deleted_before_the_result(qtbot) -> None:
    got: list[int] = []
    ran: list[int] = []

    def work() -> int:
        ran.append(1)
        return sum(range(200_000))

    for _ in range(20):
        w = _Widget()
        run_in_background(w, work, got.append)
        delete(w)  # the C++ widget is gone now, before any result can arrive
    # Every worker has finished and every queued result has been delivered (or dropped).
    assert QThreadPool.globalInstance().waitForDone(30_000)
    QCoreApplication.sendPostedEvents()
    QCoreApplication.processEvents()
    assert len(ran) == 20  # the work did run: nothing arrived because the widgets were gone
    assert got == []
