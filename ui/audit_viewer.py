"""監査ログの閲覧 (監査者): filter the terminal's chain by operator, date and action, and see
whether the chain is intact.

`query(operator_id, start, end, actions) -> list[ChainEntry]` and `verify() -> list[Problem]`
are the session's `audit_log` (permission checked, the viewing itself audited) and
`verify_audit_chain`; both run in the background. The viewer refuses to open without the
VIEW_AUDIT permission.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.auth.permissions import Permission, require_permission
from app.domain.audit_chain import ACTION_LABELS, AuditAction, ChainEntry, Problem
from app.domain.cards import DESK_NOTE_LABELS
from app.domain.notifications import PROCEDURE_LABELS, Procedure
from app.domain.wareki import format_western
from ui.background import run_in_background, user_message


class HasRoles(Protocol):
    """Whoever opens the viewer: the operator's session (its roles are checked)."""

    @property
    def roles(self) -> tuple[str, ...]: ...


COLUMNS = ("連番", "日時", "職員ID", "端末", "操作", "対象ID", "理由")
DATE_FORMAT = "yyyy年M月d日"  # as Japanese dates are written; never the C locale's 「7 12 2026」


def reason_label(reason: str | None) -> str:
    """An entry's reason for the auditor: the codes the program writes (card_read, move_in …)
    in Japanese; what a person typed stays as typed."""
    if not reason:
        return ""
    if reason in DESK_NOTE_LABELS:
        return DESK_NOTE_LABELS[reason]
    try:
        return PROCEDURE_LABELS[Procedure(reason)]
    except ValueError:
        return reason


def date_time_label(at: datetime) -> str:
    """2026年12月7日 09:30:00 (local time)."""
    local = at.astimezone()
    return f"{format_western(local.date())} {local:%H:%M:%S}"


Query = Callable[[str | None, datetime | None, datetime | None, Sequence[str] | None], list[Any]]


def _qdate(d: date) -> QDate:
    return QDate(d.year, d.month, d.day)


def _pydate(q: QDate) -> date:
    return date(q.year(), q.month(), q.day())


class AuditViewer(QWidget):
    def __init__(
        self,
        session: HasRoles,
        *,
        query: Query,
        verify: Callable[[], list[Problem]],
        today: date | None = None,
        runner: Callable[..., None] = run_in_background,
        parent: QWidget | None = None,
    ) -> None:
        require_permission(session.roles, Permission.VIEW_AUDIT)
        super().__init__(parent)
        self.setObjectName("auditViewer")
        self.setWindowTitle("監査ログ")
        self._query = query
        self._verify = verify
        self._run = runner
        today = today or date.today()

        self.operator = QLineEdit()
        self.operator.setObjectName("auditOperator")
        self.operator.setPlaceholderText("職員ID(空欄はすべて)")
        self.date_from = QDateEdit(_qdate(today))
        self.date_from.setObjectName("auditFrom")
        self.date_to = QDateEdit(_qdate(today))
        self.date_to.setObjectName("auditTo")
        for edit in (self.date_from, self.date_to):
            edit.setDisplayFormat(DATE_FORMAT)
            edit.setCalendarPopup(True)
        self.action = QComboBox()
        self.action.setObjectName("auditAction")
        self.action.addItem("すべての操作", None)
        for a in AuditAction:
            self.action.addItem(ACTION_LABELS[a], a.value)
        self.search_button = QPushButton("表示(&S)")
        self.search_button.setObjectName("auditSearch")
        self.verify_button = QPushButton("改ざんの検査(&V)")
        self.verify_button.setObjectName("auditVerify")

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("auditTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(
            len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch
        )
        self.status = QLabel("")
        self.status.setObjectName("auditStatus")
        self.status.setWordWrap(True)
        self.chain_status = QLabel("監査ログの連続性: 未検査")
        self.chain_status.setObjectName("auditChainStatus")
        self.chain_status.setWordWrap(True)
        self.chain_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        filters = QHBoxLayout()
        operator_label = QLabel("職員ID(&O)")
        operator_label.setBuddy(self.operator)
        period_label = QLabel("期間(&P)")
        period_label.setBuddy(self.date_from)
        filters.addWidget(operator_label)
        filters.addWidget(self.operator)
        filters.addWidget(period_label)
        filters.addWidget(self.date_from)
        filters.addWidget(QLabel("〜"))
        filters.addWidget(self.date_to)
        filters.addWidget(self.action)
        filters.addWidget(self.search_button)
        filters.addWidget(self.verify_button)
        box = QVBoxLayout(self)
        box.addLayout(filters)
        box.addWidget(self.table, 1)
        box.addWidget(self.status)
        box.addWidget(self.chain_status)

        self.search_button.clicked.connect(self.refresh)
        self.operator.returnPressed.connect(self.refresh)
        self.verify_button.clicked.connect(self.check_chain)
        self.entries: list[ChainEntry] = []

    def filters(self) -> tuple[str | None, datetime, datetime, list[str] | None]:
        """Local-time days from..to (inclusive) as aware datetimes; end exclusive."""
        start_d, end_d = _pydate(self.date_from.date()), _pydate(self.date_to.date())
        if end_d < start_d:
            start_d, end_d = end_d, start_d
        tz = datetime.now().astimezone().tzinfo
        start = datetime.combine(start_d, time.min, tz)
        end = datetime.combine(end_d + timedelta(days=1), time.min, tz)
        action = self.action.currentData()
        return (self.operator.text().strip() or None, start, end, [action] if action else None)

    def refresh(self) -> None:
        operator_id, start, end, actions = self.filters()
        self.search_button.setEnabled(False)
        self.status.setText("読み込み中…")
        query = self._query  # the worker holds the callable, not this widget
        self._run(self, lambda: query(operator_id, start, end, actions), self._show, self._error)

    def _show(self, entries: list[ChainEntry]) -> None:
        self.search_button.setEnabled(True)
        self.entries = list(entries)
        self.table.setRowCount(len(self.entries))
        for row, e in enumerate(self.entries):
            local = e.at_datetime.astimezone()
            label = ACTION_LABELS.get(AuditAction(e.action), e.action)
            cells = (
                str(e.seq),
                date_time_label(local),
                e.operator_id,
                e.terminal_no,
                label,
                ", ".join(e.target_ids),
                reason_label(e.reason),
            )
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.status.setText(f"{len(self.entries)} 件")

    def _error(self, exc: BaseException) -> None:
        self.search_button.setEnabled(True)
        self.verify_button.setEnabled(True)
        self.status.setText(user_message(exc))

    def check_chain(self) -> None:
        self.verify_button.setEnabled(False)
        self.chain_status.setText("監査ログの連続性: 検査中…")
        self._run(self, self._verify, self._chain_result, self._error)

    def _chain_result(self, problems: list[Problem]) -> None:
        self.verify_button.setEnabled(True)
        if not problems:
            self.chain_status.setStyleSheet("color: #1b5e20;")
            self.chain_status.setText("監査ログの連続性: 問題なし(改ざん・削除・入れ替えなし)")
            return
        self.chain_status.setStyleSheet("color: #b00020;")
        lines = [str(p) for p in problems[:20]]
        more = f"\nほか {len(problems) - 20} 件" if len(problems) > 20 else ""
        self.chain_status.setText(
            f"監査ログの連続性: 問題 {len(problems)} 件\n" + "\n".join(lines) + more
        )
