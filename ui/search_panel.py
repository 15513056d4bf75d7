"""住民検索: 4情報 in any combination, or 住民票コード; results with 除票 and 支援措置 marked.

A new search and 条件をクリア both emit `cleared` first: the window drops the household of the
previous customer before anything else happens.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
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
from app.domain.identifiers import fold_digits, is_valid_juminhyo_code
from app.domain.protected_address import ADDRESS_WITHHELD
from app.services.session_api import CounterSessionApi
from ui.background import run_in_background, user_message
from ui.marks import MarkedRowDelegate, mark_item

SEX_LABELS = {"male": "男", "female": "女"}
COLUMNS = ("氏名", "フリガナ", "生年月日", "年齢", "性別", "住所", "続柄", "状態")
ADDRESS_COLUMN = COLUMNS.index("住所")
# The session withholds the address of a protected person and of anyone at a protected
# address (app.domain.protected_address): the row shows the same words.
PROTECTED_ADDRESS = ADDRESS_WITHHELD
CODE_MESSAGE = (
    "住民票コードは11桁の数字です(最後の1桁は検査数字)。"
    "入力した番号が正しくありません。住民票コード通知票などで確かめてください。"
)


def local_address(address: str, municipality: str) -> str:
    """The address after the terminal's own 市区町村 ("北海道北見市北4条東8丁目…" becomes
    "北4条東8丁目…"): what tells residents apart comes first. The tooltip has it whole."""
    at = address.find(municipality) if municipality else -1
    return address[at + len(municipality) :] if at >= 0 else address


class SearchPanel(QWidget):
    """Emits `household_chosen(household_id, person_id)` when a result is opened, and `cleared`
    when the conditions are cleared or a new search starts."""

    household_chosen = Signal(str, str)
    cleared = Signal()

    def __init__(self, session: CounterSessionApi, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.municipality = str(session.config.municipality_name)
        self.hits: list[Any] = []

        self.name = QLineEdit(objectName="searchName")
        self.name.setPlaceholderText("漢字・かな、先頭だけでも可(例: さとう、髙橋)")
        self.birth = QLineEdit(objectName="searchBirth")
        self.birth.setPlaceholderText("例: 昭和45年3月12日、S45.3.12、S45、昭和")
        self.sex = QComboBox(objectName="searchSex")
        self.sex.addItem("指定なし", None)
        self.sex.addItem("男", "male")
        self.sex.addItem("女", "female")
        self.address = QLineEdit(objectName="searchAddress")
        self.address.setPlaceholderText("住所または方書の先頭(例: 北見市北4条、北4条東8丁目)")
        self.code = QLineEdit(objectName="searchCode")
        self.code.setPlaceholderText("11桁の数字")
        self.code.setMaxLength(16)  # room for spaces and dashes a clerk may type; folded below
        self.code.textEdited.connect(self._fold_code)
        self.include_removed = QCheckBox("除票も含める(&R)", objectName="searchRemoved")
        self.include_removed.setChecked(True)

        form = QFormLayout()
        form.addRow("氏名(&N)", self.name)
        form.addRow("生年月日(&B)", self.birth)
        form.addRow("性別(&X)", self.sex)
        form.addRow("住所(&A)", self.address)
        form.addRow("住民票コード(&J)", self.code)
        form.addRow("", self.include_removed)

        self.search_button = QPushButton("検索(&S)", objectName="searchButton")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.run_search)
        self.clear_button = QPushButton("条件をクリア(&C)", objectName="clearButton")
        self.clear_button.clicked.connect(self.clear)
        for edit in (self.name, self.birth, self.address, self.code):
            edit.returnPressed.connect(self.run_search)

        buttons = QHBoxLayout()
        buttons.addWidget(self.search_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)

        self.message = QLabel("", objectName="searchMessage")
        self.message.setWordWrap(True)

        self.table = QTableWidget(0, len(COLUMNS), objectName="searchResults")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setItemDelegate(MarkedRowDelegate(self.table))
        # One line per person. An address loses its end, never its beginning: the 町名 is what
        # tells two addresses apart (the whole address is in the tooltip and the household).
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(ADDRESS_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(28)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_row(row))
        self.table.itemActivated.connect(lambda item: self.open_row(item.row()))

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)

    def _fold_code(self, text: str) -> None:
        """Full-width digits become ASCII as they are typed (the cache stores ASCII)."""
        folded = fold_digits(text)
        if folded != text:
            self.code.setText(folded)

    def _clear_results(self) -> None:
        self.table.setRowCount(0)
        self.hits = []
        self.cleared.emit()

    def clear(self) -> None:
        for edit in (self.name, self.birth, self.address, self.code):
            edit.clear()
        self.sex.setCurrentIndex(0)
        self._clear_results()
        self.message.clear()
        self.name.setFocus()

    def run_search(self) -> None:
        # The previous customer's results and household go before anything else.
        self._clear_results()
        code = fold_digits(self.code.text())
        if code and not is_valid_juminhyo_code(code):
            self.message.setText(CODE_MESSAGE)
            self.code.setFocus()
            self.code.selectAll()
            return
        criteria = {
            "name": self.name.text(),
            "birth": self.birth.text(),
            "sex": self.sex.currentData(),
            "address": self.address.text(),
            "juminhyo_code": code,
            "include_removed": self.include_removed.isChecked(),
        }
        self.search_button.setEnabled(False)
        self.message.setText("検索しています…")
        session = self.session  # the worker holds the session, not this widget
        run_in_background(self, lambda: session.search(**criteria), self._show, self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.search_button.setEnabled(True)
        self.message.setText(user_message(exc))

    def _show(self, page: Any) -> None:
        self.search_button.setEnabled(True)
        self.hits = list(page.hits)
        self.table.setRowCount(len(self.hits))
        today = self.session.today()
        protected_rows = 0
        for row, hit in enumerate(self.hits):
            status = "除票" if hit.status == "removed" else "住民"
            if hit.protected:
                status += " ⚠支援措置"
                protected_rows += 1
            withheld = hit.protected or hit.address_withheld
            address = hit.address + (f" {hit.katagaki}" if hit.katagaki else "")
            shown = PROTECTED_ADDRESS if withheld else local_address(address, self.municipality)
            values = (
                hit.name,
                hit.name_kana,
                wareki.format_date(hit.birth_date),
                f"{wareki.age_on(hit.birth_date, today)}歳",
                SEX_LABELS.get(hit.sex, hit.sex),
                shown,
                hit.relationship,
                status,
            )
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if col == ADDRESS_COLUMN and not withheld:
                    item.setToolTip(address)
                mark_item(item, protected=hit.protected, removed=hit.status == "removed")
                self.table.setItem(row, col, item)
        total = page.total
        if not self.hits:
            self.message.setText("該当する住民はいません。")
        elif total is None:
            self.message.setText(
                f"{len(self.hits)}件を表示しています。該当が多すぎます: 条件を絞ってください。"
            )
        else:
            self.message.setText(
                f"{total}件が該当しました。Enter またはダブルクリックで世帯を開きます。"
            )
        if protected_rows:
            self.message.setText(
                self.message.text() + f"\n⚠ 支援措置の対象者が{protected_rows}人含まれています。"
            )
        if self.hits:
            self.table.selectRow(0)
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def selected_row(self) -> int:
        rows = {i.row() for i in self.table.selectedIndexes()}
        return rows.pop() if len(rows) == 1 else -1

    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.hits):
            hit = self.hits[row]
            self.household_chosen.emit(hit.household_id, hit.person_id)
