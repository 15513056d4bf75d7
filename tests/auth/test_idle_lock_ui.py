"""The idle lock with pytest-qt and a fake clock: covers the window, swallows input, unlocks."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.auth.errors import InvalidCredentials, LockedOut
from app.auth.idle import IdlePolicy
from tests.auth.widget_support import sync_runner
from tests.support.poll import QT_WAIT_MS
from ui.idle_lock import IdleLock, LockOverlay


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Auth:
    """Stands in for AuthService: the password is 'right', five wrong ones end the session."""

    def __init__(self) -> None:
        self.failures = 0
        self.calls: list[tuple[str, ...]] = []

    def unlock(self, password: str) -> str:
        self.calls.append(("unlock",))
        if password != "right":
            self.failures += 1
            if self.failures >= 5:
                raise LockedOut()
            raise InvalidCredentials("パスワードが違います。")
        return "clerk1"

    def takeover(self, operator_id: str, password: str) -> str:
        self.calls.append(("takeover", operator_id))
        if password != "theirs":
            raise InvalidCredentials()
        return operator_id

    def lock(self) -> None:
        self.calls.append(("lock",))


@pytest.fixture
def setup(qtbot: Any) -> tuple[QMainWindow, IdleLock, Clock, Auth, QLineEdit]:
    window = QMainWindow()
    central = QWidget()
    layout = QVBoxLayout(central)
    secret = QLabel("山田 太郎 123456789018")  # what must not stay visible
    secret.setObjectName("secret")
    field = QLineEdit()
    field.setObjectName("searchField")
    layout.addWidget(secret)
    layout.addWidget(field)
    button = QPushButton("交付")
    button.setObjectName("issueButton")
    layout.addWidget(button)
    window.setCentralWidget(central)
    window.resize(800, 600)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    clock, auth = Clock(), Auth()
    lock = IdleLock(
        window,
        unlock=auth.unlock,
        takeover=auth.takeover,
        policy=IdlePolicy(5),
        clock=clock,
        on_lock=auth.lock,
        operator_label=lambda: "職員 clerk1",
        check_interval_ms=60_000,
        runner=sync_runner,
    ).install()
    yield window, lock, clock, auth, field
    lock.uninstall()


def test_locks_after_idle_time_and_covers_the_window(setup: Any, qtbot: Any) -> None:
    window, lock, clock, auth, _field = setup
    clock.now += 299
    lock.check()
    assert not lock.is_locked
    clock.now += 1
    with qtbot.waitSignal(lock.locked, timeout=QT_WAIT_MS):
        lock.check()
    assert lock.is_locked and lock.overlay.isVisible()
    assert lock.overlay.geometry() == window.rect()
    assert auth.calls == [("lock",)]
    assert lock.overlay.operator_label.text() == "職員 clerk1"
    # The cover is opaque: where the record's text was, the grab shows the cover's colour.
    secret = window.findChild(QLabel, "secret")
    image = window.grab().toImage()
    pos = secret.mapTo(window, secret.rect().center())
    assert image.pixelColor(pos).name() == "#1f2a36"
    assert image.pixelColor(secret.mapTo(window, secret.rect().topLeft())).name() == "#1f2a36"
    window.resize(1000, 700)
    qtbot.waitUntil(lambda: lock.overlay.geometry() == window.rect(), timeout=QT_WAIT_MS)


def test_input_postpones_the_lock(setup: Any, qtbot: Any) -> None:
    _window, lock, clock, _auth, field = setup
    clock.now += 240
    qtbot.keyClicks(field, "a")
    clock.now += 240  # 8 minutes since start, 4 since the last key
    lock.check()
    assert not lock.is_locked
    clock.now += 60
    lock.check()
    assert lock.is_locked


def test_input_is_swallowed_while_locked(setup: Any, qtbot: Any) -> None:
    _window, lock, _clock, _auth, field = setup
    lock.lock()
    qtbot.keyClicks(field, "secret search")
    assert field.text() == ""
    clicks: list[bool] = []
    button = _window.findChild(QPushButton, "issueButton")
    button.clicked.connect(lambda: clicks.append(True))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert clicks == []
    # Typing into the overlay's own password field works.
    qtbot.keyClicks(lock.overlay.password, "abc")
    assert lock.overlay.password.text() == "abc"


def test_wrong_then_right_password_unlocks(setup: Any, qtbot: Any) -> None:
    _window, lock, clock, _auth, field = setup
    lock.lock()
    qtbot.keyClicks(lock.overlay.password, "wrong")
    qtbot.mouseClick(lock.overlay.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "違います" in lock.overlay.message.text(), timeout=QT_WAIT_MS)
    assert lock.is_locked and lock.overlay.password.text() == ""  # never left in the field
    qtbot.keyClicks(lock.overlay.password, "right")
    got: list[object] = []
    lock.unlocked.connect(got.append)
    qtbot.mouseClick(lock.overlay.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: got == ["clerk1"], timeout=QT_WAIT_MS)
    assert not lock.is_locked and not lock.overlay.isVisible()
    qtbot.keyClicks(field, "ok")
    assert field.text() == "ok"
    # Idle time counts again from the unlock.
    clock.now += 299
    lock.check()
    assert not lock.is_locked


def test_takeover_by_another_operator(setup: Any, qtbot: Any) -> None:
    _window, lock, _clock, auth, _field = setup
    lock.lock()
    qtbot.keyClicks(lock.overlay.other_id, "issuer1")
    qtbot.keyClicks(lock.overlay.other_password, "theirs")
    got: list[object] = []
    lock.taken_over.connect(got.append)
    qtbot.mouseClick(lock.overlay.takeover_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: got == ["issuer1"], timeout=QT_WAIT_MS)
    assert not lock.is_locked
    assert ("takeover", "issuer1") in auth.calls


def test_five_failures_end_the_session(setup: Any, qtbot: Any) -> None:
    _window, lock, _clock, _auth, _field = setup
    lock.lock()
    ended: list[bool] = []
    lock.session_ended.connect(lambda: ended.append(True))
    for _ in range(5):
        qtbot.keyClicks(lock.overlay.password, "wrong")
        qtbot.mouseClick(lock.overlay.unlock_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: lock.overlay.unlock_button.isEnabled(), timeout=QT_WAIT_MS)
    assert ended == [True]
    assert lock.is_locked  # the window stays covered until the app shows the login


def test_empty_password_not_sent(setup: Any, qtbot: Any) -> None:
    _window, lock, _clock, auth, _field = setup
    lock.lock()
    qtbot.mouseClick(lock.overlay.unlock_button, Qt.MouseButton.LeftButton)
    assert "入力" in lock.overlay.message.text()
    assert ("unlock",) not in auth.calls


def test_open_dialogs_are_covered_too_and_unlock_from_there(setup: Any, qtbot: Any) -> None:
    window, lock, _clock, _auth, _field = setup
    dialog = QDialog(window)
    dialog.setObjectName("issuanceDialog")
    inner = QLineEdit(dialog)
    dialog.resize(500, 400)
    dialog.setModal(True)
    dialog.show()
    qtbot.waitExposed(dialog)
    lock.lock()
    cover = dialog.findChild(LockOverlay)
    assert cover is not None and cover.isVisible() and cover.geometry() == dialog.rect()
    qtbot.keyClicks(inner, "typed under the lock")
    assert inner.text() == ""
    # Under a modal dialog the main window takes no input: the dialog's cover unlocks.
    qtbot.keyClicks(cover.password, "right")
    qtbot.mouseClick(cover.unlock_button, Qt.MouseButton.LeftButton)
    assert not lock.is_locked and not lock.overlay.isVisible()
    qtbot.waitUntil(lambda: dialog.findChild(LockOverlay) is None, timeout=QT_WAIT_MS)
    qtbot.keyClicks(inner, "ok")
    assert inner.text() == "ok"
    dialog.close()


def test_action_shortcuts_do_not_fire_under_the_lock(setup: Any, qtbot: Any) -> None:
    window, lock, _clock, _auth, _field = setup
    fired: list[bool] = []
    action = QAction("印刷", window)
    action.setShortcut(QKeySequence("Ctrl+P"))
    action.triggered.connect(lambda: fired.append(True))
    window.addAction(action)
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert fired == [True]  # the shortcut works when unlocked
    lock.lock()
    qtbot.keyClick(lock.overlay.password, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert fired == [True]


def test_a_dialog_deleted_under_the_lock(setup: Any, qtbot: Any) -> None:
    window, lock, _clock, _auth, _field = setup
    dialog = QDialog(window)
    dialog.show()
    qtbot.waitExposed(dialog)
    lock.lock()
    dialog.deleteLater()
    qtbot.waitUntil(
        lambda: not any(isinstance(w, QDialog) for w in window.children()), timeout=QT_WAIT_MS
    )
    qtbot.keyClicks(lock.overlay.password, "right")
    qtbot.mouseClick(lock.overlay.unlock_button, Qt.MouseButton.LeftButton)
    assert not lock.is_locked
