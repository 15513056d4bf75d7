"""The function-key bar: the keys a clerk knows from other counter terminals, shown on screen.

One meaning per key in every window (docs/manual-ja.md lists them):

    F1 検索  F2 クリア  F3 交付  F4 印刷  F5 見本  F6 カード読取(暗証番号)
    F7 カード読取(照合番号B)  F8 世帯を開く  F9 同期  F12 戻る/閉じる

A key works only while its button is enabled and visible, and only in its own window (the
shortcut's context), so F3 in the main window never reaches an open dialog. The idle lock
swallows shortcut events, so no key fires under the lock.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSizePolicy, QWidget

KEY_LABELS: dict[int, str] = {
    1: "検索",
    2: "クリア",
    3: "交付",
    4: "印刷",
    5: "見本",
    6: "カード読取(暗証番号)",
    7: "カード読取(照合番号B)",
    8: "世帯を開く",
    9: "同期",
    12: "戻る",
}


class FKeyBar(QWidget):
    """A row of flat buttons 「F1 検索」…; `add(n, slot)` binds F<n> in `window`."""

    def __init__(self, window: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fkeyBar")
        self._window = window
        self.buttons: dict[int, QPushButton] = {}
        self.shortcuts: dict[int, QShortcut] = {}
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(4, 2, 4, 2)
        self._row.setSpacing(4)
        self._row.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def add(self, n: int, slot: Callable[[], object], label: str | None = None) -> QPushButton:
        text = label or KEY_LABELS[n]
        button = QPushButton(f"F{n} {text}", objectName=f"fkey{n}")
        # Not in the Tab order: the keys are for the keyboard, the buttons for the mouse.
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(lambda _=False: slot())
        self._row.insertWidget(self._row.count() - 1, button)
        shortcut = QShortcut(QKeySequence(f"F{n}"), self._window)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(lambda: self.press(n))
        self.buttons[n] = button
        self.shortcuts[n] = shortcut
        return button

    def press(self, n: int) -> bool:
        """What the key does: click its button if it may be used now."""
        button = self.buttons.get(n)
        if button is None or not button.isEnabled() or button.isHidden():
            return False
        button.click()
        return True

    def set_enabled(self, n: int, enabled: bool) -> None:
        if n in self.buttons:
            self.buttons[n].setEnabled(enabled)

    def set_visible(self, n: int, visible: bool) -> None:
        if n in self.buttons:
            self.buttons[n].setVisible(visible)

    def clear(self) -> None:
        for n in list(self.buttons):
            self.buttons.pop(n).deleteLater()
            shortcut = self.shortcuts.pop(n)
            shortcut.setEnabled(False)
            shortcut.deleteLater()


def bind_fkey(button: QPushButton, n: int, window: QWidget | None = None) -> QShortcut:
    """F<n> clicks `button` while it is enabled and visible. The window shows its keys in a line
    of its own (the button's text may change, e.g. 「郵送で交付する」); the tooltip names it too."""
    button.setToolTip(f"F{n}")
    shortcut = QShortcut(QKeySequence(f"F{n}"), window or button.window())
    shortcut.setContext(Qt.ShortcutContext.WindowShortcut)

    def press() -> None:
        if button.isEnabled() and button.isVisible():
            button.click()

    shortcut.activated.connect(press)
    return shortcut
