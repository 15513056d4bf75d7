"""Windows that fit the clerk's screen (1366x768 at 100 %, 1920x1080 at 125/150 %), and close
with Esc.

- `fit_to_screen(window, preferred)`: the preferred size, shrunk to the available area of the
  screen the window (or its parent) is on, and placed inside it.
- `close_on_escape(window)`: Esc closes a top-level window that is not a QDialog (dialogs
  already reject on Esc).
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QScreen, QShortcut
from PySide6.QtWidgets import QWidget

# Room for the window frame and title bar, which the available area does not subtract.
FRAME_ALLOWANCE = QSize(16, 40)


def screen_of(widget: QWidget) -> QScreen:
    for w in (widget, widget.parentWidget()):
        if w is not None and w.screen() is not None:
            return w.screen()
    return QGuiApplication.primaryScreen()


def available_area(widget: QWidget) -> QRect:
    return screen_of(widget).availableGeometry()


def fit_to_screen(window: QWidget, preferred: QSize) -> None:
    """Resize to `preferred`, but never larger than the screen's available area less the frame;
    then move it inside that area (centred on its parent when it has one)."""
    area = available_area(window)
    limit = area.size() - FRAME_ALLOWANCE
    size = preferred.boundedTo(limit).expandedTo(window.minimumSizeHint().boundedTo(limit))
    window.resize(size)
    parent = window.parentWidget()
    centre = parent.window().frameGeometry().center() if parent is not None else area.center()
    top_left = centre - QPoint(size.width() // 2, size.height() // 2)
    x = min(max(top_left.x(), area.left()), area.right() - size.width() - FRAME_ALLOWANCE.width())
    y = min(max(top_left.y(), area.top()), area.bottom() - size.height() - FRAME_ALLOWANCE.height())
    window.move(max(x, area.left()), max(y, area.top()))


def close_on_escape(window: QWidget) -> QShortcut:
    shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), window)
    shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
    shortcut.activated.connect(window.close)
    return shortcut
