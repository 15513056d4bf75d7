"""Idle lock: after the idle time the whole main window is covered until the password is given.

DESIGN.md §8 (screen saver, unlock needs ID/password again). An event filter on the
QApplication notes every input; a timer compares the last input with the policy. The overlay is
an opaque child covering the window (nothing of the register shows through) and swallows
input meant for anything else in the window. It is ended by the operator's own password or by
another operator, who takes the session over.

The clock is injectable (monotonic seconds) so tests drive idle time without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.auth.errors import LockedOut, SessionEnded
from app.auth.idle import IdlePolicy
from ui.background import run_in_background, user_message

INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.KeyRelease,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonRelease,
        QEvent.Type.MouseButtonDblClick,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TouchUpdate,
        QEvent.Type.TabletPress,
        QEvent.Type.Shortcut,
        QEvent.Type.ShortcutOverride,
    }
)

Runner = Callable[..., None]


class LockOverlay(QWidget):
    """The opaque cover with the unlock and takeover forms."""

    unlock_requested = Signal(str)
    takeover_requested = Signal(str, str)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("idleLockOverlay")
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, QColor("#1f2a36"))
        pal.setColor(QPalette.ColorRole.WindowText, QColor("#ffffff"))
        self.setPalette(pal)

        panel = QFrame(self)
        panel.setObjectName("idleLockPanel")
        panel.setAutoFillBackground(True)
        panel.setFrameShape(QFrame.Shape.StyledPanel)
        panel.setPalette(QApplication.palette())
        panel.setMaximumWidth(460)

        self.title = QLabel("画面をロックしました")
        self.title.setObjectName("idleLockTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.operator_label = QLabel("")
        self.operator_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.password = QLineEdit()
        self.password.setObjectName("idleLockPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("パスワード")
        self.unlock_button = QPushButton("ロック解除")
        self.unlock_button.setObjectName("idleLockUnlock")
        self.unlock_button.setDefault(True)

        self.other_id = QLineEdit()
        self.other_id.setObjectName("idleLockOtherId")
        self.other_id.setPlaceholderText("職員ID")
        self.other_password = QLineEdit()
        self.other_password.setObjectName("idleLockOtherPassword")
        self.other_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.other_password.setPlaceholderText("パスワード")
        self.takeover_button = QPushButton("別の職員が引き継ぐ")
        self.takeover_button.setObjectName("idleLockTakeover")

        self.message = QLabel("")
        self.message.setObjectName("idleLockMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b00020;")

        own = QHBoxLayout()
        own.addWidget(self.password, 1)
        own.addWidget(self.unlock_button)
        other = QFormLayout()
        other.addRow("職員ID", self.other_id)
        other.addRow("パスワード", self.other_password)

        box = QVBoxLayout(panel)
        box.addWidget(self.title)
        box.addWidget(self.operator_label)
        box.addLayout(own)
        box.addSpacing(12)
        box.addWidget(QLabel("別の職員が操作を引き継ぐ場合:"))
        box.addLayout(other)
        box.addWidget(self.takeover_button)
        box.addWidget(self.message)

        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(panel)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(1)

        self.unlock_button.clicked.connect(self._unlock)
        self.password.returnPressed.connect(self._unlock)
        self.takeover_button.clicked.connect(self._takeover)
        self.other_password.returnPressed.connect(self._takeover)

    def _unlock(self) -> None:
        password = self.password.text()
        self.password.clear()
        if not password:
            self.message.setText("パスワードを入力してください。")
            return
        self.unlock_requested.emit(password)

    def _takeover(self) -> None:
        operator_id = self.other_id.text().strip()
        password = self.other_password.text()
        self.other_password.clear()
        if not operator_id or not password:
            self.message.setText("引き継ぐ職員のIDとパスワードを入力してください。")
            return
        self.takeover_requested.emit(operator_id, password)

    def set_busy(self, busy: bool) -> None:
        for w in (self.unlock_button, self.takeover_button, self.password, self.other_password):
            w.setEnabled(not busy)

    def reset(self, operator_label: str) -> None:
        self.operator_label.setText(operator_label)
        self.message.clear()
        self.password.clear()
        self.other_id.clear()
        self.other_password.clear()
        self.set_busy(False)


class IdleLock(QObject):
    """Locks `window` after `policy.minutes` without input anywhere in the application.

    `unlock(password)` and `takeover(operator_id, password)` run in the background and raise a
    DomainError when refused (AuthService.unlock / AuthService.takeover fit); LockedOut or
    SessionEnded from them ends the session (`session_ended`). `on_lock()` runs when the lock
    falls, in the background (AuthService.lock records it in the audit chain).
    """

    locked = Signal()
    unlocked = Signal(object)
    taken_over = Signal(object)
    session_ended = Signal()

    def __init__(
        self,
        window: QWidget,
        *,
        unlock: Callable[[str], Any],
        takeover: Callable[[str, str], Any],
        policy: IdlePolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_lock: Callable[[], Any] | None = None,
        operator_label: Callable[[], str] = lambda: "",
        check_interval_ms: int = 1000,
        runner: Runner = run_in_background,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.policy = policy or IdlePolicy()
        self._clock = clock
        self._unlock = unlock
        self._takeover = takeover
        self._on_lock = on_lock
        self._operator_label = operator_label
        self._run = runner
        self.last_input = clock()
        self._locked = False
        self.overlay = LockOverlay(window)
        self.overlay.hide()
        self.overlay.unlock_requested.connect(self._request_unlock)
        self.overlay.takeover_requested.connect(self._request_takeover)
        # Covered windows → their overlay; the main window's is always there.
        self._covers: dict[QObject, LockOverlay] = {window: self.overlay}
        self.timer = QTimer(self)
        self.timer.setInterval(check_interval_ms)
        self.timer.timeout.connect(self.check)
        self._installed = False

    # --- wiring ----------------------------------------------------------------------------

    def install(self) -> IdleLock:
        app = QApplication.instance()
        if app is None:
            raise RuntimeError("QApplication is required")
        app.installEventFilter(self)
        self.window.installEventFilter(self)
        self.timer.start()
        self._installed = True
        return self

    def uninstall(self) -> None:
        if not self._installed:
            return
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.window.removeEventFilter(self)
        self.timer.stop()
        self._installed = False

    @property
    def is_locked(self) -> bool:
        return self._locked

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        etype = event.type()
        if etype == QEvent.Type.Resize and self._locked and watched in self._covers:
            self._covers[watched].setGeometry(watched.rect())
        if etype not in INPUT_EVENTS:
            return False
        if self._locked:
            if isinstance(watched, QWidget):
                # Input to anything but the lock forms is swallowed, in every window.
                return not self._in_overlay(watched)
            # A QAction's shortcut (print, export...) must not fire under the lock either.
            return etype in (QEvent.Type.Shortcut, QEvent.Type.ShortcutOverride)
        self.last_input = self._clock()
        return False

    def _in_overlay(self, widget: QWidget) -> bool:
        overlays = set(self._forms())
        w: QWidget | None = widget
        while w is not None:
            if w in overlays:
                return True
            w = w.parentWidget()
        return False

    # --- locking ---------------------------------------------------------------------------

    def check(self) -> None:
        """Timer tick (tests call it directly after moving the fake clock)."""
        if not self._locked and self.policy.is_idle(self.last_input, self._clock()):
            self.lock()

    def _cover(self, window: QWidget) -> LockOverlay:
        """The main window's overlay, or a new one over another open window (a dialog)."""
        overlay = self.overlay if window is self.window else LockOverlay(window)
        if overlay is not self.overlay:
            overlay.unlock_requested.connect(self._request_unlock)
            overlay.takeover_requested.connect(self._request_takeover)
            window.installEventFilter(self)
        overlay.reset(self._operator_label())
        overlay.setGeometry(window.rect())
        overlay.show()
        overlay.raise_()
        self._covers[window] = overlay
        return overlay

    def lock(self) -> None:
        if self._locked:
            return
        self._locked = True
        popup = QApplication.activePopupWidget()
        if popup is not None:
            popup.close()
        self._cover(self.window)
        # Every other open window (a dialog with a record in it) gets its own cover; under a
        # modal dialog the main window takes no input, so the dialog's cover has the forms too.
        for w in QApplication.topLevelWidgets():
            if (
                w is not self.window
                and w.isVisible()
                and w.windowType() in (Qt.WindowType.Window, Qt.WindowType.Dialog)
                and w not in self._covers
            ):
                self._cover(w)
        modal = QApplication.activeModalWidget()
        focus = self._covers.get(modal, self.overlay) if modal is not None else self.overlay
        focus.password.setFocus()
        if self._on_lock is not None:
            # The audit entry waits for the cache's lock: in the background. The screen is
            # covered already, whatever the recorder says.
            self._run(self, self._on_lock, None, self._lock_not_recorded)
        self.locked.emit()

    def _lock_not_recorded(self, exc: BaseException) -> None:
        self.overlay.message.setText(user_message(exc))

    def _forms(self) -> list[LockOverlay]:
        # A covered dialog may have been closed and deleted under the lock: forget it.
        self._covers = {
            w: o for w, o in self._covers.items() if shiboken6.isValid(w) and shiboken6.isValid(o)
        }
        return list(self._covers.values())

    def _release(self) -> None:
        self._locked = False
        self._forms()
        for window, overlay in list(self._covers.items()):
            if overlay is self.overlay:
                overlay.hide()
                continue
            try:
                window.removeEventFilter(self)
                overlay.hide()
                overlay.deleteLater()
            except RuntimeError:  # the dialog was closed and deleted under the lock
                pass
        self._covers = {self.window: self.overlay}
        self.last_input = self._clock()

    def _busy(self, busy: bool) -> None:
        for overlay in self._forms():
            overlay.set_busy(busy)

    def _request_unlock(self, password: str) -> None:
        self._busy(True)
        unlock = self._unlock  # the worker holds the callable, not this QObject
        self._run(self, lambda: unlock(password), self._unlocked, self._failed)

    def _request_takeover(self, operator_id: str, password: str) -> None:
        self._busy(True)
        takeover = self._takeover
        self._run(self, lambda: takeover(operator_id, password), self._taken, self._failed)

    def _unlocked(self, result: Any) -> None:
        self._release()
        self.unlocked.emit(result)

    def _taken(self, result: Any) -> None:
        self._release()
        self.taken_over.emit(result)

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        for overlay in self._forms():
            overlay.message.setText(user_message(exc))
        if isinstance(exc, LockedOut | SessionEnded):
            self.session_ended.emit()
