"""Privacy on screen: the capture-exclusion seam on every platform, the masked 個人番号."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3
from cryptography.hazmat.primitives.asymmetric import ec
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow, QWidget

from app.auth.reveal import MASK, reveal_my_number
from app.auth.session import Session
from app.store.audit import AUDIT_TABLE_DDL, AuditChain, signer_for
from app.sync.protocol import OperatorProfile
from tests.auth.widget_support import sync_runner
from tests.support.poll import QT_WAIT_MS
from ui import privacy
from ui.privacy import (
    WDA_EXCLUDEFROMCAPTURE,
    MaskedMyNumber,
    NoopBackend,
    WindowsBackend,
    capture_calls,
    clear_capture_calls,
    exclude_from_capture,
    set_backend,
)


class FakeUser32:
    def __init__(self, result: int = 1) -> None:
        self.calls: list[tuple[int, int]] = []
        self.result = result

    def SetWindowDisplayAffinity(self, hwnd: int, affinity: int) -> int:
        self.calls.append((hwnd, affinity))
        return self.result


@pytest.fixture
def backend() -> Iterator[None]:
    previous = privacy._backend
    clear_capture_calls()
    yield
    set_backend(previous)
    clear_capture_calls()


def test_windows_path_calls_set_window_display_affinity(qtbot: Any, backend: None) -> None:
    user32 = FakeUser32()
    set_backend(WindowsBackend(user32))
    window = QMainWindow()
    window.setObjectName("householdWindow")
    inner = QWidget()
    window.setCentralWidget(inner)
    qtbot.addWidget(window)
    assert exclude_from_capture(inner) is True  # any widget: its top-level window is used
    hwnd = int(window.winId())
    assert user32.calls == [(hwnd, WDA_EXCLUDEFROMCAPTURE)]
    assert capture_calls()[-1] == privacy.CaptureCall("householdWindow", hwnd, "windows", True)


def test_windows_failure_is_reported_not_hidden(qtbot: Any, backend: None) -> None:
    set_backend(WindowsBackend(FakeUser32(result=0)))  # e.g. Windows older than 10 2004
    w = QWidget()
    qtbot.addWidget(w)
    assert exclude_from_capture(w) is False
    assert capture_calls()[-1].applied is False


def test_default_backend_matches_the_platform(qtbot: Any, backend: None) -> None:
    import sys

    expected = WindowsBackend if sys.platform == "win32" else NoopBackend
    assert isinstance(privacy._backend, expected)
    w = QWidget()
    w.setObjectName("personWindow")
    qtbot.addWidget(w)
    applied = exclude_from_capture(w)
    call = capture_calls()[-1]
    assert call.window_name == "personWindow" and call.hwnd == int(w.winId())
    assert applied is (sys.platform == "win32")


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[AuditChain]:
    conn = sqlcipher3.connect(str(tmp_path / "cache.db"), check_same_thread=False)
    conn.execute(f"PRAGMA key = \"x'{os.urandom(32).hex()}'\"")
    conn.execute(AUDIT_TABLE_DDL)
    conn.commit()
    yield AuditChain(conn, "T0001", signer_for(ec.generate_private_key(ec.SECP256R1())))
    conn.close()


def _widget(qtbot: Any, chain: AuditChain, roles: tuple[str, ...]) -> MaskedMyNumber:
    session = Session(
        OperatorProfile(operator_id="op1", display_name="職員", roles=roles, branch="本庁"),
        "T0001",
        __import__("datetime").datetime.now().astimezone(),
        True,
    )
    w = MaskedMyNumber(
        lambda reason: reveal_my_number(
            session, "P1", reason, fetch=lambda _pid: "123456789018", record=chain.append
        ),
        hide_after_ms=200,
        runner=sync_runner,
    )
    qtbot.addWidget(w)
    w.show()  # QTest clicks on a hidden widget crash Qt offscreen at teardown
    qtbot.waitExposed(w)
    return w


def test_reveal_without_reason_is_refused(qtbot: Any, chain: AuditChain) -> None:
    w = _widget(qtbot, chain, ("issuer",))
    with qtbot.waitSignal(w.refused, timeout=QT_WAIT_MS):
        qtbot.mouseClick(w.button, Qt.MouseButton.LeftButton)
    assert w.value.text() == MASK and "理由" in w.message.text()
    qtbot.keyClicks(w.reason, "   ")
    qtbot.mouseClick(w.button, Qt.MouseButton.LeftButton)
    assert w.value.text() == MASK
    assert chain.entries() == []


def test_reveal_with_reason_is_audited_and_masks_again(qtbot: Any, chain: AuditChain) -> None:
    w = _widget(qtbot, chain, ("issuer",))
    w.reason.setText("本人確認のため")  # QTest types ASCII only
    clear_capture_calls()
    qtbot.mouseClick(w.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.is_revealed, timeout=QT_WAIT_MS)
    assert [c.hwnd for c in capture_calls()] == [int(w.window().winId())]
    assert w.value.text() == "1234 5678 9018" and w.reason.text() == ""
    e = chain.entries()[-1]
    assert (e.action, e.target_ids, e.reason) == ("reveal_my_number", ("P1",), "本人確認のため")
    qtbot.waitUntil(lambda: w.value.text() == MASK, timeout=QT_WAIT_MS)


def test_reveal_without_permission_is_refused(qtbot: Any, chain: AuditChain) -> None:
    w = _widget(qtbot, chain, ("clerk",))
    w.reason.setText("本人確認のため")  # QTest types ASCII only
    qtbot.mouseClick(w.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.button.isEnabled(), timeout=QT_WAIT_MS)
    assert w.value.text() == MASK and "権限" in w.message.text()
    assert chain.entries() == []
