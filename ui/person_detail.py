"""個人の詳細: one member's 本籍・筆頭者, 前住所, 異動履歴 and the dates of the 住民票.

Opened from the household view (Enter on a row, a double click, Alt+P). The detail is read
through the session's `person_detail(person_id, reason)` in the background: the permission is
checked and the viewing recorded (VIEW_PERSON) before anything arrives. For a person under a
支援措置, or at a withheld address, the dialog first asks for the reason. A withheld address
stays withheld here (the household view's reveal shows it). Esc or F12 closes; the window is
kept out of screen captures like every top-level window (ui.privacy's guard).
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain import wareki
from app.domain.records import Household, Person
from app.services.records_view import PersonDetail
from app.services.session_api import CounterSessionApi
from ui.background import run_in_background, user_message
from ui.fkeys import bind_fkey
from ui.screen import fit_to_screen

SEX_LABELS = {"male": "男", "female": "女"}
HISTORY_COLUMNS = ("異動日", "異動事由", "届出日", "内容")


def _day(value: date | None) -> str:
    return wareki.format_date(value) if value is not None else ""


def _text(value: str | None) -> str:
    return value or ""


class PersonDetailDialog(QDialog):
    """Emits `loaded(detail)` once the detail is shown."""

    loaded = Signal(object)

    def __init__(
        self,
        session: CounterSessionApi,
        person: Person,
        household: Household,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("personDetailDialog")
        self.setWindowTitle(f"個人の詳細 — {person.name}")
        self.session = session
        self.person_id = person.person_id
        self.detail: PersonDetail | None = None
        self.needs_reason = session.person_reason_required(person, household)

        heading = QLabel(
            f"{person.name}(世帯ID {household.household_id}・{person.relationship})",
            objectName="personDetailHeading",
        )
        heading.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.message = QLabel("", objectName="personDetailMessage")
        self.message.setWordWrap(True)

        # 支援措置: the reason first (required, recorded with the viewing).
        self.reason_row = QWidget(objectName="personDetailReasonRow")
        self.reason = QLineEdit(objectName="personDetailReason")
        self.reason.setPlaceholderText("詳細を表示する理由(必須・記録されます)")
        self.show_button = QPushButton("表示(&S)", objectName="personDetailShow")
        self.show_button.setAutoDefault(False)
        self.show_button.clicked.connect(self.request)
        self.reason.returnPressed.connect(self.request)
        reason_label = QLabel("理由(&R)")
        reason_label.setBuddy(self.reason)
        row = QHBoxLayout(self.reason_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(reason_label)
        row.addWidget(self.reason, 1)
        row.addWidget(self.show_button)
        self.reason_row.setVisible(self.needs_reason)

        self.fields: dict[str, QLabel] = {}
        body = QWidget(objectName="personDetailBody")
        body_layout = QVBoxLayout(body)
        body_layout.addWidget(
            self._group(
                "基本",
                [
                    ("name", "氏名"),
                    ("name_kana", "フリガナ"),
                    ("former_name", "旧氏"),
                    ("alias", "通称"),
                    ("birth_date", "生年月日"),
                    ("sex", "性別"),
                    ("relationship", "続柄"),
                    ("status", "状態"),
                    ("support", "支援措置"),
                ],
            )
        )
        body_layout.addWidget(self._group("本籍", [("honseki", "本籍"), ("hittosha", "筆頭者")]))
        body_layout.addWidget(
            self._group(
                "住所と異動の日付",
                [
                    ("address", "住所"),
                    ("became_resident", "住民となった日"),
                    ("address_set", "住所を定めた日"),
                    ("previous_address", "転入前住所"),
                    ("previous_head_name", "転入前世帯主"),
                ],
            )
        )
        self.removal_group = self._group(
            "消除",
            [
                ("removed_on", "消除日"),
                ("removal_reason", "消除事由"),
                ("removal_reported_on", "届出日"),
                ("moved_out_to", "転出先"),
                ("moved_out_head_name", "転出先世帯主"),
            ],
        )
        body_layout.addWidget(self.removal_group)
        self.foreign_group = self._group(
            "外国人住民",
            [
                ("nationality", "国籍・地域"),
                ("residence_status", "在留資格"),
                ("period_of_stay_until", "在留期間の満了日"),
                ("article_30_45", "法第30条の45の区分"),
            ],
        )
        body_layout.addWidget(self.foreign_group)
        history_box = QGroupBox("異動履歴(記事)")
        self.history = QTableWidget(0, len(HISTORY_COLUMNS), objectName="personDetailHistory")
        self.history.setHorizontalHeaderLabels(HISTORY_COLUMNS)
        self.history.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.history.verticalHeader().setVisible(False)
        header = self.history.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.history.setMinimumHeight(140)
        QVBoxLayout(history_box).addWidget(self.history)
        body_layout.addWidget(history_box)
        body_layout.addStretch(1)
        self.removal_group.hide()
        self.foreign_group.hide()
        self.scroll = QScrollArea(objectName="personDetailScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(body)

        self.close_button = QPushButton("閉じる", objectName="personDetailClose")
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.reject)
        bind_fkey(self.close_button, 12, self)
        keys = QLabel("F12 または Esc 閉じる", objectName="personDetailKeys")
        keys.setStyleSheet("color: #555;")
        bottom = QHBoxLayout()
        bottom.addWidget(keys, 1)
        bottom.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.reason_row)
        layout.addWidget(self.message)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(bottom)
        fit_to_screen(self, QSize(780, 700))

        if self.needs_reason:
            self.message.setText(
                "支援措置に関わる人です。詳細を表示する理由を入力してください(記録されます)。"
            )
            self.reason.setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            self.request()

    def _group(self, title: str, rows: list[tuple[str, str]]) -> QGroupBox:
        box = QGroupBox(title)
        form = QFormLayout(box)
        for key, label in rows:
            value = QLabel("", objectName=f"personDetail_{key}")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(label, value)
            self.fields[key] = value
        return box

    # --- loading -------------------------------------------------------------------------

    def request(self) -> None:
        reason: str | None = self.reason.text().strip() or None
        if self.needs_reason and reason is None:
            self.message.setText("理由を入力してください。")
            self.reason.setFocus()
            return
        self.show_button.setEnabled(False)
        self.message.setText("読み込んでいます…")
        session, person_id = self.session, self.person_id
        run_in_background(
            self, lambda: session.person_detail(person_id, reason), self.show_detail, self._failed
        )

    def _failed(self, exc: BaseException) -> None:
        self.show_button.setEnabled(True)
        self.message.setText(user_message(exc))

    def show_detail(self, detail: PersonDetail) -> None:
        self.detail = detail
        self.reason_row.hide()
        self.message.setText(
            "住所は支援措置のため表示していません(世帯の画面で理由を入力すると表示できます)。"
            if detail.address_withheld
            else ""
        )
        self.message.setVisible(bool(self.message.text()))
        today = self.session.today()
        age = wareki.age_on(detail.birth_date, today)
        values = {
            "name": detail.name,
            "name_kana": detail.name_kana,
            "former_name": _text(detail.former_name),
            "alias": _text(detail.alias)
            + (f"({detail.alias_kana})" if detail.alias and detail.alias_kana else ""),
            "birth_date": f"{wareki.format_date(detail.birth_date)}({age}歳)",
            "sex": SEX_LABELS.get(detail.sex, detail.sex),
            "relationship": detail.relationship,
            "status": "除票" if detail.status == "removed" else "住民",
            "support": (
                f"⚠ 対象者({_day(detail.support_until)}まで)" if detail.support_until else "なし"
            ),
            "honseki": _text(detail.honseki),
            "hittosha": _text(detail.hittosha),
            "address": detail.address,
            "became_resident": _dated(
                detail.became_resident_on, detail.became_resident_reported_on
            ),
            "address_set": _dated(detail.address_set_on, detail.address_set_reported_on),
            "previous_address": _text(detail.previous_address),
            "previous_head_name": _text(detail.previous_head_name),
            "removed_on": _day(detail.removed_on),
            "removal_reason": _text(detail.removal_reason),
            "removal_reported_on": _day(detail.removal_reported_on),
            "moved_out_to": _text(detail.moved_out_to),
            "moved_out_head_name": _text(detail.moved_out_head_name),
            "nationality": _text(detail.nationality),
            "residence_status": _text(detail.residence_status),
            "period_of_stay_until": _day(detail.period_of_stay_until),
            "article_30_45": _text(detail.article_30_45),
        }
        for key, value in values.items():
            self.fields[key].setText(value)
        if detail.support_until:
            self.fields["support"].setStyleSheet("color: #a00000; font-weight: bold;")
        self.removal_group.setVisible(detail.status == "removed")
        self.foreign_group.setVisible(detail.nationality is not None)
        self.history.setRowCount(len(detail.history))
        for r, h in enumerate(detail.history):
            for c, value in enumerate((_day(h.date), h.kind, _day(h.reported_on), h.note)):
                self.history.setItem(r, c, QTableWidgetItem(value))
        self.scroll.setFocus(Qt.FocusReason.OtherFocusReason)  # arrows and PageDown scroll
        self.loaded.emit(detail)


def _dated(day: date | None, reported: date | None) -> str:
    if day is None:
        return ""
    return _day(day) + (f"(届出 {_day(reported)})" if reported is not None else "")
