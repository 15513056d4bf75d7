"""住民票の写しの交付: the request form, the decision shown as it changes, preview, issue, print.

The legal decision is app.domain.certificates.decide (through the session); this dialog only
shows it. The requester is a person (ui/requester_panel.py); the items show what always prints
and what is a choice (ui/items_panel.py). A copy the rules send by mail is issued as mailed and
never handed over here. Deciding, approval, issuance, rendering and printing all run in the
background; the decision is asked for once the clerk pauses (DECIDE_DELAY_MS), not on every
keystroke (it reads the cache, which a sync may hold).

Layout for a 1366x768 screen (and 1920x1080 at 150 %): the request form scrolls; the decision
(fixed height, scrolls inside) and the action buttons sit below it and never move, so a longer
判定 never pushes a checkbox away from under the pointer. Keys: F3 交付, F4 印刷, F5 見本,
F12/Esc 閉じる (shown under the buttons).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.domain.certificates import (
    FORM_LABELS,
    IDENTITY_LABELS,
    CertificateContext,
    CertificateRequest,
    Decision,
    Delivery,
    FormKind,
    IdentityDocument,
)
from app.domain.records import Household
from app.services.session_api import CounterSessionApi
from ui.background import run_in_background, user_message
from ui.fkeys import bind_fkey
from ui.household_view import protected_members
from ui.items_panel import ItemsPanel
from ui.pdf_preview import PdfPreview
from ui.printer_choice import PrinterChoice
from ui.requester_panel import CardReader, RequesterPanel
from ui.screen import fit_to_screen

DECIDE_DELAY_MS = 150
DECISION_LINES = 6
PREFERRED_SIZE = QSize(1180, 760)
PROTECTED_BANNER = (
    "⚠ 支援措置の対象者に関わる請求です。交付には監督者の承認が必要です。"
    "住所・請求者を来庁者に見せないでください。登録された加害者からの請求には応じられません。"
)
KEY_HINT = "F3 交付 ・ F4 印刷 ・ F5 見本 ・ F6 印刷し直し ・ F12 または Esc 閉じる"
# (pdf, copies, 交付番号, printer or None for the default) -> pages printed; runs in a worker.
PrintFn = Callable[[bytes, int, str, str | None], int]


class IssuanceDialog(QDialog):
    """One request for one household. `approve_dialog(situation, request, household) ->
    Approval | None` opens the supervisor approval for this request (injected so tests can
    drive it)."""

    decided = Signal(object)  # the Decision now shown (or None after an error)
    printed = Signal(int)  # pages

    def __init__(
        self,
        session: CounterSessionApi,
        household: Household,
        *,
        approve_dialog: Callable[[str, Any, Household], Any],
        print_pdf: PrintFn | None = None,
        read_card: CardReader | None = None,
        printer: str = "",
        decide_delay_ms: int = DECIDE_DELAY_MS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("issuanceDialog")
        self.setWindowTitle("住民票の写しの交付")
        self.session = session
        self.household = household
        self._approve_dialog = approve_dialog
        self._print_pdf = print_pdf
        self.decision: Decision | None = None
        self.issued: Any = None
        self._issued_request: Any = None  # the request the issuance was made for
        # The 支援措置 of the register and this municipality, read once in the background.
        self.context: CertificateContext | None = None
        self._generation = 0  # bumped by every input; older decisions are dropped
        self._pending = False
        self.protected = bool(protected_members(household, session.today()))

        # --- requester (a person; ui/requester_panel.py) ------------------------------------
        self.requester_panel = RequesterPanel(session, household, read_card=read_card)
        requester_box = self.requester_panel

        # --- identity documents --------------------------------------------------------------
        id_box = QGroupBox("本人確認書類")
        grid = QGridLayout(id_box)
        self.id_checks: dict[IdentityDocument, QCheckBox] = {}
        for i, (doc, label) in enumerate(IDENTITY_LABELS.items()):
            cb = QCheckBox(label, objectName=f"id_{doc.value}")
            self.id_checks[doc] = cb
            grid.addWidget(cb, i // 2, i % 2)

        # --- scope and form ----------------------------------------------------------------------
        scope_box = QGroupBox("対象者と様式")
        sv = QVBoxLayout(scope_box)
        self.scope_all = QRadioButton("世帯全員(&A)", objectName="scopeAll")
        self.scope_some = QRadioButton("一部の人(&O)", objectName="scopeSome")
        self.scope_all.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.scope_all)
        group.addButton(self.scope_some)
        sv.addWidget(self.scope_all)
        sv.addWidget(self.scope_some)
        self.member_checks: dict[str, QCheckBox] = {}
        for m in household.members:
            label = m.name + ("(除票)" if m.is_removed else "")
            cb = QCheckBox(label, objectName=f"member_{m.person_id}")
            cb.setEnabled(False)
            self.member_checks[m.person_id] = cb
            sv.addWidget(cb)
        self.form_kind = QComboBox(objectName="formKind")
        for kind in (FormKind.HOUSEHOLD, FormKind.INDIVIDUAL):
            self.form_kind.addItem(FORM_LABELS[kind], kind)
        self.form_kind.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.form_kind.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.copies = QSpinBox(objectName="copies")
        self.copies.setRange(1, 20)
        self.copies.setSuffix(" 通")
        self.copies.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        form_label = QLabel("様式(&F)")
        form_label.setBuddy(self.form_kind)
        copies_label = QLabel("通数(&N)")
        copies_label.setBuddy(self.copies)
        row = QHBoxLayout()
        row.addWidget(form_label)
        row.addWidget(self.form_kind)
        row.addSpacing(12)
        row.addWidget(copies_label)
        row.addWidget(self.copies)
        row.addStretch(1)
        sv.addLayout(row)

        # --- items: what always prints, what is a choice (ui/items_panel.py) ---------------
        self.items_panel = ItemsPanel(household)
        items_box = self.items_panel

        # --- the form scrolls; the decision and the buttons below it stay put ----------------
        self.form = QWidget(objectName="issuanceForm")
        fv = QVBoxLayout(self.form)
        fv.setContentsMargins(0, 0, 0, 0)
        for box in (requester_box, id_box, scope_box, items_box):
            fv.addWidget(box)
        fv.addStretch(1)
        self.form_scroll = QScrollArea(objectName="issuanceFormScroll")
        self.form_scroll.setWidget(self.form)
        self.form_scroll.setWidgetResizable(True)
        self.form_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.form_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.form_scroll.setMinimumWidth(self.form.minimumSizeHint().width() + 24)

        self.decision_label = QLabel("", objectName="decisionLabel")
        self.decision_label.setWordWrap(True)
        self.decision_label.setTextFormat(Qt.TextFormat.PlainText)
        self.decision_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.decision_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.decision_scroll = QScrollArea(objectName="decisionArea")
        self.decision_scroll.setWidget(self.decision_label)
        self.decision_scroll.setWidgetResizable(True)
        self.decision_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lines = self.decision_label.fontMetrics().lineSpacing() * DECISION_LINES
        self.decision_scroll.setFixedHeight(lines + 16)
        decision_title = QLabel("判定(&D)")
        decision_title.setBuddy(self.decision_scroll)

        self.preview_button = QPushButton("見本を表示", objectName="previewButton")
        self.issue_button = QPushButton("交付する", objectName="confirmIssueButton")
        self.print_button = QPushButton("印刷", objectName="printButton")
        self.print_button.setEnabled(False)
        # 印刷し直し: a void + a new issuance with a supervisor (never a second copy of a 交付番号).
        self.reprint_button = QPushButton("印刷し直し…", objectName="reprintButton")
        self.reprint_button.setToolTip(
            "用紙詰まり・印刷不良のとき: 監督者の承認を受けて、この交付を取り消し、"
            "新しい交付番号で交付し直します。"
        )
        self.reprint_button.setEnabled(False)
        self.close_button = QPushButton("閉じる", objectName="closeButton")
        self.printer_choice = PrinterChoice(printer, self)
        printer_label = QLabel("プリンター(&L)")
        printer_label.setBuddy(self.printer_choice)
        for b in (
            self.preview_button,
            self.issue_button,
            self.print_button,
            self.reprint_button,
            self.close_button,
        ):
            b.setAutoDefault(False)  # Enter in a field never issues or prints
        self.preview_button.clicked.connect(self.preview)
        self.issue_button.clicked.connect(self.issue)
        self.print_button.clicked.connect(self.print_issued)
        self.reprint_button.clicked.connect(self.reprint)
        self.close_button.clicked.connect(self.reject)
        bind_fkey(self.issue_button, 3, self)
        bind_fkey(self.print_button, 4, self)
        bind_fkey(self.preview_button, 5, self)
        bind_fkey(self.reprint_button, 6, self)
        bind_fkey(self.close_button, 12, self)
        key_hint = QLabel(KEY_HINT, objectName="issuanceKeys")
        key_hint.setStyleSheet("color: #555;")

        printer_row = QHBoxLayout()
        printer_row.addWidget(printer_label)
        printer_row.addWidget(self.printer_choice, 1)
        actions = QHBoxLayout()
        actions.addWidget(self.preview_button)
        actions.addStretch(1)
        actions.addWidget(self.issue_button)
        actions.addWidget(self.print_button)
        actions.addWidget(self.reprint_button)
        actions.addWidget(self.close_button)

        fixed = QWidget(objectName="decisionBox")
        fixed.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        dv = QVBoxLayout(fixed)
        dv.setContentsMargins(0, 0, 0, 0)
        dv.addWidget(decision_title)
        dv.addWidget(self.decision_scroll)
        dv.addLayout(printer_row)
        dv.addLayout(actions)
        dv.addWidget(key_hint)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.form_scroll, 1)
        lv.addWidget(fixed)

        self.preview_widget = PdfPreview()
        self.preview_status = QLabel("見本はまだ表示されていません。", objectName="previewStatus")
        self.preview_status.setWordWrap(True)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.preview_status)
        rv.addWidget(self.preview_widget, 1)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        self.banner = QLabel(PROTECTED_BANNER, objectName="protectedBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(
            "background: #fff0f0; color: #a00000; padding: 6px; border: 1px solid #e0a0a0;"
            " font-weight: bold;"
        )
        self.banner.setVisible(self.protected)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        if self.protected:
            self._no_preview()

        # Inputs ask for a new decision once the clerk pauses; the last one wins.
        self.decide_timer = QTimer(self)
        self.decide_timer.setSingleShot(True)
        self.decide_timer.setInterval(decide_delay_ms)
        self.decide_timer.timeout.connect(self._decide_now)

        # Every input re-evaluates the decision at once (a pure function, given the context).
        self.requester_panel.changed.connect(self.update_decision)
        self.items_panel.changed.connect(self.update_decision)
        self.scope_all.toggled.connect(self._scope_changed)
        self.form_kind.currentIndexChanged.connect(self.update_decision)
        self.copies.valueChanged.connect(self.update_decision)
        for cb in (*self.id_checks.values(), *self.member_checks.values()):
            cb.toggled.connect(self.update_decision)
        fit_to_screen(self, PREFERRED_SIZE)
        self.requester_panel.kind.setFocus()
        self.update_decision()
        run_in_background(
            self,
            lambda: session.certificate_context(household),
            self._context_loaded,
            lambda exc: self._show_decision_text(user_message(exc), ok=False),
        )

    def _context_loaded(self, context: CertificateContext) -> None:
        self.context = context
        self.update_decision()

    def _no_preview(self) -> None:
        # Before the supervisor's approval no rendering shows a protected address.
        self.preview_button.setEnabled(False)
        self.preview_button.setToolTip("支援措置の対象者がいるため、見本は表示しません。")

    # --- the request ----------------------------------------------------------------------------

    def _scope_changed(self) -> None:
        some = self.scope_some.isChecked()
        for cb in self.member_checks.values():
            cb.setEnabled(some)
        self.update_decision()

    def request(self) -> CertificateRequest:
        person_ids = None
        if self.scope_some.isChecked():
            person_ids = tuple(pid for pid, cb in self.member_checks.items() if cb.isChecked())
        return CertificateRequest(
            requester=self.requester_panel.requester(),
            identity_documents=tuple(d for d, cb in self.id_checks.items() if cb.isChecked()),
            person_ids=person_ids,
            items=self.items_panel.items(),
            justified_items=self.items_panel.justified_items(),
            purpose=self.requester_panel.purpose(),
            form=FormKind(self.form_kind.currentData()),
            copies=self.copies.value(),
        )

    def _removed_scope(self) -> bool:
        if not self.scope_some.isChecked():
            return False
        chosen = [pid for pid, cb in self.member_checks.items() if cb.isChecked()]
        return bool(chosen) and all(self.household.member(pid).is_removed for pid in chosen)

    @property
    def deciding(self) -> bool:
        """True while the decision on screen is not yet the one for the current inputs."""
        return self._pending

    def update_decision(self) -> None:
        """An input changed: the decision shown is no longer current; ask again after a pause."""
        if self.issued is not None:
            return
        self.items_panel.set_rule(self.requester_panel.current_kind(), self._removed_scope())
        self._generation += 1
        self.decision = None
        self.issue_button.setEnabled(False)
        self.preview_button.setEnabled(False)
        if self.context is None:
            self._pending = True  # the decision follows the context
            self._show_decision_text("支援措置と請求者の照合を準備しています…", ok=False)
            return
        self._pending = True
        self.decide_timer.start()

    def _decide_now(self) -> None:
        generation = self._generation
        try:
            request = self.request()
        except Exception as exc:  # an entry the request model refuses (e.g. a date)
            self._decide_failed(generation, exc)
            return
        session, household, context = self.session, self.household, self.context
        run_in_background(
            self,
            lambda: session.decide(request, household, context),
            lambda decision: self._decided(generation, decision),
            lambda exc: self._decide_failed(generation, exc),
        )

    def _decide_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation or self.issued is not None:
            return
        self._pending = False
        self.decision = None
        self._show_decision_text(user_message(exc), ok=False)
        self.decided.emit(None)

    def _decided(self, generation: int, decision: Decision) -> None:
        if generation != self._generation or self.issued is not None:
            return  # an input changed meanwhile: a newer decision is on its way
        self._pending = False
        self.decision = decision
        lines: list[str] = []
        if decision.allowed:
            head = "交付できます"
            if decision.needs_supervisor:
                head += "(監督者の承認が必要)"
            if decision.deliver_by_mail:
                head += "(郵送のみ・窓口では渡せません)"
            count = decision.certificates * decision.copies
            lines.append(f"{head}: {count}通、手数料 {decision.fee_yen:,}円")
        else:
            lines.append("交付できません")
        lines.extend(decision.reasons)
        if decision.mail_to is not None:
            lines.append("送付先: " + " ".join(decision.mail_to.lines()))
        if decision.screen_text:
            lines.append("【職員向け】" + decision.screen_text)
        if decision.protected_person_ids and not self.protected:
            # 支援措置 by address (someone registered at the same address): the banner too.
            self.protected = True
            self.banner.show()
        self.issue_button.setText("郵送で交付する" if decision.deliver_by_mail else "交付する")
        self._show_decision_text("\n".join(lines), ok=decision.allowed)
        self.decided.emit(decision)

    def decision_text(self) -> str:
        return self.decision_label.text()

    def _show_decision_text(self, text: str, *, ok: bool) -> None:
        self.decision_label.setText(text)
        color = "#0b5d1e" if ok else "#b00020"
        self.decision_label.setStyleSheet(f"color: {color}; padding: 4px;")
        self.issue_button.setEnabled(ok)
        self.preview_button.setEnabled(ok and not self.protected)

    # --- preview, issue, print ---------------------------------------------------------------

    def preview(self) -> None:
        if self.protected or self.decision is None:
            return
        request, context = self.request(), self.context
        session, household = self.session, self.household
        self.preview_button.setEnabled(False)
        self.preview_status.setText("見本を作成しています…")

        def shown(pdf: bytes) -> None:
            pages = self.preview_widget.show_pdf(pdf)
            self.preview_status.setText(
                f"見本({pages}枚)。交付すると交付番号が入り、見本の表示は消えます。"
            )
            self.preview_button.setEnabled(self.decision is not None and self.decision.allowed)

        def failed(exc: BaseException) -> None:
            self.preview_status.setText(user_message(exc))
            self.preview_button.setEnabled(self.decision is not None)

        run_in_background(self, lambda: session.preview(request, household, context), shown, failed)

    def _busy(self, busy: bool) -> None:
        self.form.setEnabled(not busy)
        if busy:
            for b in (self.issue_button, self.preview_button):
                b.setEnabled(False)

    def issue(self) -> None:
        decision = self.decision
        if decision is None or not decision.allowed or self.issued is not None:
            return
        request, delivery, session = self.request(), decision.delivery, self.session
        self._busy(True)
        self.preview_status.setText("交付しています…")

        def approval_checked(why: str | None) -> None:
            approval = None
            if why is not None:
                approval = self._approve_dialog(why, request, self.household)
                if approval is None:
                    self._busy(False)
                    self._show_decision_text(self.decision_text(), ok=True)
                    self.preview_status.setText("承認されなかったため、交付していません。")
                    return
            household = self.household
            self._issued_request = request

            def work() -> Any:
                return session.issue(request, household, approval=approval, delivery=delivery)

            run_in_background(self, work, self._issued, self._issue_failed)

        run_in_background(
            self, lambda: session.approval_needed(decision), approval_checked, self._issue_failed
        )

    def _issued(self, issued: Any) -> None:
        self.issued = issued
        self.decide_timer.stop()
        pages = self.preview_widget.show_pdf(issued.pdf)
        no = issued.issuance.issuance_no
        self.preview_status.setText(
            f"交付しました。交付番号 {no}({pages}枚)、手数料 {issued.issuance.fee_yen:,}円"
        )
        if issued.issuance.mailed:
            self.decision_label.setText(
                f"交付番号 {no} を郵送として記録しました。窓口では渡さないでください。"
                "印刷した送付書（1枚目）と写しを窓付き封筒（長3）に入れて郵送してください。"
            )
            self.print_button.setText("印刷（郵送用）")
        else:
            self.decision_label.setText(f"交付番号 {no} を記録しました。印刷してください。")
        self.decision_label.setStyleSheet("color: #0b5d1e; padding: 4px;")
        self.print_button.setEnabled(self._print_pdf is not None)
        self.printer_choice.setEnabled(True)
        self.reprint_button.setEnabled(False)  # after a print (or a failed one)
        for w in (self.issue_button, self.preview_button):
            w.setEnabled(False)
        if self._print_pdf is not None:
            self.print_button.setFocus()

    def _issue_failed(self, exc: BaseException) -> None:
        self._busy(False)
        ok = self.decision is not None and self.decision.allowed
        self.issue_button.setEnabled(ok)
        self.preview_button.setEnabled(ok and not self.protected)
        self.preview_status.setText("交付できませんでした。")
        QMessageBox.warning(self, "交付できません", user_message(exc))

    def print_issued(self) -> None:
        print_pdf = self._print_pdf
        if self.issued is None or print_pdf is None:
            return
        issuance = self.issued.issuance
        pdf, copies, no = self.issued.pdf, issuance.copies, issuance.issuance_no
        printer = self.printer_choice.printer()
        self.print_button.setEnabled(False)
        self.printer_choice.setEnabled(False)
        where = f"「{printer}」" if printer else "既定のプリンター"
        self.preview_status.setText(f"{where}に印刷しています…")

        def done(pages: int) -> None:
            # Printed once. A second copy of the same 交付番号 is not printed from here: a
            # misprint is voided and issued anew (監督者).
            self.preview_status.setText(
                f"{where}に{pages}ページを印刷しました。用紙詰まりなどで印刷し直すときは"
                "「印刷し直し」(F6、監督者の承認)で、新しい交付番号で交付し直します。"
            )
            self.reprint_button.setEnabled(True)
            self.printed.emit(pages)

        def failed(exc: BaseException) -> None:
            self.print_button.setEnabled(True)
            self.printer_choice.setEnabled(True)
            self.reprint_button.setEnabled(True)
            self.preview_status.setText("印刷できませんでした。")
            QMessageBox.warning(self, "印刷できません", user_message(exc))

        run_in_background(self, lambda: print_pdf(pdf, copies, no, printer), done, failed)

    def reprint(self) -> None:
        """印刷し直し: with a supervisor's approval for this 交付番号, the issuance is voided and
        the request issued again under a new 交付番号 (app.services.issuance.reissue); the old
        paper is never reprinted under its own number."""
        issued, request = self.issued, self._issued_request
        if issued is None or request is None or not self.reprint_button.isEnabled():
            return
        old_no = issued.issuance.issuance_no
        delivery = Delivery.MAIL if issued.issuance.mailed else Delivery.COUNTER
        situation = (
            f"交付番号 {old_no} を印刷し直します。この交付を取り消し、新しい交付番号で交付し直す"
            "には監督者の承認が必要です(同じ交付番号の写しは2枚作りません)。"
        )
        approval = self._approve_dialog(situation, request, self.household, replaces=old_no)
        if approval is None:
            self.preview_status.setText("承認されなかったため、印刷し直していません。")
            return
        session, household = self.session, self.household
        self.reprint_button.setEnabled(False)
        self.print_button.setEnabled(False)
        self.preview_status.setText(f"交付番号 {old_no} を取り消し、交付し直しています…")

        def reissued(new: Any) -> None:
            self._issued(new)
            self.decision_label.setText(
                f"交付番号 {old_no} を取り消し、交付番号 {new.issuance.issuance_no} で"
                "交付し直しました。印刷してください(前の用紙は破棄してください)。"
            )

        def failed(exc: BaseException) -> None:
            self.reprint_button.setEnabled(True)
            self.print_button.setEnabled(self._print_pdf is not None)
            self.preview_status.setText("印刷し直しできませんでした。")
            QMessageBox.warning(self, "印刷し直しできません", user_message(exc))

        run_in_background(
            self,
            lambda: session.reissue(
                old_no, request, household, approval=approval, delivery=delivery
            ),
            reissued,
            failed,
        )
