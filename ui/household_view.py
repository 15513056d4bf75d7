"""世帯の表示: the household's members with their main items.

個人番号 is not in the table: the session hands the household out masked (app.services), and
the field below the table shows the selected person's number only through
`reveal_my_number(person_id, reason)` (a reason, the permission, an audit entry), masked again
after a while and whenever the selection or the household changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain import wareki
from app.domain.records import Household
from ui.privacy import MaskedMyNumber

COLUMNS = ("氏名", "フリガナ", "生年月日", "性別", "続柄", "住民となった日", "状態")
SEX_LABELS = {"male": "男", "female": "女"}


class HouseholdView(QWidget):
    """Emits `issue_requested(household)` for 住民票の写しの交付."""

    issue_requested = Signal(object)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        reveal_my_number: Callable[[str, str], str | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.household: Household | None = None
        self.title = QLabel("世帯が選ばれていません", objectName="householdTitle")
        self.title.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.address = QLabel("", objectName="householdAddress")
        self.address.setWordWrap(True)
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
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

        # 個人番号 of the selected person: masked; revealed with a reason (REVEAL_MY_NUMBER).
        self.my_number_row = QWidget(objectName="myNumberRow")
        self.my_number: MaskedMyNumber | None = None
        if reveal_my_number is not None:
            reveal = reveal_my_number

            def reveal_selected(reason: str) -> str | None:
                person_id = self.selected_person_id()
                if person_id is None:
                    raise ValueError("no person selected")  # the button is disabled then
                return reveal(person_id, reason)

            self.my_number = MaskedMyNumber(reveal_selected, parent=self.my_number_row)
            number_row = QHBoxLayout(self.my_number_row)
            number_row.setContentsMargins(0, 0, 0, 0)
            number_row.addWidget(QLabel("個人番号(選択した人):"))
            number_row.addWidget(self.my_number, 1)
            self.table.itemSelectionChanged.connect(self._selection_changed)
            self._selection_changed()
        self.my_number_row.setVisible(reveal_my_number is not None)

        self.issue_button = QPushButton("住民票の写しを交付…", objectName="issueButton")
        self.issue_button.setEnabled(False)
        self.issue_button.clicked.connect(self._request_issue)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.issue_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.address)
        layout.addWidget(self.warning)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.my_number_row)
        layout.addLayout(buttons)

    def show_household(self, household: Household, today: date | None = None) -> None:
        today = today or date.today()
        self.household = household
        if self.my_number is not None:
            self.my_number.mask()
        self.title.setText(f"世帯主: {household.head.name}(世帯ID {household.household_id})")
        address = household.address + (f" {household.katagaki}" if household.katagaki else "")
        self.address.setText(f"〒{household.postal_code} {address}")
        self.table.setRowCount(len(household.members))
        protected = []
        for row, p in enumerate(household.members):
            state = "除票" if p.is_removed else "住民"
            if p.is_protected_on(today):
                state += " ⚠支援措置"
                protected.append(p)
            name = p.name + (f"(通称 {p.alias})" if p.alias else "")
            values = (
                name,
                p.name_kana,
                wareki.format_date(p.birth_date),
                SEX_LABELS.get(p.sex, p.sex),
                p.relationship,
                wareki.format_date(p.became_resident_on) if p.became_resident_on else "",
                state,
            )
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if p.is_protected_on(today):
                    item.setBackground(QColor("#ffe0e0"))
                elif p.is_removed:
                    item.setForeground(QColor("#777777"))
                self.table.setItem(row, col, item)
        if protected:
            self.warning.setText(
                "⚠ この世帯には支援措置(DV・ストーカー・児童虐待等)の対象者がいます。"
                "証明書の交付には監督者の承認が必要です。請求者と住所を画面に表示しないよう注意してください。"
            )
            self.warning.show()
        else:
            self.warning.hide()
        self.issue_button.setEnabled(True)

    def selected_person_id(self) -> str | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if self.household is None or len(rows) != 1:
            return None
        row = rows.pop()
        members = self.household.members
        return members[row].person_id if row < len(members) else None

    def _selection_changed(self) -> None:
        if self.my_number is None:
            return
        self.my_number.mask()
        self.my_number.button.setEnabled(self.selected_person_id() is not None)

    def clear(self) -> None:
        self.household = None
        self.title.setText("世帯が選ばれていません")
        self.address.clear()
        self.warning.hide()
        self.table.setRowCount(0)
        self.issue_button.setEnabled(False)

    def _request_issue(self) -> None:
        if self.household is not None:
            self.issue_requested.emit(self.household)
