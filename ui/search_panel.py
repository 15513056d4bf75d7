"""住民検索: 4情報 in any combination, or 住民票コード; results with 除票 and 支援措置 marked."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
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
from app.services.session_api import CounterSessionApi
from ui.background import run_in_background, user_message

SEX_LABELS = {"male": "男", "female": "女"}
COLUMNS = ("氏名", "フリガナ", "生年月日", "性別", "住所", "続柄", "状態")


class SearchPanel(QWidget):
    """Emits `household_chosen(household_id, person_id)` when a result is opened."""

    household_chosen = Signal(str, str)

    def __init__(self, session: CounterSessionApi, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
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
        self.address.setPlaceholderText("住所または方書の先頭(例: 北見市北4条)")
        self.code = QLineEdit(objectName="searchCode")
        self.code.setPlaceholderText("11桁")
        self.include_removed = QCheckBox("除票も含める", objectName="searchRemoved")
        self.include_removed.setChecked(True)

        form = QFormLayout()
        form.addRow("氏名", self.name)
        form.addRow("生年月日", self.birth)
        form.addRow("性別", self.sex)
        form.addRow("住所", self.address)
        form.addRow("住民票コード", self.code)
        form.addRow("", self.include_removed)

        self.search_button = QPushButton("検索", objectName="searchButton")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.run_search)
        clear = QPushButton("条件をクリア")
        clear.clicked.connect(self.clear)
        for edit in (self.name, self.birth, self.address, self.code):
            edit.returnPressed.connect(self.run_search)

        buttons = QHBoxLayout()
        buttons.addWidget(self.search_button)
        buttons.addWidget(clear)
        buttons.addStretch(1)

        self.message = QLabel("", objectName="searchMessage")
        self.message.setWordWrap(True)

        self.table = QTableWidget(0, len(COLUMNS), objectName="searchResults")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        # One line per person: long addresses lose their beginning (the same city for everyone);
        # the household view shows them whole.
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideLeft)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_row(row))
        self.table.itemActivated.connect(lambda item: self.open_row(item.row()))

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)

    def clear(self) -> None:
        for edit in (self.name, self.birth, self.address, self.code):
            edit.clear()
        self.sex.setCurrentIndex(0)
        self.table.setRowCount(0)
        self.hits = []
        self.message.clear()
        self.name.setFocus()

    def run_search(self) -> None:
        criteria = {
            "name": self.name.text(),
            "birth": self.birth.text(),
            "sex": self.sex.currentData(),
            "address": self.address.text(),
            "juminhyo_code": self.code.text(),
            "include_removed": self.include_removed.isChecked(),
        }
        self.search_button.setEnabled(False)
        self.message.setText("検索しています…")
        run_in_background(self, lambda: self.session.search(**criteria), self._show, self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.search_button.setEnabled(True)
        self.message.setText(user_message(exc))

    def _show(self, page: Any) -> None:
        self.search_button.setEnabled(True)
        self.hits = list(page.hits)
        self.table.setRowCount(len(self.hits))
        protected_rows = 0
        for row, hit in enumerate(self.hits):
            status = "除票" if hit.status == "removed" else "住民"
            if hit.protected:
                status += " ⚠支援措置"
                protected_rows += 1
            address = hit.address + (f" {hit.katagaki}" if hit.katagaki else "")
            values = (
                hit.name,
                hit.name_kana,
                wareki.format_date(hit.birth_date),
                SEX_LABELS.get(hit.sex, hit.sex),
                address,
                hit.relationship,
                status,
            )
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if hit.protected:
                    item.setBackground(QColor("#ffe0e0"))
                elif hit.status == "removed":
                    item.setForeground(QColor("#777777"))
                self.table.setItem(row, col, item)
        total = page.total
        if not self.hits:
            self.message.setText("該当する住民はいません。")
        elif total is None:
            self.message.setText(
                f"{len(self.hits)}件を表示しています。該当が多すぎます: 条件を絞ってください。"
            )
        else:
            self.message.setText(f"{total}件が該当しました。ダブルクリックで世帯を開きます。")
        if protected_rows:
            self.message.setText(
                self.message.text() + f"\n⚠ 支援措置の対象者が{protected_rows}人含まれています。"
            )
        if self.hits:
            self.table.selectRow(0)
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.hits):
            hit = self.hits[row]
            self.household_chosen.emit(hit.household_id, hit.person_id)
