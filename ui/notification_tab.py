"""「異動届」: the 書かない窓口 screen. The clerk chooses the procedure, takes the household from
the register (search) or the resident's card, types the answers, sees the checks of 住基法
§22–§27 per field as they type (in the background), prints the 届書 for the signature, ticks
「署名を確認」「本人確認書類を確認」 and files. A 転出 then prints its 転出証明書.

Keyboard-first: every field and button is reachable with Tab and has an Alt-key; F5 prints the
届書, F9 files, Ctrl+N starts a new 届出. The action bar stays below the scrolling form, so it
fits 1366x768. This module lays the pieces out and keeps the state of one 届出; the pieces are
ui/notification_register_box.py (search, card), ui/notification_parts.py (movers, households,
findings), ui/notification_paper.py (the paper 転出証明書), ui/notification_answers.py (address,
届出人, documents) and ui/notification_filing.py (print and file). What a procedure starts from
and how the answers make a draft is app.domain.notifications.interview; the session decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.domain import wareki
from app.domain.cards import CardFaceInfo
from app.domain.certificates import IdentityDocument
from app.domain.notifications import (
    PROCEDURE_LABELS,
    FilerKind,
    Finding,
    MoveOutCertificate,
    NotificationDraft,
    Procedure,
)
from app.domain.notifications.interview import (
    Answers,
    assemble_draft,
    filer_candidates,
    filer_name,
    mover_choice,
    plans_for,
)
from app.domain.notifications.model import MOVE_IN
from app.domain.records import Household, Person
from app.services.session_api import CounterSessionApi
from ui.background import run_in_background, user_message
from ui.notification_answers import AddressBox, DocumentsBox, FilerBox
from ui.notification_filing import ConfirmPrint, FilingBar, PrintDocument
from ui.notification_paper import PaperCertificateBox
from ui.notification_parts import DateField, FindingsList, HouseholdsTable, MoversTable, mark_fields
from ui.notification_register_box import RegisterBox
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


class NotificationTab(QWidget):
    """「異動届」. Emits `filed(notification_id)` after a filing (the window syncs then)."""

    filed = Signal(str)

    def __init__(
        self,
        session: CounterSessionApi,
        *,
        print_document: PrintDocument | None = None,
        read_card: CardReader | None = None,
        confirm_print: ConfirmPrint | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """`confirm_print(pdf, title)`: the preview before printing (a dialog by default)."""
        super().__init__(parent, objectName="notificationTab")
        self.session = session
        self._read_card = read_card
        self.source: Household | None = None
        self.target: Household | None = None
        self.certificate: MoveOutCertificate | None = None  # 特例転入 (住基ネット)
        self.card_presented = False
        self.notification_id = session.new_notification_id()
        self._generation = 0
        self._timer = QTimer(self, singleShot=True, interval=CHECK_DELAY_MS)
        self._timer.timeout.connect(self.run_check)
        self._build(print_document, confirm_print)
        self.new_notification()

    # -- layout ----------------------------------------------------------------------------

    def _build(self, print_document: PrintDocument | None, confirm: ConfirmPrint | None) -> None:
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
        self.register = RegisterBox(self.session)
        left.addWidget(self.register)
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
        self.address = AddressBox(self.session.towns)
        self.filer = FilerBox()
        self.documents_box = DocumentsBox()
        for box in (self.address, self.filer, self.documents_box):
            right.addWidget(box)
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
        self.action_bar = FilingBar(
            self.session,
            self.build_draft,
            self.findings,
            print_document=print_document,
            confirm_print=confirm,
        )
        root = QVBoxLayout(self)
        root.addLayout(top)
        root.addWidget(scroll, 1)
        root.addWidget(self.action_bar)
        self._aliases()

        # Signals: every edit of the draft re-checks (debounced) and voids a printed 届書.
        self.procedure.currentIndexChanged.connect(self._procedure_changed)
        self.moved_on.textChanged.connect(self._edited)
        self.note.textChanged.connect(self._edited)
        for box in (self.address, self.filer, self.documents_box, self.households):
            box.changed.connect(self._edited)
        self.filer.person.currentIndexChanged.connect(self._filer_person_changed)
        self.movers.changed.connect(self._movers_changed)
        self.paper.changed.connect(self._paper_changed)
        self.findings.changed.connect(self.action_bar.update_actions)
        self.register.opened.connect(self._household_opened)
        self.register.card_requested.connect(self.read_card)
        self.register.message.connect(self.message.setText)
        self.action_bar.filed.connect(self._filed)
        self.new_button.clicked.connect(self.new_notification)
        self.status_button.clicked.connect(self.show_filed)
        QShortcut(QKeySequence("F5"), self, activated=self.print_form)
        QShortcut(QKeySequence("F9"), self, activated=self.file)
        QShortcut(QKeySequence("Ctrl+N"), self, activated=self.new_notification)

    def _aliases(self) -> None:
        """The pieces' widgets by the names the tests and the window use."""
        r, a, f, bar = self.register, self.address, self.filer, self.action_bar
        self.search_name, self.search_birth, self.hits_list = (
            r.search_name,
            r.search_birth,
            r.hits_list,
        )
        self.choose_source, self.choose_target = r.choose_source, r.choose_target
        self.card_button, self.source_label = r.card_button, r.source_label
        self.new_address, self.katagaki, self.postal = a.new_address, a.katagaki, a.postal
        self.destination_head = a.destination_head
        self.filer_kind, self.filer_person, self.filer_name = f.kind, f.person, f.name
        self.filer_phone, self.attorney = f.phone, f.attorney
        self.documents = self.documents_box.boxes
        self.message, self.print_button, self.file_button = (
            bar.message,
            bar.print_button,
            bar.file_button,
        )
        self.signature, self.documents_checked = bar.signature, bar.documents_checked

    @property
    def prepared(self) -> object:
        """The 届書 printed for the current draft (None until printed, or after an edit)."""
        return self.action_bar.prepared

    # -- state -----------------------------------------------------------------------------

    def current_procedure(self) -> Procedure:
        return Procedure(self.procedure.currentData())

    def new_notification(self) -> None:
        """A blank 届出: today, no household, nothing printed."""
        self.notification_id = self.session.new_notification_id()
        self.source = self.target = None
        self.certificate = None
        self.card_presented = False
        self.action_bar.reset()
        self.address.clear()
        self.filer.clear()
        self.documents_box.clear()
        self.note.clear()
        self.moved_on.clear()
        self.paper.persons.clear()
        self.findings.forget()
        self.filed_on.setText(wareki.format_date(self.session.today()))
        self.movers.show_movers([], checked=False)
        self._procedure_changed()
        self.message.setText("手続を選び、世帯を検索するかカードを読み取ってください。")
        self.procedure.setFocus()

    def _procedure_changed(self, *_args: object) -> None:
        p = self.current_procedure()
        self.paper.setVisible(p == Procedure.MOVE_IN)
        self.address.set_procedure(p)
        self.choose_source.setEnabled(p not in MOVE_IN)
        self.card_button.setText(
            "カードを読み取り、住基ネットから転出証明書情報(&C)"
            if p == Procedure.SPECIAL_MOVE_IN
            else "カードで読み取り(&C)"
        )
        if p in MOVE_IN:
            self.source = None
        self._refresh_movers()

    def _household_opened(self, h: Household, as_target: bool) -> None:
        if as_target:
            self.target = h
            self.source_label.setText(self._source_text())
            self._replan()
            self._edited()
        else:
            self._set_source(h)

    def _set_source(self, household: Household) -> None:
        self.source = household
        self._refresh_movers()
        self._refresh_filers()
        self.message.setText(
            "世帯を読み込みました。異動する方、異動日、新しい住所などを入力してください。"
        )

    def _certificate_now(self) -> MoveOutCertificate | None:
        if self.current_procedure() == Procedure.SPECIAL_MOVE_IN:
            return self.certificate
        return self.paper.certificate()

    def _refresh_movers(self) -> None:
        p = self.current_procedure()
        choice = mover_choice(p, self.source, self._certificate_now(), self.session.today())
        self.movers.show_movers(choice.movers, checked=choice.checked, protected=choice.protected)
        self.source_label.setText(self._source_text())
        if p in MOVE_IN:
            self._refresh_filers()

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
        self.filer.set_candidates(filer_candidates(self.source, self.movers.movers))
        if self.filer_person.count() > 1:
            self.filer_person.setCurrentIndex(1)
            self._filer_person_changed()

    def _filer_person_changed(self, *_args: object) -> None:
        key = self.filer_person.currentData()
        if key is not None:
            self.filer_name.setText(filer_name(key, self.source, self.movers.movers))
        self._edited()

    def _movers_changed(self) -> None:
        self._replan()
        self._edited()

    def _paper_changed(self) -> None:
        if self.current_procedure() == Procedure.MOVE_IN:
            self._refresh_movers()
        self._edited()

    def _replan(self) -> None:
        p = self.current_procedure()
        plans = plans_for(p, self.source, self.movers.chosen(), self.target)
        names = {m.key: m.name for m in self.movers.movers}
        for h in (self.source, self.target):
            if h is not None:
                names.update({m.person_id: m.name for m in h.members})
        self.households.show_plans(plans, names)

    def _edited(self, *_args: object) -> None:
        self.action_bar.void_print()
        self._timer.start()
        self.action_bar.update_actions()

    # -- the draft and its checks ----------------------------------------------------------

    def build_draft(self) -> NotificationDraft | None:
        """The draft as typed, or None while something it cannot do without is missing."""
        p = self.current_procedure()
        moved_on = self.moved_on.value()
        if moved_on is None:
            return None  # before the session is asked (the timer may fire after a logout)
        return assemble_draft(
            Answers(
                notification_id=self.notification_id,
                procedure=p,
                municipality_code=self.session.towns().municipality_code,
                office=self.session.operator.branch or OFFICE_FALLBACK,
                filed_on=self.session.today(),
                moved_on=moved_on,
                listed=tuple(self.movers.movers),
                chosen=tuple(self.movers.chosen()),
                plans=self.households.current(),
                filer=self.filer.filer(),
                source=self.source,
                certificate=self._certificate_now() if p in MOVE_IN else None,
                new_address=self.new_address.text(),
                katagaki=self.katagaki.text(),
                postal_code=self.postal.text(),
                identity_documents=self.documents_box.documents(),
                card_presented=self.card_presented,
                destination_head_name=self.destination_head.text(),
                note=self.note.text(),
            )
        )

    def _field_widgets(self) -> dict[str, QWidget]:
        return {
            "moved_on": self.moved_on,
            "new_address": self.new_address,
            "movers": self.movers,
            "households": self.households,
            "filer": self.filer_name,
            "identity_documents": self.documents_box,
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
            self.action_bar.update_actions()
            return

        def shown(findings: tuple[Finding, ...]) -> None:
            if generation != self._generation:
                return
            self.findings.show_findings(findings)
            mark_fields(self._field_widgets(), findings)
            self.action_bar.update_actions()

        run_in_background(
            self,
            lambda: self.session.check_notification(draft),
            shown,
            lambda e: self.message.setText(user_message(e)),
        )

    # -- the card --------------------------------------------------------------------------

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
            self.filer.choose_person(read.person.person_id)
            self.filer.set_kind(FilerKind.SELF)
        self.message.setText("カードの方の世帯を読み込みました。")

    def _certificate_received(self, certificate: MoveOutCertificate) -> None:
        self.certificate = certificate
        self.card_presented = True
        self.moved_on.set_value(certificate.planned_on)
        self.new_address.setText(certificate.destination)
        self._refresh_movers()
        self.filer.set_kind(FilerKind.SELF)
        self.message.setText(
            f"転出証明書情報を受け取りました（{certificate.issuing_municipality}、"
            f"{len(certificate.persons)}人）。転入する方と異動日を確認してください。"
        )

    # -- print and file (ui/notification_filing.py) -----------------------------------------

    def print_form(self) -> None:
        self.action_bar.print_form()

    def file(self) -> None:
        self.action_bar.file()

    def _filed(self, notification_id: str, text: str) -> None:
        self.filed.emit(notification_id)
        self.new_notification()
        self.message.setText(text)

    def show_filed(self) -> None:
        run_in_background(
            self,
            self.session.notifications_filed,
            lambda items: FiledListDialog(items, self).exec(),
            lambda e: self.message.setText(user_message(e)),
        )


__all__ = ["CardRead", "NotificationTab", "decision_text", "show_decisions"]
