"""Privacy on screen (DESIGN.md §8: displays not visible to visitors, screen copies limited).

- `install_capture_guard(app)`: every top-level window of the application is excluded from
  capture as it is shown (cli/gui.py installs it at start), so no window with personal data
  depends on remembering a call.
- `exclude_from_capture(widget)`: on Windows the widget's top-level window is excluded from
  screen capture (SetWindowDisplayAffinity(hwnd, WDA_EXCLUDEFROMCAPTURE), Windows 10 2004+;
  screenshots and screen sharing show black). Elsewhere it is a no-op. Both go through one
  seam, `CaptureBackend`, and every call is recorded, so tests check on every platform that
  each window with personal data asked for it (and exercise the Windows path with a fake
  user32).
- `MaskedMyNumber`: the 個人番号 shows as ●●●● until revealed with a reason; the reveal call
  (app.auth.reveal.reveal_my_number) checks the permission and writes the audit entry; the
  widget refuses to call it without a reason, and masks the number again after a while.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from app.auth.reveal import MASK, format_my_number
from ui.background import run_in_background, user_message

WDA_NONE = 0x00
WDA_EXCLUDEFROMCAPTURE = 0x11


class CaptureBackend(Protocol):
    name: str

    def exclude(self, hwnd: int) -> bool: ...


class NoopBackend:
    """Platforms without a capture-exclusion API: nothing to do, and it says so."""

    name = "noop"

    def exclude(self, hwnd: int) -> bool:
        return False


class WindowsBackend:
    """user32.SetWindowDisplayAffinity through ctypes; `user32` injectable for tests."""

    name = "windows"

    def __init__(self, user32: Any | None = None) -> None:
        self._user32 = user32

    def _api(self) -> Any:
        if self._user32 is None:
            self._user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined]
            fn = self._user32.SetWindowDisplayAffinity
            fn.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
            fn.restype = ctypes.c_int
        return self._user32

    def exclude(self, hwnd: int) -> bool:
        return bool(self._api().SetWindowDisplayAffinity(hwnd, WDA_EXCLUDEFROMCAPTURE))


@dataclass(frozen=True)
class CaptureCall:
    window_name: str
    hwnd: int
    backend: str
    applied: bool


_backend: CaptureBackend = WindowsBackend() if sys.platform == "win32" else NoopBackend()
_calls: list[CaptureCall] = []


def set_backend(backend: CaptureBackend) -> CaptureBackend:
    """Swap the backend (tests); returns the previous one."""
    global _backend
    previous, _backend = _backend, backend
    return previous


def capture_calls() -> list[CaptureCall]:
    return list(_calls)


def clear_capture_calls() -> None:
    _calls.clear()


class _Reapply(QObject):
    """A native window can be recreated (re-parenting, screen change): apply again then."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.WinIdChange and isinstance(watched, QWidget):
            _apply(watched)
        return False


def _apply(window: QWidget) -> bool:
    hwnd = int(window.winId())
    try:
        applied = _backend.exclude(hwnd)
    except OSError:
        applied = False
    _calls.append(CaptureCall(window.objectName(), hwnd, _backend.name, applied))
    return applied


def exclude_from_capture(widget: QWidget) -> bool:
    """Exclude the widget's window from screen capture; True when the OS applied it."""
    window = widget.window()
    window.winId()  # create the native window first: its creation is not a "change"
    if window.property("madoguchiCaptureExcluded") is None:
        window.setProperty("madoguchiCaptureExcluded", True)
        watcher = _Reapply(window)
        window.installEventFilter(watcher)
    return _apply(window)


_SHOW = QEvent.Type.Show


class _CaptureGuard(QObject):
    """On the QApplication: every top-level window is excluded from capture as it is shown.

    Qt sends the Show event before the window is mapped, so the exclusion is in place before
    the window's first pixel reaches the screen. Any window: dialogs, message boxes, the PDF
    preview, tooltips with a name in them; one mechanism for all, so a new window cannot be
    forgotten. Kept to one comparison per event: it sees every event of the application.
    """

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == _SHOW
            and isinstance(watched, QWidget)
            and watched.isWindow()
            and watched.property("madoguchiCaptureExcluded") is None
        ):
            exclude_from_capture(watched)
        return False


_guard: _CaptureGuard | None = None


def install_capture_guard(app: QObject) -> None:
    """Exclude every window of `app` from screen capture from now on (idempotent)."""
    global _guard
    if _guard is None:
        _guard = _CaptureGuard(app)
        app.installEventFilter(_guard)


def remove_capture_guard(app: QObject) -> None:
    """Tests: take the guard off again."""
    global _guard
    if _guard is not None:
        app.removeEventFilter(_guard)
        _guard.deleteLater()
        _guard = None


class MaskedMyNumber(QWidget):
    """The 個人番号 field: masked, revealed with a reason through `reveal(reason)`.

    `reveal(reason) -> str | None` runs in the background; it raises (ReasonRequired,
    PermissionDenied) when refused, and has written the audit entry when it returns.
    """

    revealed = Signal()
    refused = Signal(str)

    def __init__(
        self,
        reveal: Callable[[str], str | None],
        *,
        hide_after_ms: int = 30_000,
        runner: Callable[..., None] = run_in_background,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("maskedMyNumber")
        self._reveal = reveal
        self._run = runner
        self.value = QLabel(MASK)
        self.value.setObjectName("myNumberValue")
        self.reason = QLineEdit()
        self.reason.setObjectName("myNumberReason")
        self.reason.setPlaceholderText("表示する理由(必須)")
        self.button = QPushButton("表示")
        self.button.setObjectName("myNumberReveal")
        self.message = QLabel("")
        self.message.setObjectName("myNumberMessage")
        self.message.setStyleSheet("color: #b00020;")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.value)
        row.addWidget(self.reason, 1)
        row.addWidget(self.button)
        row.addWidget(self.message)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(hide_after_ms)
        self.timer.timeout.connect(self.mask)
        self.button.clicked.connect(self.request_reveal)
        self.reason.returnPressed.connect(self.request_reveal)

    @property
    def is_revealed(self) -> bool:
        return self.value.text() != MASK

    def request_reveal(self) -> None:
        reason = self.reason.text().strip()
        if not reason:
            text = "個人番号を表示するには理由を入力してください。"
            self.message.setText(text)
            self.refused.emit(text)
            return
        self.message.clear()
        self.button.setEnabled(False)
        reveal = self._reveal  # the worker holds the callable, not this widget
        self._run(self, lambda: reveal(reason), self._show, self._refuse)

    def _show(self, number: str | None) -> None:
        # Whatever window holds the field, it is kept out of screen captures from now on.
        exclude_from_capture(self)
        self.button.setEnabled(True)
        self.reason.clear()
        self.value.setText(format_my_number(number) if number else "(個人番号なし)")
        self.timer.start()
        self.revealed.emit()

    def _refuse(self, exc: BaseException) -> None:
        self.button.setEnabled(True)
        text = user_message(exc)
        self.message.setText(text)
        self.refused.emit(text)

    def mask(self) -> None:
        self.timer.stop()
        self.value.setText(MASK)
