"""「異動届」: the 書かない窓口 screen. The clerk chooses the procedure, takes the household from
the register (search) or the resident's card, types the answers, sees the checks of 住基法
§22–§27 per field as they type (in the background), prints the 届書 for the signature, ticks
「署名を確認」「本人確認書類を確認」 and files. A 転出 then prints its 転出証明書.

Keyboard-first: every field and button is reachable with Tab and has an Alt-key; F5 prints the
届書, F9 files, Ctrl+N starts a new 届出. The action bar stays below the scrolling form, so it
fits 1366x768. Widgets only: the session (app.services.notifications) decides everything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from msgspec.structs import replace
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.domain import wareki
from app.domain.cards import CardFaceInfo
from app.domain.certificates import IDENTITY_LABELS, IdentityDocument
from app.domain.notifications import (
    FILER_LABELS,
    PROCEDURE_LABELS,
    Address,
    Filer,
    FilerKind,
    MoveOutCertificate,
    Mover,
    NotificationDraft,
    Procedure,
    propose_households,
)
from app.domain.notifications.drafts import (
    address_of,
    movers_from_certificate,
    movers_of,
    roles_of,
)
from app.domain.notifications.forms import FORM_DOCUMENTS
from app.domain.notifications.model import HOUSEHOLD_CHANGE, MOVE_IN, MOVE_OUT
from app.domain.records import Household, Person
from app.services.session_api import CounterSessionApi
from ui.background import run_in_background, user_message
from ui.notification_parts import (
    AddressField,
    DateField,
    FindingsList,
    HouseholdsTable,
    MoversTable,
    PaperCertificateBox,
    mark_fields,
)
from ui.notification_status import FiledListDialog, decision_text, show_decisions

CHECK_DELAY_MS = 400
OFFICE_FALLBACK = "窓口"


@dataclass(frozen=True, slots=True)
class CardRead:
    """What the card path returns: the card's 4情報 and, when registered here, the person."""

    face: CardFaceInfo
    person: Person | None = None
    household: Household | None = None


# prepare(parent) on the GUI thread (asks the PIN), then the work in the background.
CardReader = Callable[[QWidget], Callable[[], CardRead] | None]
PrintDocument = Callable[[bytes, int], int]  # (pdf, copies) → pages printed


class NotificationTab(QWidget):
    """「異動届」. Emits `filed(notification_id)` after a filing (the window syncs then)."""

    filed = Signal(str)

    def __init__(
        self,
        session: CounterSessionApi,
        *,
        print_document: PrintDocument | None = None,
        read_card: CardReader | None = None,
        confirm_print: Callable[[bytes, str], bool] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """`confirm_print(pdf, title)`: the preview before printing (a dialog by default)."""
        super().__init__(parent, objectName="notificationTab")
        self.session = session
        self._print = print_document
        self._read_card = read_card
        self._confirm = confirm_print or self._preview_dialog
        self.source: Household | None = None
        self.target: Household | None = None
        self.certificate: MoveOutCertificate | None = None  # 特例転入 (住基ネット)
        self.card_presented = False
        self.prepared: Any = None  # PreparedForm of the 届書 printed for this draft
        self.notification_id = session.new_notification_id()
        self._generation = 0
        self._hits: list[Any] = []
        self._timer = QTimer(self, singleShot=True, interval=CHECK_DELAY_MS)
        self._timer.timeout.connect(self.run_check)
        self._build()
        self.new_notification()

    # -- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        top = QHBoxLayout()
        self.procedure = QComboBox(objectName="procedure")
        for p in Procedure:
            self.procedure.addItem(PROCEDURE_LABELS[p], p)
        self.moved_on = DateField("movedOn")
        self.filed_on = QLabel("", objectName="filedOn")
        procedure_label = QLabel("手続(&P)")
        procedure_label.setBuddy(self.procedure)
        moved_label = QLabel("異動日(&D)")
        moved_label.setBuddy(self.moved_on)
        self.new_button = QPushButton("新しい届出", objectName="newNotification")
        self.new_button.setToolTip("Ctrl+N")
        self.status_button = QPushButton("この端末の届出(&L)…", objectName="filedList")
        for w in (procedure_label, self.procedure, moved_label, self.moved_on):
            top.addWidget(w)
        top.addWidget(QLabel("届出日"))
        top.addWidget(self.filed_on)
        top.addStretch(1)
        top.addWidget(self.new_button)
        top.addWidget(self.status_button)

        # Left: the register (search, card) and the paper certificate of a 転入.
        left = QVBoxLayout()
        search = QGroupBox("住民票から(&S)", objectName="registerBox")
        sl = QVBoxLayout(search)
        row = QHBoxLayout()
        self.search_name = QLineEdit(objectName="notificationSearchName")
        self.search_name.setPlaceholderText("氏名(かな可)")
        self.search_birth = QLineEdit(objectName="notificationSearchBirth")
        self.search_birth.setPlaceholderText("生年月日")
        self.search_button = QPushButton("検索", objectName="notificationSearch")
        row.addWidget(self.search_name, 1)
        row.addWidget(self.search_birth, 1)
        row.addWidget(self.search_button)
        sl.addLayout(row)
        self.hits_list = QListWidget(objectName="notificationHits")
        self.hits_list.setMaximumHeight(110)
        sl.addWidget(self.hits_list)
        row = QHBoxLayout()
        self.choose_source = QPushButton("異動する世帯(&H)", objectName="chooseSource")
        self.choose_target = QPushButton("相手の世帯(&T)", objectName="chooseTarget")
        row.addWidget(self.choose_source)
        row.addWidget(self.choose_target)
        sl.addLayout(row)
        self.card_button = QPushButton("カードで読み取り(&C)", objectName="readCard")
        sl.addWidget(self.card_button)
        self.source_label = QLabel("世帯: 未選択", objectName="sourceLabel")
        self.source_label.setWordWrap(True)
        sl.addWidget(self.source_label)
        left.addWidget(search)
        self.paper = PaperCertificateBox()
        left.addWidget(self.paper)
        left.addStretch(1)

        # Middle: who moves, and the households afterwards.
        middle = QVBoxLayout()
        movers_label = QLabel("異動者(&M) — 異動する方に印、支援措置の方は赤")
        self.movers = MoversTable()
        movers_label.setBuddy(self.movers)
        middle.addWidget(movers_label)
        middle.addWidget(self.movers, 1)
        plans_label = QLabel("異動後の世帯と続柄(&K)")
        self.households = HouseholdsTable()
        plans_label.setBuddy(self.households)
        middle.addWidget(plans_label)
        middle.addWidget(self.households, 1)

        # Right: the answers.
        right = QVBoxLayout()
        address = QGroupBox("新住所・転出先", objectName="addressBox")
        al = QFormLayout(address)
        self.new_address = AddressField(self.session.towns)
        self.katagaki = QLineEdit(objectName="newKatagaki")
        self.postal = QLabel("", objectName="postalCode")
        self.destination_head = QLineEdit(objectName="destinationHead")
        self.address_label = QLabel("住所(&N)")
        self.address_label.setBuddy(self.new_address)
        al.addRow(self.address_label, self.new_address)
        al.addRow("方書", self.katagaki)
        al.addRow("郵便番号", self.postal)
        self.destination_head_label = QLabel("転出先の世帯主")
        al.addRow(self.destination_head_label, self.destination_head)
        right.addWidget(address)

        filer = QGroupBox("届出人(&F)", objectName="filerBox")
        fl = QFormLayout(filer)
        self.filer_kind = QComboBox(objectName="filerKind")
        for k in FilerKind:
            self.filer_kind.addItem(FILER_LABELS[k], k)
        self.filer_person = QComboBox(objectName="filerPerson")
        self.filer_name = QLineEdit(objectName="filerName")
        self.filer_phone = QLineEdit(objectName="filerPhone")
        self.attorney = QCheckBox("委任状・資格を確認", objectName="attorney")
        fl.addRow("区分", self.filer_kind)
        fl.addRow("届出人", self.filer_person)
        fl.addRow("氏名", self.filer_name)
        fl.addRow("電話", self.filer_phone)
        fl.addRow("", self.attorney)
        right.addWidget(filer)

        docs = QGroupBox("本人確認書類(&I)", objectName="documentsBox")
        dl = QGridLayout(docs)
        self.documents: dict[IdentityDocument, QCheckBox] = {}
        for i, doc in enumerate(FORM_DOCUMENTS):
            box = QCheckBox(IDENTITY_LABELS[doc], objectName=f"doc_{doc.value}")
            self.documents[doc] = box
            dl.addWidget(box, i // 3, i % 3)
        right.addWidget(docs)
        note_row = QHBoxLayout()
        note_label = QLabel("備考(&B)")
        self.note = QLineEdit(objectName="note")
        note_label.setBuddy(self.note)
        note_row.addWidget(note_label)
        note_row.addWidget(self.note)
        right.addLayout(note_row)
        right.addWidget(QLabel("確認の結果(注意は内容を確認して印を付けます)"))
        self.findings = FindingsList()
        right.addWidget(self.findings, 1)

        columns = QHBoxLayout()
        left_w, middle_w, right_w = QWidget(), QWidget(), QWidget()
        left_w.setLayout(left)
        middle_w.setLayout(middle)
        right_w.setLayout(right)
        left_w.setFixedWidth(350)
        right_w.setMinimumWidth(400)
        columns.addWidget(left_w)
        columns.addWidget(middle_w, 1)
        columns.addWidget(right_w)
        body = QWidget()
        body.setLayout(columns)
        scroll = QScrollArea(objectName="notificationScroll")
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)

        # The action bar, always visible below the form.
        actions = QHBoxLayout()
        self.message = QLabel("", objectName="notificationMessage")
        self.message.setWordWrap(True)
        self.print_button = QPushButton("届書を印刷 (F5)", objectName="printForm")
        self.signature = QCheckBox("署名を確認(&G)", objectName="signatureConfirmed")
        self.documents_checked = QCheckBox(
            "本人確認書類を確認(&R)", objectName="documentsConfirmed"
        )
        self.file_button = QPushButton("届出する (F9)", objectName="fileNotification")
        actions.addWidget(self.message, 1)
        for w in (self.print_button, self.signature, self.documents_checked, self.file_button):
            actions.addWidget(w)
        self.action_bar = QWidget(objectName="notificationActions")
        self.action_bar.setLayout(actions)

        root = QVBoxLayout(self)
        root.addLayout(top)
        root.addWidget(scroll, 1)
        root.addWidget(self.action_bar)

        # Signals: every edit of the draft re-checks (debounced) and voids a printed 届書.
        self.procedure.currentIndexChanged.connect(self._procedure_changed)
        for edit in (self.moved_on, self.katagaki, self.filer_name, self.filer_phone, self.note):
            edit.textChanged.connect(self._edited)
        self.destination_head.textChanged.connect(self._edited)
        self.new_address.textChanged.connect(self._address_changed)
        self.filer_kind.currentIndexChanged.connect(self._edited)
        self.filer_person.currentIndexChanged.connect(self._filer_person_changed)
        self.attorney.toggled.connect(self._edited)
        for box in self.documents.values():
            box.toggled.connect(self._edited)
        self.movers.changed.connect(self._movers_changed)
        self.households.changed.connect(self._edited)
        self.paper.changed.connect(self._paper_changed)
        self.findings.changed.connect(self._update_actions)
        self.signature.toggled.connect(self._update_actions)
        self.documents_checked.toggled.connect(self._update_actions)
        self.search_button.clicked.connect(self.search)
        self.search_name.returnPressed.connect(self.search)
        self.search_birth.returnPressed.connect(self.search)
        self.hits_list.itemActivated.connect(lambda _i: self.choose(as_target=False))
        self.choose_source.clicked.connect(lambda: self.choose(as_target=False))
        self.choose_target.clicked.connect(lambda: self.choose(as_target=True))
        self.card_button.clicked.connect(self.read_card)
        self.print_button.clicked.connect(self.print_form)
        self.file_button.clicked.connect(self.file)
        self.new_button.clicked.connect(self.new_notification)
        self.status_button.clicked.connect(self.show_filed)
        QShortcut(QKeySequence("F5"), self, activated=self.print_form)
        QShortcut(QKeySequence("F9"), self, activated=self.file)
        QShortcut(QKeySequence("Ctrl+N"), self, activated=self.new_notification)

    # -- state -----------------------------------------------------------------------------

    def current_procedure(self) -> Procedure:
        return Procedure(self.procedure.currentData())

    def new_notification(self) -> None:
        """A blank 届出: today, no household, nothing printed."""
        self.notification_id = self.session.new_notification_id()
        self.source = self.target = None
        self.certificate = None
        self.card_presented = False
        self.prepared = None
        for w in (self.new_address, self.katagaki, self.destination_head, self.note):
            w.clear()
        for w in (self.filer_name, self.filer_phone, self.moved_on):
            w.clear()
        for box in self.documents.values():
            box.setChecked(False)
        self.attorney.setChecked(False)
        self.signature.setChecked(False)
        self.documents_checked.setChecked(False)
        self.paper.persons.clear()
        self.findings.forget()
        self.filed_on.setText(wareki.format_date(self.session.today()))
        self.movers.show_movers([], checked=False)
        self._procedure_changed()
        self.message.setText("手続を選び、世帯を検索するかカードを読み取ってください。")
        self.procedure.setFocus()

    def _procedure_changed(self, *_args: object) -> None:
        p = self.current_procedure()
        moves_address = p not in HOUSEHOLD_CHANGE
        self.paper.setVisible(p == Procedure.MOVE_IN)
        for w in (self.new_address, self.katagaki, self.postal, self.address_label):
            w.setEnabled(moves_address)
        out = p in MOVE_OUT
        self.address_label.setText("転出先(&N)" if out else "新住所(&N)")
        self.destination_head.setVisible(out)
        self.destination_head_label.setVisible(out)
        self.choose_source.setEnabled(p not in MOVE_IN)
        self.card_button.setText(
            "カードを読み取り、住基ネットから転出証明書情報(&C)"
            if p == Procedure.SPECIAL_MOVE_IN
            else "カードで読み取り(&C)"
        )
        if p in MOVE_IN:
            self.source = None
        self._refresh_movers()

    def _set_source(self, household: Household) -> None:
        self.source = household
        self._refresh_movers()
        self._refresh_filers()
        self.message.setText(
            "世帯を読み込みました。異動する方、異動日、新しい住所などを入力してください。"
        )

    def _refresh_movers(self) -> None:
        p = self.current_procedure()
        today = self.session.today()
        if p in MOVE_IN:
            c = self.certificate if p == Procedure.SPECIAL_MOVE_IN else self.paper.certificate()
            movers = movers_from_certificate(c, special=p == Procedure.SPECIAL_MOVE_IN) if c else ()
            self.movers.show_movers(movers, checked=True)
            self.source_label.setText(self._source_text())
            self._refresh_filers()
            return
        h = self.source
        if h is None:
            self.movers.show_movers([], checked=False)
            self.source_label.setText(self._source_text())
            return
        ids = [m.person_id for m in h.members if m.status == "resident"]
        protected = {m.person_id for m in h.members if m.is_protected_on(today)}
        whole = p in (Procedure.MOVE_WITHIN, Procedure.MOVE_OUT, Procedure.SPECIAL_MOVE_OUT)
        self.movers.show_movers(
            movers_of(h, ids), checked=whole or p == Procedure.MERGER, protected=protected
        )
        self.source_label.setText(self._source_text())

    def _source_text(self) -> str:
        parts = []
        if self.source is not None:
            h = self.source
            parts.append(f"異動する世帯: {h.address}{'　' + h.katagaki if h.katagaki else ''}")
        if self.target is not None:
            parts.append(f"相手の世帯: {self.target.address}（世帯主 {self.target.head.name}）")
        if self.certificate is not None:
            parts.append(f"転出証明書情報: {self.certificate.issuing_municipality}")
        return "\n".join(parts) or "世帯: 未選択"

    def _refresh_filers(self) -> None:
        self.filer_person.blockSignals(True)
        self.filer_person.clear()
        self.filer_person.addItem("(その他の方: 氏名を入力)", None)
        if self.source is not None:
            for p in self.source.members:
                if p.status == "resident":
                    self.filer_person.addItem(f"{p.name}（{p.relationship}）", p.person_id)
        for m in self.movers.movers:
            if m.is_new:
                self.filer_person.addItem(f"{m.name}（転入者）", m.key)
        self.filer_person.blockSignals(False)
        if self.filer_person.count() > 1:
            self.filer_person.setCurrentIndex(1)
            self._filer_person_changed()

    def _filer_person_changed(self, *_args: object) -> None:
        key = self.filer_person.currentData()
        if key is not None:
            name = next((m.name for m in self.movers.movers if m.key == key), None)
            if name is None and self.source is not None:
                name = next((p.name for p in self.source.members if p.person_id == key), "")
            self.filer_name.setText(name or "")
        self._edited()

    def _movers_changed(self) -> None:
        self._replan()
        self._edited()

    def _paper_changed(self) -> None:
        if self.current_procedure() == Procedure.MOVE_IN:
            self._refresh_movers()
        self._edited()

    def _address_changed(self, text: str) -> None:
        match = self.session.towns().match(text) if text.strip() else None
        town = match.town if match is not None else None
        self.postal.setText(town.postal_code if town is not None else "")
        self._edited()

    def _replan(self) -> None:
        p = self.current_procedure()
        chosen = self.movers.chosen()
        keys = tuple(m.key for m in chosen)
        roles = roles_of(chosen) if p in MOVE_IN else ()
        plans = propose_households(p, self.source, keys, target=self.target, new_roles=roles)
        if p == Procedure.HEAD_CHANGE and self.source is not None:
            plans = propose_households(p, self.source, (), target=None)
        names = {m.key: m.name for m in self.movers.movers}
        for h in (self.source, self.target):
            if h is not None:
                names.update({m.person_id: m.name for m in h.members})
        if p in MOVE_OUT:
            plans = tuple(pl for pl in plans if not pl.at_new_address)
        self.households.show_plans(plans, names)

    def _edited(self, *_args: object) -> None:
        if self.prepared is not None:
            self.prepared = None
            self.signature.setChecked(False)
            self.message.setText("内容が変わりました。届書を印刷し直してください。")
        self._timer.start()
        self._update_actions()

    # -- the draft -------------------------------------------------------------------------

    def _documents(self) -> tuple[IdentityDocument, ...]:
        return tuple(d for d, box in self.documents.items() if box.isChecked())

    def build_draft(self) -> NotificationDraft | None:
        """The draft as typed, or None while something it cannot do without is missing."""
        p = self.current_procedure()
        moved_on = self.moved_on.value()
        if moved_on is None:
            return None
        plans = self.households.current()
        relationships = {r.key: r.relationship for plan in plans for r in plan.roles}
        movers: list[Mover] = [
            replace(m, relationship=relationships.get(m.key, m.relationship))
            for m in self.movers.chosen()
        ]
        if p == Procedure.HEAD_CHANGE and self.source is not None:
            # The persons whose 続柄 changes are the ones the 届出 is about.
            before = {m.person_id: m.relationship for m in self.source.members}
            movers = [
                replace(m, relationship=relationships[m.key])
                for m in self.movers.movers
                if m.key in relationships and relationships[m.key] != before.get(m.key)
            ]
        if not movers or (p not in MOVE_IN and self.source is None):
            return None
        certificate = None
        if p == Procedure.SPECIAL_MOVE_IN:
            certificate = self.certificate
        elif p == Procedure.MOVE_IN:
            certificate = self.paper.certificate()
        old = address_of(self.source) if self.source is not None else None
        if certificate is not None:
            old = Address(text=certificate.address, katagaki=certificate.katagaki)
        new = None
        text = self.new_address.text().strip()
        if p not in HOUSEHOLD_CHANGE and text:
            postal = self.postal.text() or None
            new = Address(
                text=text, katagaki=self.katagaki.text().strip() or None, postal_code=postal
            )
        person_id = self.filer_person.currentData()
        if person_id is not None and str(person_id).startswith("new-"):
            person_id = None
        filer = Filer(
            kind=FilerKind(self.filer_kind.currentData()),
            name=self.filer_name.text().strip(),
            person_id=person_id,
            phone=self.filer_phone.text().strip() or None,
            power_of_attorney=self.attorney.isChecked(),
        )
        return NotificationDraft(
            notification_id=self.notification_id,
            procedure=p,
            municipality_code=self.session.towns().municipality_code,
            office=self.session.operator.branch or OFFICE_FALLBACK,
            filed_on=self.session.today(),
            moved_on=moved_on,
            filer=filer,
            movers=tuple(movers),
            households=plans,
            old_address=old,
            new_address=new,
            source_household_id=self.source.household_id if self.source is not None else None,
            identity_documents=self._documents(),
            move_out_certificate=certificate,
            card_presented=self.card_presented,
            destination_head_name=self.destination_head.text().strip() or None,
            note=self.note.text().strip(),
        )

    def _field_widgets(self) -> dict[str, QWidget]:
        return {
            "moved_on": self.moved_on,
            "new_address": self.new_address,
            "movers": self.movers,
            "households": self.households,
            "filer": self.filer_name,
            "identity_documents": self.documents[IdentityDocument.DRIVERS_LICENSE].parentWidget(),
            "move_out_certificate": self.paper,
            "card_presented": self.card_button,
        }

    def run_check(self) -> None:
        """Checks in the background; an answer for an older draft is dropped."""
        draft = self.build_draft()
        self._generation += 1
        generation = self._generation
        if draft is None:
            self.findings.show_findings(())
            self._update_actions()
            return

        def shown(findings: Any) -> None:
            if generation != self._generation:
                return
            self.findings.show_findings(findings)
            mark_fields(self._field_widgets(), findings)
            self._update_actions()

        run_in_background(
            self,
            lambda: self.session.check_notification(draft),
            shown,
            lambda e: self.message.setText(user_message(e)),
        )

    def _update_actions(self, *_args: object) -> None:
        ready = self.build_draft() is not None and not self.findings.errors
        self.print_button.setEnabled(ready and self._print is not None)
        self.file_button.setEnabled(
            ready
            and self.prepared is not None
            and self.signature.isChecked()
            and self.documents_checked.isChecked()
            and not self.findings.open_warnings
        )

    # -- register and card -----------------------------------------------------------------

    def search(self) -> None:
        name, birth = self.search_name.text(), self.search_birth.text()

        def shown(page: Any) -> None:
            self._hits = list(page.hits)
            self.hits_list.clear()
            for hit in self._hits:
                state = "（除票）" if hit.status != "resident" else ""
                mark = "【支援措置】" if hit.protected else ""
                text = (
                    f"{mark}{hit.name}　{wareki.format_date(hit.birth_date)}　{hit.address}{state}"
                )
                self.hits_list.addItem(QListWidgetItem(text))
            if self._hits:
                self.hits_list.setCurrentRow(0)
                self.hits_list.setFocus()
            self.message.setText(
                f"{len(self._hits)}件見つかりました。" if self._hits else "該当なし"
            )

        run_in_background(
            self,
            lambda: self.session.search(name=name, birth=birth, include_removed=False),
            shown,
            lambda e: self.message.setText(user_message(e)),
        )

    def choose(self, *, as_target: bool) -> None:
        row = self.hits_list.currentRow()
        if not 0 <= row < len(self._hits):
            self.message.setText("検索結果から世帯を選んでください。")
            return
        household_id = self._hits[row].household_id

        def opened(h: Household) -> None:
            if as_target:
                self.target = h
                self.source_label.setText(self._source_text())
                self._replan()
                self._edited()
            else:
                self._set_source(h)

        run_in_background(
            self,
            lambda: self.session.open_household(household_id),
            opened,
            lambda e: self.message.setText(user_message(e)),
        )

    def read_card(self) -> None:
        if self._read_card is None:
            self.message.setText("カードリーダーが設定されていません。")
            return
        work = self._read_card(self)
        if work is None:
            return
        self.message.setText("カードを読み取っています…")
        run_in_background(
            self, work, self._card_read, lambda e: self.message.setText(user_message(e))
        )

    def _card_read(self, read: CardRead) -> None:
        p = self.current_procedure()
        self.documents[IdentityDocument.MY_NUMBER_CARD].setChecked(True)
        if p == Procedure.SPECIAL_MOVE_IN:
            self.message.setText("住基ネットから転出証明書情報を受け取っています…")
            run_in_background(
                self,
                lambda: self.session.move_in_certificate_from_card(read.face),
                self._certificate_received,
                lambda e: self.message.setText(user_message(e)),
            )
            return
        if read.household is None:
            self.message.setText("カードの方は住民票に見つかりません。4情報で検索してください。")
            return
        self.card_presented = p == Procedure.SPECIAL_MOVE_OUT
        self._set_source(read.household)
        if read.person is not None:
            index = self.filer_person.findData(read.person.person_id)
            if index >= 0:
                self.filer_person.setCurrentIndex(index)
            self.filer_kind.setCurrentIndex(self.filer_kind.findData(FilerKind.SELF))
        self.message.setText("カードの方の世帯を読み込みました。")

    def _certificate_received(self, certificate: MoveOutCertificate) -> None:
        self.certificate = certificate
        self.card_presented = True
        self.moved_on.set_value(certificate.planned_on)
        self.new_address.setText(certificate.destination)
        self._refresh_movers()
        self.filer_kind.setCurrentIndex(self.filer_kind.findData(FilerKind.SELF))
        self.message.setText(
            f"転出証明書情報を受け取りました（{certificate.issuing_municipality}、"
            f"{len(certificate.persons)}人）。転入する方と異動日を確認してください。"
        )

    # -- print and file --------------------------------------------------------------------

    def print_form(self) -> None:
        draft = self.build_draft()
        if draft is None or self.findings.errors or self._print is None:
            self.message.setText("エラーを直してから届書を印刷してください。")
            return
        self.message.setText("届書を作成しています…")
        run_in_background(
            self,
            lambda: self.session.prepare_notification_form(draft),
            self._preview_and_print,
            lambda e: self.message.setText(user_message(e)),
        )

    def _preview_and_print(self, prepared: Any) -> None:
        if not self._confirm_print(prepared.pdf, "住民異動届"):
            self.message.setText("届書は印刷されていません。")
            return
        print_form, session = self._print, self.session
        assert print_form is not None
        self.message.setText("届書を印刷しています…")

        def work() -> None:
            # The print and its audit entry, off the GUI thread (the printer may take seconds).
            pages = print_form(prepared.pdf, 1)
            session.record_notification_print(prepared, pages)

        def printed(_r: object) -> None:
            self.prepared = prepared
            self.message.setText(
                "届書を印刷しました。内容をご本人に確認していただき、署名を受けてください。"
            )
            self.signature.setFocus()
            self._update_actions()

        # The printer's message (it names the printer) is for the clerk.
        run_in_background(self, work, printed, lambda e: self.message.setText(user_message(e)))

    def _confirm_print(self, pdf: bytes, title: str) -> bool:
        return self._confirm(pdf, title)

    def _preview_dialog(self, pdf: bytes, title: str) -> bool:
        """The preview with 「印刷」; True when the clerk prints."""
        from ui.pdf_preview import PdfPreview

        dialog = QDialog(self)
        dialog.setWindowTitle(f"{title}の確認")
        layout = QVBoxLayout(dialog)
        preview = PdfPreview(dialog)
        preview.show_pdf(pdf)
        layout.addWidget(preview, 1)
        buttons = QDialogButtonBox()
        go = buttons.addButton("印刷", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton("閉じる", QDialogButtonBox.ButtonRole.RejectRole)
        go.setDefault(True)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.resize(720, 680)
        return bool(dialog.exec())

    def file(self) -> None:
        if not self.file_button.isEnabled() or self.prepared is None:
            self.message.setText(
                "届書を印刷し、署名と本人確認書類を確認し、注意に印を付けてから届け出てください。"
            )
            return
        prepared = self.prepared
        acknowledged = self.findings.acknowledged()
        self.file_button.setEnabled(False)
        self.message.setText("届け出ています…")
        run_in_background(
            self,
            lambda: self.session.file_notification(
                prepared,
                acknowledged=acknowledged,
                signature_confirmed=self.signature.isChecked(),
                documents_confirmed=self.documents_checked.isChecked(),
            ),
            self._filed,
            self._file_failed,
        )

    def _file_failed(self, exc: BaseException) -> None:
        self.message.setText(user_message(exc))
        self._update_actions()

    def _filed(self, filed: Any) -> None:
        nid = filed.notification.notification_id
        text = f"届け出ました（届出ID {nid}）。本庁の審査の結果はこの端末に届きます。"
        if filed.certificate_pdf is not None:
            text += self._print_certificate(filed)
        self.filed.emit(nid)
        self.new_notification()
        self.message.setText(text)

    def _print_certificate(self, filed: Any) -> str:
        """The 転出証明書 issued with a 転出届: preview, print, audited."""
        if self._print is None or not self._confirm_print(filed.certificate_pdf, "転出証明書"):
            return f" 転出証明書 {filed.certificate_no} は印刷されていません(この端末の届出から)。"
        try:
            pages = self._print(filed.certificate_pdf, 1)
        except Exception as exc:  # the printer's message is for the clerk
            return f" 転出証明書を印刷できませんでした: {user_message(exc)}"
        run_in_background(self, lambda: self.session.record_certificate_print(filed, pages))
        return f" 転出証明書 {filed.certificate_no} を印刷しました。"

    def show_filed(self) -> None:
        run_in_background(
            self,
            self.session.notifications_filed,
            lambda items: FiledListDialog(items, self).exec(),
            lambda e: self.message.setText(user_message(e)),
        )


__all__ = ["CardRead", "NotificationTab", "decision_text", "show_decisions"]
