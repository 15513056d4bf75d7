"""Row marks that survive selection: a 支援措置 row stays red when it is the selected row.

Native styles (Windows) paint the selection in their own colour over the item's background, so
the pale red of a protected row disappeared exactly when the clerk had that person selected.
The delegate paints a selected protected row itself: deep red, white text.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidgetItem,
)

PROTECTED_ROLE = Qt.ItemDataRole.UserRole + 7
PROTECTED_BACKGROUND = QColor("#ffe0e0")
PROTECTED_SELECTED = QColor("#b00020")
REMOVED_FOREGROUND = QColor("#777777")


def mark_item(item: QTableWidgetItem, *, protected: bool, removed: bool) -> None:
    if protected:
        item.setData(PROTECTED_ROLE, True)
        item.setBackground(PROTECTED_BACKGROUND)
    elif removed:
        item.setForeground(REMOVED_FOREGROUND)


class MarkedRowDelegate(QStyledItemDelegate):
    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[operator]
        if not (selected and index.data(PROTECTED_ROLE)):
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.state &= ~QStyle.StateFlag.State_Selected  # type: ignore[assignment,operator]
        opt.backgroundBrush = QBrush(PROTECTED_SELECTED)
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
            opt.palette.setColor(group, QPalette.ColorRole.Text, Qt.GlobalColor.white)
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
