"""送信保留: the events that wait for a supervisor — refused by the server (差し戻し) or set
aside after failing again and again (送信保留, issue 21) — and the supervisor's 「再送」.

The session does the work (app.services: `held_events()`, `requeue_event(event_id, reason)`,
both for supervisors, the requeue audited with its reason); this panel shows and asks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.services.session_api import CounterSessionApi
from ui.background import run_in_background, user_message

EVENT_LABELS = {
    "certificate_issued": "証明書の交付",
    "certificate_voided": "交付の取消",
    "card_event": "カードの事務処理",
    "audit_batch": "操作記録(監査ログ)",
    "reconciliation_ack": "更新通知の確認",
    "notification_filed": "異動届の届出",
}
STATE_LABELS = {"rejected": "差し戻し", "quarantined": "送信保留"}
COLUMNS = ("日時", "内容", "状態", "試行", "理由")


class HeldEventsPanel(QWidget):
    def __init__(
        self,
        session: CounterSessionApi,
        *,
        runner: Callable[..., None] = run_in_background,
        ask_reason: Callable[[QWidget, str], str | None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("heldEventsPanel")
        self.session = session
        self._run = runner
        self._ask_reason = ask_reason or _ask_reason
        self._ids: list[str] = []
        self.summary = QLabel("", objectName="heldSummary")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS), objectName="heldTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        refresh = QPushButton("更新", objectName="heldRefresh")
        refresh.clicked.connect(self.refresh)
        self.requeue_button = QPushButton("選んだデータを再送…", objectName="heldRequeue")
        self.requeue_button.clicked.connect(self.requeue_selected)
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        row.addWidget(refresh)
        row.addWidget(self.requeue_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)

    def refresh(self) -> None:
        self._run(self, self.session.held_events, self._show, self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.summary.setText(user_message(exc))

    def _show(self, held: list[Any]) -> None:
        self._ids = [h.event.event_id for h in held]
        self.table.setRowCount(len(held))
        for r, h in enumerate(held):
            values = (
                h.at.astimezone().strftime("%Y-%m-%d %H:%M"),
                EVENT_LABELS.get(h.event.type, h.event.type),
                STATE_LABELS.get(h.state, h.state),
                str(h.attempts),
                h.reason or "",
            )
            for c, v in enumerate(values):
                self.table.setItem(r, c, QTableWidgetItem(v))
        self.summary.setText(
            f"送信できずに残っているデータ: {len(held)}件。"
            "原因が解消したら、選んで再送してください。"
            if held
            else "送信できずに残っているデータはありません。"
        )

    def requeue_selected(self) -> None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if len(rows) != 1:
            self.summary.setText("再送するデータを1件選んでください。")
            return
        event_id = self._ids[rows.pop()]
        reason = self._ask_reason(self, "再送する理由(原因が解消したことなど)を入力してください。")
        if reason is None:
            return
        session = self.session
        self._run(
            self,
            lambda: session.requeue_event(event_id, reason),
            lambda _r: self.refresh(),
            self._failed,
        )


def _ask_reason(parent: QWidget, prompt: str) -> str | None:
    text, ok = QInputDialog.getText(parent, "送信保留データの再送", prompt)
    return text if ok else None
