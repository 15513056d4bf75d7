"""請求者: who asks, as a person — picked from the household, found by a register search, read
from their card, or entered by hand from the document shown — with the kind of request, the
authority (委任状, 法定代理人), the third party's ground and the 請求事由.

The panel only collects; app.domain.certificates decides (the dialog shows the decision).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, cast

from PySide6.QtCore import Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain import wareki
from app.domain.certificates import (
    GROUND_LABELS,
    PROFESSION_LABELS,
    REPRESENTATION_LABELS,
    REQUESTER_LABELS,
    PersonRef,
    Profession,
    Purpose,
    Representation,
    Requester,
    RequesterKind,
    ThirdPartyGround,
)
from app.domain.errors import ValidationError
from app.domain.records import Household
from app.services.session_api import CounterSessionApi
from ui.background import run_in_background, user_message

K = RequesterKind
# Kinds whose requester must be a member of this household (found in the register).
_MEMBER_KINDS = {K.SELF, K.HOUSEHOLD_MEMBER, K.WIDE_AREA}


CardReader = Callable[[QWidget], Callable[[], PersonRef] | None]


class RequesterPanel(QGroupBox):
    """Emits `changed` whenever the requester, their authority or the purpose changes.
    `read_card(parent)` (optional, cli/card_desk_wiring.requester_card_reader) asks for the
    card's PIN on the GUI thread and returns the card read to run in the background (or None
    when cancelled)."""

    changed = Signal()

    def __init__(
        self,
        session: CounterSessionApi,
        household: Household,
        *,
        read_card: CardReader | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("請求者", parent)
        self.setObjectName("requesterPanel")
        self.session = session
        self.household = household
        self._read_card = read_card
        self.found: PersonRef | None = None  # from the household, a search or the card
        self.hits: list[Any] = []

        self.kind = QComboBox(objectName="requesterKind")
        for kind, label in REQUESTER_LABELS.items():
            self.kind.addItem(label, kind)
        if household.municipality_code == session.config.municipality_code:
            # §12の4 is for residents of another municipality (decide() refuses it too).
            wide = self.kind.findData(K.WIDE_AREA)
            item = cast(QStandardItemModel, self.kind.model()).item(wide)
            item.setEnabled(False)
            item.setToolTip("広域交付は他の市区町村に住民登録のある人の請求です。")

        # --- the person at the counter ---------------------------------------------------------
        self.member = QComboBox(objectName="requesterMember")
        self.member.addItem("（この世帯の人から選ぶ）", None)
        for m in household.members:
            mark = "（除票：世帯員ではありません）" if m.is_removed else f"（{m.relationship}）"
            self.member.addItem(f"{m.name}{mark}", m.person_id)
        self.search_name = QLineEdit(objectName="requesterSearchName")
        self.search_name.setPlaceholderText("氏名（かな可）")
        self.search_birth = QLineEdit(objectName="requesterSearchBirth")
        self.search_birth.setPlaceholderText("生年月日（例: S45.3.12）")
        self.search_button = QPushButton("住民検索", objectName="requesterSearchButton")
        self.results = QComboBox(objectName="requesterSearchResults")
        self.results.setVisible(False)
        self.card_button = QPushButton("カードで確認", objectName="requesterCardButton")
        self.card_button.setVisible(read_card is not None)
        search_row = QHBoxLayout()
        search_row.addWidget(self.search_name, 2)
        search_row.addWidget(self.search_birth, 2)
        search_row.addWidget(self.search_button)
        search_row.addWidget(self.card_button)
        self.name = QLineEdit(objectName="requesterName")
        self.name.setPlaceholderText("登録のない人: 本人確認書類のとおり")
        self.address = QLineEdit(objectName="requesterAddress")
        self.birth = QLineEdit(objectName="requesterBirth")
        self.birth.setPlaceholderText("例: 昭和55年5月5日、S55.5.5")
        self.identity = QLabel("", objectName="requesterIdentity")
        self.identity.setWordWrap(True)
        self.identity.setToolTip(
            "登録のある人は個人IDで、登録のない人は氏名・生年月日で、支援措置の加害者と照合します。"
        )

        # --- authority: 代理人, 法定代理人 ------------------------------------------------------
        self.principal = QComboBox(objectName="requesterPrincipal")
        self.principal.addItem("（誰の代理か選ぶ）", None)
        for m in household.members:
            self.principal.addItem(m.name + ("（除票）" if m.is_removed else ""), m.person_id)
        self.power_of_attorney = QCheckBox("委任状あり", objectName="powerOfAttorney")
        self.representation = QComboBox(objectName="requesterRepresentation")
        for rep, label in REPRESENTATION_LABELS.items():
            self.representation.addItem(label, rep)

        # --- 第三者 (§12の3), 国・地方公共団体 (§12の2) ----------------------------------------
        self.ground = QComboBox(objectName="requesterGround")
        for ground, label in GROUND_LABELS.items():
            self.ground.addItem(label, ground)
        self.agent = QCheckBox("特定事務受任者（職務上請求）", objectName="specifiedAgent")
        self.profession = QComboBox(objectName="requesterProfession")
        for prof, label in PROFESSION_LABELS.items():
            self.profession.addItem(label, prof)
        self.client_name = QLineEdit(objectName="clientName")
        self.client_name.setPlaceholderText("依頼者の氏名又は名称")
        self.organization = QLineEdit(objectName="requesterOrganization")
        self.staff_title = QLineEdit(objectName="staffTitle")

        # --- 請求事由 --------------------------------------------------------------------------
        self.reason = QLineEdit(objectName="purpose")
        self.reason.setPlaceholderText("何に使うのか（例: 貸金返還請求訴訟の提起のため）")
        self.submit_to = QLineEdit(objectName="submitTo")
        self.submit_to.setPlaceholderText("提出先（例: 札幌地方裁判所北見支部）")

        form = QFormLayout(self)
        form.addRow("区分(&K)", self.kind)
        self._rows: dict[str, tuple[QWidget, ...]] = {}

        def row(key: str, label: str, widget: QWidget | Any) -> None:
            if not isinstance(widget, QWidget):
                holder = QWidget()
                widget.setContentsMargins(0, 0, 0, 0)
                holder.setLayout(widget)
                widget = holder
            lab = QLabel(label)
            if "&" in label:
                lab.setBuddy(widget)
            form.addRow(lab, widget)
            self._rows[key] = (lab, widget)

        row("member", "世帯の人(&P)", self.member)
        search_box = QWidget()
        sv = QVBoxLayout(search_box)
        sv.setContentsMargins(0, 0, 0, 0)
        sv.addLayout(search_row)
        sv.addWidget(self.results)
        row("search", "登録を検索", search_box)
        row("name", "氏名", self.name)
        row("address", "住所", self.address)
        row("birth", "生年月日", self.birth)
        row("identity", "", self.identity)
        row("principal", "誰の代理か", self.principal)
        row("poa", "", self.power_of_attorney)
        row("representation", "法定代理人の種類", self.representation)
        row("organization", "法人・機関の名称", self.organization)
        row("staff", "職員の職名", self.staff_title)
        row("ground", "請求の区分", self.ground)
        agent_row = QHBoxLayout()
        agent_row.addWidget(self.agent)
        agent_row.addWidget(self.profession)
        agent_row.addWidget(self.client_name, 1)
        row("agent", "", agent_row)
        row("reason", "請求事由(&U)", self.reason)
        row("submit", "提出先", self.submit_to)

        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.member.currentIndexChanged.connect(self._member_chosen)
        self.search_button.clicked.connect(self.search)
        self.search_name.returnPressed.connect(self.search)
        self.results.activated.connect(self._result_chosen)
        self.card_button.clicked.connect(self.read_card)
        for edit in (self.name, self.address, self.birth):
            edit.textEdited.connect(self._typed)
        for w in (self.principal, self.representation, self.ground, self.profession):
            w.currentIndexChanged.connect(self._emit)
        for cb in (self.power_of_attorney, self.agent):
            cb.toggled.connect(self._emit)
        for edit in (
            self.client_name,
            self.organization,
            self.staff_title,
            self.reason,
            self.submit_to,
        ):
            edit.textChanged.connect(self._emit)
        self._kind_changed()

    # --- what the clerk did ---------------------------------------------------------------------

    def current_kind(self) -> RequesterKind:
        return RequesterKind(self.kind.currentData())

    def set_kind(self, kind: RequesterKind) -> None:
        self.kind.setCurrentIndex(self.kind.findData(kind))

    def _emit(self, *_args: Any) -> None:
        self.changed.emit()

    def _kind_changed(self) -> None:
        kind = self.current_kind()
        acting = kind in (K.PROXY, K.LEGAL_REPRESENTATIVE)
        show = {
            "member": kind in _MEMBER_KINDS,
            "search": kind is not K.PUBLIC_BODY,
            "name": True,
            "address": kind is not K.PUBLIC_BODY,
            "birth": kind is not K.PUBLIC_BODY,
            "identity": True,
            "principal": acting,
            "poa": kind is K.PROXY,
            "representation": kind is K.LEGAL_REPRESENTATIVE,
            "organization": kind in (K.THIRD_PARTY, K.PUBLIC_BODY),
            "staff": kind is K.PUBLIC_BODY,
            "ground": kind is K.THIRD_PARTY,
            "agent": kind is K.THIRD_PARTY,
            "submit": kind in (K.THIRD_PARTY, K.PUBLIC_BODY),
        }
        for key, widgets in self._rows.items():
            for w in widgets:
                w.setVisible(show.get(key, True))
        self._rows["name"][0].setText("職員の氏名" if kind is K.PUBLIC_BODY else "氏名")
        self.reason.setPlaceholderText(
            "事務の内容・根拠法令（例: 国税徴収法第141条による調査）"
            if kind is K.PUBLIC_BODY
            else "何に使うのか（例: 貸金返還請求訴訟の提起のため）"
        )
        self._show_identity()
        self.changed.emit()

    def _member_chosen(self) -> None:
        pid = self.member.currentData()
        if pid is None:
            return
        m = self.household.member(pid)
        self._set_found(PersonRef(m.name, self._household_address(), m.birth_date, m.person_id))

    def _household_address(self) -> str:
        h = self.household
        return h.address + (f"　{h.katagaki}" if h.katagaki else "")

    def _set_found(self, person: PersonRef) -> None:
        self.found = person
        self.name.setText(person.name)
        self.address.setText(person.address)
        self.birth.setText(wareki.format_date(person.birth_date) if person.birth_date else "")
        self._show_identity()
        self.changed.emit()

    def _typed(self) -> None:
        # Editing the fields makes the requester someone entered by hand.
        if self.found is not None:
            self.found = None
            self.member.blockSignals(True)
            self.member.setCurrentIndex(0)
            self.member.blockSignals(False)
        self._show_identity()
        self.changed.emit()

    def _show_identity(self) -> None:
        if self.found is not None:
            text = f"登録あり（個人ID {self.found.person_id}）"
            m = self._member(self.found.person_id)
            if m is not None and m.is_removed:
                text += "：除票（同一世帯員ではありません）"
        elif self.name.text().strip():
            text = "登録のない人（手入力）"
        else:
            text = "請求者を選ぶ・検索する・書類のとおり入力する"
        self.identity.setText(text)

    def _member(self, person_id: str | None) -> Any:
        for m in self.household.members:
            if m.person_id == person_id:
                return m
        return None

    def search(self) -> None:
        name = self.search_name.text().strip()
        birth = self.search_birth.text().strip()
        if not name and not birth:
            self.identity.setText("氏名か生年月日を入力して検索してください。")
            return
        self.search_button.setEnabled(False)

        def shown(page: Any) -> None:
            self.search_button.setEnabled(True)
            self.hits = list(page.hits)
            self.results.clear()
            self.results.addItem(f"{len(self.hits)}件見つかりました（選んでください）", None)
            for i, hit in enumerate(self.hits):
                state = "（除票）" if hit.status == "removed" else ""
                self.results.addItem(
                    f"{hit.name}　{wareki.format_date(hit.birth_date)}　{hit.address}{state}", i
                )
            self.results.setVisible(True)

        def failed(exc: BaseException) -> None:
            self.search_button.setEnabled(True)
            self.identity.setText(user_message(exc))

        run_in_background(
            self,
            lambda: self.session.search(name=name, birth=birth, limit=20),
            shown,
            failed,
        )

    def _result_chosen(self) -> None:
        index = self.results.currentData()
        if index is None:
            return
        self.choose_hit(self.hits[index])

    def choose_hit(self, hit: Any) -> None:
        address = hit.address + (f"　{hit.katagaki}" if hit.katagaki else "")
        self._set_found(PersonRef(hit.name, address, hit.birth_date, hit.person_id))

    def read_card(self) -> None:
        if self._read_card is None:
            return
        work = self._read_card(self)
        if work is None:
            return
        self.card_button.setEnabled(False)
        self.identity.setText("カードを読み取っています…")

        def done(person: PersonRef) -> None:
            self.card_button.setEnabled(True)
            self._set_found(person)

        def failed(exc: BaseException) -> None:
            self.card_button.setEnabled(True)
            self.identity.setText(user_message(exc))

        run_in_background(self, work, done, failed)

    def enter_by_hand(self, name: str, address: str, birth: str) -> None:
        """Fill the fields as a clerk would type them (used by tests and screenshots)."""
        self.name.setText(name)
        self.address.setText(address)
        self.birth.setText(birth)
        self._typed()

    # --- the request ------------------------------------------------------------------------

    def _birth_date(self) -> date | None:
        text = self.birth.text().strip()
        if not text:
            return None
        try:
            return wareki.parse(text, field="birth_date")
        except ValidationError:
            try:
                return date.fromisoformat(text)
            except ValueError:
                return None

    def person(self) -> PersonRef | None:
        if self.found is not None:
            return self.found
        name = self.name.text().strip()
        if not name:
            return None
        return PersonRef(name, self.address.text().strip(), self._birth_date())

    def requester(self) -> Requester:
        kind = self.current_kind()
        acting = kind in (K.PROXY, K.LEGAL_REPRESENTATIVE)
        third = kind is K.THIRD_PARTY
        return Requester(
            kind,
            self.person(),
            principal_id=self.principal.currentData() if acting else None,
            representation=(
                Representation(self.representation.currentData())
                if kind is K.LEGAL_REPRESENTATIVE
                else None
            ),
            has_power_of_attorney=kind is K.PROXY and self.power_of_attorney.isChecked(),
            ground=ThirdPartyGround(self.ground.currentData()) if third else None,
            profession=(
                Profession(self.profession.currentData())
                if third and self.agent.isChecked()
                else None
            ),
            client_name=self.client_name.text().strip() if third and self.agent.isChecked() else "",
            organization=(
                self.organization.text().strip() if kind in (K.THIRD_PARTY, K.PUBLIC_BODY) else ""
            ),
            staff_title=self.staff_title.text().strip() if kind is K.PUBLIC_BODY else "",
        )

    def purpose(self) -> Purpose:
        kind = self.current_kind()
        category = ThirdPartyGround(self.ground.currentData()) if kind is K.THIRD_PARTY else None
        return Purpose(category, self.reason.text().strip(), self.submit_to.text().strip())
