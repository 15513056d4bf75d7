"""世帯の表示: the household's members with their main items; 個人番号 is never shown here.

A household with a person under 支援措置 hides its address (the protection covers everyone at
the address, DESIGN.md §6) until it is revealed with a reason: `reveal_address(household_id,
person_ids, reason)` runs in the background, checks the permission and writes the audit entry
before the address is shown; the address is hidden again after a while and whenever the
household changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
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

from app.domain import wareki
from app.domain.records import Household
from ui.background import run_in_background, user_message
from ui.marks import MarkedRowDelegate, mark_item

COLUMNS = ("氏名", "フリガナ", "生年月日", "年齢", "性別", "続柄", "住民となった日", "状態")
SEX_LABELS = {"male": "男", "female": "女"}
HIDDEN_ADDRESS = "住所: 支援措置の対象者がいるため表示していません"
PROTECTED_WARNING = (
    "⚠ この世帯には支援措置(DV・ストーカー・児童虐待等)の対象者がいます。"
    "証明書の交付には監督者の承認が必要です。住所を画面に出さず、来庁者に伝えないでください。"
)

RevealAddress = Callable[[str, list[str], str], object]


def household_address(household: Household) -> str:
    address = household.address + (f" {household.katagaki}" if household.katagaki else "")
    return f"〒{household.postal_code} {address}"


def protected_members(household: Household, today: date) -> list[str]:
    return [p.person_id for p in household.members if p.is_protected_on(today)]


class HouseholdView(QWidget):
    """Emits `issue_requested(household)` for 住民票の写しの交付."""

    issue_requested = Signal(object)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        reveal_address: RevealAddress | None = None,
        hide_after_ms: int = 30_000,
        runner: Callable[..., None] = run_in_background,
    ) -> None:
        super().__init__(parent)
        self.household: Household | None = None
        self._protected: list[str] = []
        self._reveal = reveal_address
        self._run = runner
        self.title = QLabel("世帯が選ばれていません", objectName="householdTitle")
        self.title.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.address = QLabel("", objectName="householdAddress")
        self.address.setWordWrap(True)

        # The reveal row of a protected household: reason, button, message.
        self.reveal_row = QWidget(objectName="addressRevealRow")
        self.reveal_reason = QLineEdit(objectName="addressRevealReason")
        self.reveal_reason.setPlaceholderText("住所を表示する理由(必須・記録されます)")
        self.reveal_button = QPushButton("住所を表示(&V)", objectName="addressRevealButton")
        self.reveal_button.clicked.connect(self.request_reveal)
        self.reveal_reason.returnPressed.connect(self.request_reveal)
        self.reveal_message = QLabel("", objectName="addressRevealMessage")
        self.reveal_message.setStyleSheet("color: #b00020;")
        row = QHBoxLayout(self.reveal_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.reveal_reason, 1)
        row.addWidget(self.reveal_button)
        row.addWidget(self.reveal_message)
        self.reveal_row.hide()
        self.hide_timer = QTimer(self)
        self.hide_timer.setSingleShot(True)
        self.hide_timer.setInterval(hide_after_ms)
        self.hide_timer.timeout.connect(self.hide_address)

        self.warning = QLabel("", objectName="householdWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(
            "background: #fff0f0; color: #a00000; padding: 6px; border: 1px solid #e0a0a0;"
        )
        self.warning.hide()

        self.table = QTableWidget(0, len(COLUMNS), objectName="householdMembers")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setItemDelegate(MarkedRowDelegate(self.table))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

        self.issue_button = QPushButton("住民票の写しを交付…(&I)", objectName="issueButton")
        self.issue_button.setEnabled(False)
        self.issue_button.clicked.connect(self._request_issue)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.issue_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.address)
        layout.addWidget(self.reveal_row)
        layout.addWidget(self.warning)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    @property
    def address_hidden(self) -> bool:
        return bool(self._protected) and self.address.text() == HIDDEN_ADDRESS

    def show_household(self, household: Household, today: date | None = None) -> None:
        today = today or date.today()
        self.hide_timer.stop()
        self.household = household
        self._protected = protected_members(household, today)
        self.title.setText(f"世帯主: {household.head.name}(世帯ID {household.household_id})")
        self.reveal_message.clear()
        self.reveal_reason.clear()
        if self._protected:
            self.address.setText(HIDDEN_ADDRESS)
            self.reveal_row.setVisible(self._reveal is not None)
        else:
            self.address.setText(household_address(household))
            self.reveal_row.hide()
        self.table.setRowCount(len(household.members))
        for row, p in enumerate(household.members):
            protected = p.is_protected_on(today)
            state = "除票" if p.is_removed else "住民"
            if protected:
                state += " ⚠支援措置"
            name = p.name + (f"(通称 {p.alias})" if p.alias else "")
            values = (
                name,
                p.name_kana,
                wareki.format_date(p.birth_date),
                f"{wareki.age_on(p.birth_date, today)}歳",
                SEX_LABELS.get(p.sex, p.sex),
                p.relationship,
                wareki.format_date(p.became_resident_on) if p.became_resident_on else "",
                state,
            )
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                mark_item(item, protected=protected, removed=p.is_removed)
                self.table.setItem(row, col, item)
        if self._protected:
            self.warning.setText(PROTECTED_WARNING)
            self.warning.show()
        else:
            self.warning.hide()
        self.issue_button.setEnabled(True)

    def clear(self) -> None:
        self.hide_timer.stop()
        self.household = None
        self._protected = []
        self.title.setText("世帯が選ばれていません")
        self.address.clear()
        self.reveal_row.hide()
        self.reveal_reason.clear()
        self.warning.hide()
        self.table.setRowCount(0)
        self.issue_button.setEnabled(False)

    # --- 支援措置: the address only with a reason, audited --------------------------------------

    def request_reveal(self) -> None:
        household, reveal = self.household, self._reveal
        if household is None or reveal is None or not self._protected:
            return
        reason = self.reveal_reason.text().strip()
        if not reason:
            self.reveal_message.setText("理由を入力してください。")
            return
        self.reveal_message.clear()
        self.reveal_button.setEnabled(False)
        person_ids = list(self._protected)
        household_id = household.household_id

        def shown(_result: object) -> None:
            self.reveal_button.setEnabled(True)
            if self.household is None or self.household.household_id != household_id:
                return  # another household meanwhile: its address stays hidden
            self.reveal_reason.clear()
            self.address.setText(household_address(self.household))
            self.hide_timer.start()

        def refused(exc: BaseException) -> None:
            self.reveal_button.setEnabled(True)
            self.reveal_message.setText(user_message(exc))

        self._run(self, lambda: reveal(household_id, person_ids, reason), shown, refused)

    def hide_address(self) -> None:
        self.hide_timer.stop()
        if self._protected:
            self.address.setText(HIDDEN_ADDRESS)

    def _request_issue(self) -> None:
        if self.household is not None:
            self.issue_requested.emit(self.household)
