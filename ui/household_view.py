"""世帯の表示: the household's members with their main items.

個人番号 is not in the table: the session hands the household out masked (app.services), and
the field below the table shows the selected person's number only through
`reveal_my_number(person_id, reason)` (a reason, the permission, an audit entry), masked again
after a while and whenever the selection or the household changes.

The session hands out a protected household (支援措置, and anyone registered at a protected
address) with its address withheld (app.domain.protected_address): the view cannot show what it
never got. The reveal row asks for a reason and calls the session's `reveal_protected_address`
in the background (permission, audit entry, then the address); the address is hidden again
after a while and whenever the household changes.

A member's detail (本籍・筆頭者, 前住所, 異動履歴) opens from the selected row: Enter, a double
click or 「個人の詳細」(Alt+P) emit `detail_requested(person_id)`.
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
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain import wareki
from app.domain.protected_address import full_address, is_withheld
from app.domain.records import Household
from ui.address_reveal import AddressReveal, RevealAddress
from ui.background import run_in_background
from ui.marks import MarkedRowDelegate, mark_item
from ui.privacy import MaskedMyNumber

COLUMNS = ("氏名", "フリガナ", "生年月日", "年齢", "性別", "続柄", "住民となった日", "状態")
SEX_LABELS = {"male": "男", "female": "女"}
HIDDEN_ADDRESS = "住所: 支援措置のため表示していません"
PROTECTED_WARNING = (
    "⚠ この世帯には支援措置(DV・ストーカー・児童虐待等)の対象者がいます。"
    "証明書の交付には監督者の承認が必要です。住所を画面に出さず、来庁者に伝えないでください。"
)
# Registered at the address of a protected person (another household): the address is
# protected too, without naming who is protected.
ADDRESS_WARNING = (
    "⚠ この住所は支援措置により保護されています。"
    "証明書の交付には監督者の承認が必要です。住所を画面に出さず、来庁者に伝えないでください。"
)

__all__ = ["HIDDEN_ADDRESS", "HouseholdView", "RevealAddress", "household_address"]


def household_address(household: Household) -> str:
    return full_address(household)


def protected_members(household: Household, today: date) -> list[str]:
    return [p.person_id for p in household.members if p.is_protected_on(today)]


class HouseholdView(QWidget):
    """Emits `issue_requested(household)` for 住民票の写しの交付 and `detail_requested(person_id)`
    for a member's detail."""

    issue_requested = Signal(object)
    detail_requested = Signal(str)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        reveal_address: RevealAddress | None = None,
        person_detail: bool = False,
        hide_after_ms: int = 30_000,
        runner: Callable[..., None] = run_in_background,
        reveal_my_number: Callable[[str, str], str | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.household: Household | None = None
        self._protected: list[str] = []
        self._withheld = False
        self._reveal = reveal_address
        self.title = QLabel("世帯が選ばれていません", objectName="householdTitle")
        self.title.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.address = QLabel("", objectName="householdAddress")
        self.address.setWordWrap(True)

        # The reveal row of a withheld address: reason, button, message.
        self.reveal = AddressReveal(
            reveal_address or (lambda _h, _r: ""), self, name="addressReveal", runner=runner
        )
        self.reveal_row = self.reveal
        self.reveal_reason = self.reveal.reason
        self.reveal_button = self.reveal.button
        self.reveal_message = self.reveal.message
        self.reveal.revealed.connect(self._revealed)
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
        self.my_number_row.setVisible(reveal_my_number is not None)

        self.issue_button = QPushButton("住民票の写しを交付…(&I)", objectName="issueButton")
        self.issue_button.setEnabled(False)
        self.issue_button.clicked.connect(self._request_issue)
        self.detail_button = QPushButton("個人の詳細…(&P)", objectName="personDetailButton")
        self.detail_button.setToolTip("選んだ人の本籍・筆頭者、前住所、異動履歴(記録されます)")
        self.detail_button.setEnabled(False)
        self.detail_button.setVisible(person_detail)
        self.detail_button.clicked.connect(self.request_detail)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self._selection_changed()
        if person_detail:
            self.table.activated.connect(lambda _i: self.request_detail())  # Enter on a row

        buttons = QHBoxLayout()
        buttons.addWidget(self.detail_button)
        buttons.addStretch(1)
        buttons.addWidget(self.issue_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.address)
        layout.addWidget(self.reveal_row)
        layout.addWidget(self.warning)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.my_number_row)
        layout.addLayout(buttons)

    @property
    def address_hidden(self) -> bool:
        return self._withheld and self.address.text() == HIDDEN_ADDRESS

    def show_household(self, household: Household, today: date | None = None) -> None:
        today = today or date.today()
        self.hide_timer.stop()
        self.household = household
        self._protected = protected_members(household, today)
        self._withheld = is_withheld(household.address)
        if self.my_number is not None:
            self.my_number.mask()
        self.title.setText(f"世帯主: {household.head.name}(世帯ID {household.household_id})")
        if self._withheld:
            self.address.setText(HIDDEN_ADDRESS)
            self.reveal.offer(household.household_id if self._reveal is not None else None)
        else:
            self.address.setText(household_address(household))
            self.reveal.offer(None)
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
        if self._protected or self._withheld:
            self.warning.setText(PROTECTED_WARNING if self._protected else ADDRESS_WARNING)
            self.warning.show()
        else:
            self.warning.hide()
        self.issue_button.setEnabled(True)
        self._selection_changed()

    def clear(self) -> None:
        self.hide_timer.stop()
        self.household = None
        self._protected = []
        self._withheld = False
        self.title.setText("世帯が選ばれていません")
        self.address.clear()
        self.reveal.offer(None)
        self.warning.hide()
        self.table.setRowCount(0)
        self.issue_button.setEnabled(False)
        self._selection_changed()

    def selected_person_id(self) -> str | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if self.household is None or len(rows) != 1:
            return None
        row = rows.pop()
        members = self.household.members
        return members[row].person_id if row < len(members) else None

    def _selection_changed(self) -> None:
        selected = self.selected_person_id() is not None
        self.detail_button.setEnabled(selected)
        if self.my_number is not None:
            self.my_number.mask()
            self.my_number.button.setEnabled(selected)

    def request_detail(self) -> None:
        person_id = self.selected_person_id()
        if person_id is not None and not self.detail_button.isHidden():
            self.detail_requested.emit(person_id)

    # --- 支援措置: the address only with a reason, audited ----------------------------------

    def request_reveal(self) -> None:
        self.reveal.request()

    def _revealed(self, household_id: str, address: str) -> None:
        if self.household is None or self.household.household_id != household_id:
            return
        self.address.setText(address)
        self.hide_timer.start()

    def hide_address(self) -> None:
        self.hide_timer.stop()
        if self._withheld:
            self.address.setText(HIDDEN_ADDRESS)

    def _request_issue(self) -> None:
        if self.household is not None:
            self.issue_requested.emit(self.household)
