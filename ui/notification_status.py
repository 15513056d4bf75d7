"""The clerk's view of 住民異動届 after filing: this terminal's list (delivery, the head office's
state, the reason) and the head office's answers shown after a sync."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.notifications import PROCEDURE_LABELS, Procedure

STATE_LABELS = {
    "pending": "審査待ち",
    "conflict": "競合のため審査中",
    "confirmed": "確定",
    "returned": "差戻し",
}
DELIVERY_LABELS = {"unsent": "未送信", "sent": "送信済み", "rejected": "受付拒否"}


class FiledListDialog(QDialog):
    """この端末の届出: state at the head office, or why the server refused it."""

    def __init__(self, items: list[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("この端末の届出")
        table = QTableWidget(len(items), 5, self, objectName="filedTable")
        table.setHorizontalHeaderLabels(["届出日時", "手続", "送信", "審査", "理由"])
        table.verticalHeader().setVisible(False)
        for r, n in enumerate(items):
            values = (
                n.filed_at.astimezone().strftime("%Y-%m-%d %H:%M"),
                PROCEDURE_LABELS[Procedure(n.procedure)],
                DELIVERY_LABELS.get(n.delivery, n.delivery),
                STATE_LABELS.get(n.state, n.state),
                n.reason or "",
            )
            for c, v in enumerate(values):
                table.setItem(r, c, QTableWidgetItem(v))
        table.resizeColumnsToContents()
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)
        self.resize(820, 400)


def decision_text(decisions: list[Any]) -> str:
    """The head office's answers for the clerk (ids, states, reasons; never names)."""
    lines = []
    for n in decisions:
        label = PROCEDURE_LABELS[Procedure(n.procedure)]
        state = STATE_LABELS.get(n.state, n.state)
        reason = f"　理由: {n.reason}" if n.reason else ""
        lines.append(f"{label}（届出ID {n.notification_id}）: {state}{reason}")
    return "\n".join(lines)


def show_decisions(parent: QWidget, decisions: list[Any]) -> None:
    if decisions:
        QMessageBox.information(parent, "住民異動届の審査結果", decision_text(decisions))
