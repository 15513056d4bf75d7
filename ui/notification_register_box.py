"""「住民票から」 on the 異動届 tab: find the household in the register (4情報 search, Enter on a
hit) or read the resident's card; says which household was opened, as the moving one or as the
other household of a 転居・世帯分離・世帯合併. The search and the opening run in the background."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain import wareki
from app.domain.records import Household
from app.services.session_api import CounterSessionApi
from ui.background import run_in_background, user_message


def hit_text(hit: Any) -> str:
    # The marks lead: a long address is cut at the list's right edge, and a 除票 or a
    # 支援措置 must never be what is cut away (the whole line is the item's tooltip).
    state = "【除票】" if hit.status != "resident" else ""
    mark = "【支援措置】" if hit.protected else ""
    return f"{mark}{state}{hit.name}　{wareki.format_date(hit.birth_date)}　{hit.address}"


class RegisterBox(QGroupBox):
    """Emits `opened(household, as_target)`, `card_requested()` and `message(text)`."""

    opened = Signal(object, bool)
    card_requested = Signal()
    message = Signal(str)

    def __init__(self, session: CounterSessionApi, parent: QWidget | None = None) -> None:
        super().__init__("住民票から(&S)", parent, objectName="registerBox")
        self.session = session
        self.hits: list[Any] = []
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.search_name = QLineEdit(objectName="notificationSearchName")
        self.search_name.setPlaceholderText("氏名(かな可)")
        self.search_birth = QLineEdit(objectName="notificationSearchBirth")
        self.search_birth.setPlaceholderText("生年月日")
        self.search_button = QPushButton("検索", objectName="notificationSearch")
        row.addWidget(self.search_name, 1)
        row.addWidget(self.search_birth, 1)
        row.addWidget(self.search_button)
        layout.addLayout(row)
        self.hits_list = QListWidget(objectName="notificationHits")
        self.hits_list.setMaximumHeight(110)
        layout.addWidget(self.hits_list)
        row = QHBoxLayout()
        self.choose_source = QPushButton("異動する世帯(&H)", objectName="chooseSource")
        self.choose_target = QPushButton("相手の世帯(&T)", objectName="chooseTarget")
        row.addWidget(self.choose_source)
        row.addWidget(self.choose_target)
        layout.addLayout(row)
        self.card_button = QPushButton("カードで読み取り(&C)", objectName="readCard")
        layout.addWidget(self.card_button)
        self.source_label = QLabel("世帯: 未選択", objectName="sourceLabel")
        self.source_label.setWordWrap(True)
        layout.addWidget(self.source_label)

        self.search_button.clicked.connect(self.search)
        self.search_name.returnPressed.connect(self.search)
        self.search_birth.returnPressed.connect(self.search)
        self.hits_list.itemActivated.connect(lambda _i: self.choose(as_target=False))
        self.choose_source.clicked.connect(lambda: self.choose(as_target=False))
        self.choose_target.clicked.connect(lambda: self.choose(as_target=True))
        self.card_button.clicked.connect(self.card_requested)

    def search(self) -> None:
        name, birth = self.search_name.text(), self.search_birth.text()

        def shown(page: Any) -> None:
            self.hits = list(page.hits)
            self.hits_list.clear()
            for hit in self.hits:
                item = QListWidgetItem(hit_text(hit))
                item.setToolTip(item.text())
                self.hits_list.addItem(item)
            if self.hits:
                self.hits_list.setCurrentRow(0)
                self.hits_list.setFocus()
            self.message.emit(f"{len(self.hits)}件見つかりました。" if self.hits else "該当なし")

        run_in_background(
            self,
            lambda: self.session.search(name=name, birth=birth, include_removed=False),
            shown,
            lambda e: self.message.emit(user_message(e)),
        )

    def choose(self, *, as_target: bool) -> None:
        row = self.hits_list.currentRow()
        if not 0 <= row < len(self.hits):
            self.message.emit("検索結果から世帯を選んでください。")
            return
        household_id = self.hits[row].household_id

        def opened(h: Household) -> None:
            self.opened.emit(h, as_target)

        run_in_background(
            self,
            lambda: self.session.open_household(household_id),
            opened,
            lambda e: self.message.emit(user_message(e)),
        )
