"""住民票の写しの交付: the request form, the decision shown as it changes, preview, issue, print.

The legal decision is app.domain.certificates.decide (through the session); this dialog only
shows it. The requester is a person (ui/requester_panel.py); the items show what always prints
and what is a choice (ui/items_panel.py). A copy the rules send by mail is issued as mailed and
never handed over here. Issuance, approval and rendering run in the background.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QRadioButton,
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
    FormKind,
    IdentityDocument,
)
from app.domain.records import Household
from app.services.session_api import CounterSessionApi
from ui.background import run_in_background, user_message
from ui.items_panel import ItemsPanel
from ui.pdf_preview import PdfPreview
from ui.requester_panel import CardReader, RequesterPanel


class IssuanceDialog(QDialog):
    """One request for one household. `approve_dialog(situation, targets) -> Approval | None`
    opens the supervisor approval (injected so tests can drive it)."""

    def __init__(
        self,
        session: CounterSessionApi,
        household: Household,
        *,
        approve_dialog: Callable[[str, list[str]], Any],
        print_pdf: Callable[[bytes, int, str], int] | None = None,
        read_card: CardReader | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("issuanceDialog")
        self.setWindowTitle("住民票の写しの交付")
        self.resize(1180, 760)
        self.session = session
        self.household = household
        self._approve_dialog = approve_dialog
        self._print_pdf = print_pdf
        self.decision: Decision | None = None
        self.issued: Any = None
        # The 支援措置 of the register and this municipality, read once in the background.
        self.context: CertificateContext | None = None

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
        self.scope_all = QRadioButton("世帯全員", objectName="scopeAll")
        self.scope_some = QRadioButton("一部の人", objectName="scopeSome")
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
        self.copies = QSpinBox(objectName="copies")
        self.copies.setRange(1, 20)
        row = QHBoxLayout()
        row.addWidget(QLabel("様式"))
        row.addWidget(self.form_kind)
        row.addWidget(QLabel("通数"))
        row.addWidget(self.copies)
        sv.addLayout(row)

        # --- items: what always prints, what is a choice (ui/items_panel.py) ---------------
        self.items_panel = ItemsPanel(household)
        items_box = self.items_panel

        # --- decision and actions ------------------------------------------------------------
        self.decision_label = QLabel("", objectName="decisionLabel")
        self.decision_label.setWordWrap(True)
        self.decision_label.setTextFormat(Qt.TextFormat.PlainText)
        self.decision_label.setMinimumHeight(90)
        self.preview_button = QPushButton("見本を表示", objectName="previewButton")
        self.issue_button = QPushButton("交付する", objectName="confirmIssueButton")
        self.print_button = QPushButton("印刷", objectName="printButton")
        self.print_button.setEnabled(False)
        close = QPushButton("閉じる")
        self.preview_button.clicked.connect(self.preview)
        self.issue_button.clicked.connect(self.issue)
        self.print_button.clicked.connect(self.print_issued)
        close.clicked.connect(self.accept)
        actions = QHBoxLayout()
        actions.addWidget(self.preview_button)
        actions.addStretch(1)
        actions.addWidget(self.issue_button)
        actions.addWidget(self.print_button)
        actions.addWidget(close)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addWidget(requester_box)
        lv.addWidget(id_box)
        lv.addWidget(scope_box)
        lv.addWidget(items_box)
        lv.addWidget(QLabel("判定"))
        lv.addWidget(self.decision_label)
        lv.addLayout(actions)

        self.preview_widget = PdfPreview()
        self.preview_status = QLabel("見本はまだ表示されていません。", objectName="previewStatus")
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.addWidget(self.preview_status)
        rv.addWidget(self.preview_widget, 1)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        # Every input re-evaluates the decision at once (a pure function, given the context).
        self.requester_panel.changed.connect(self.update_decision)
        self.items_panel.changed.connect(self.update_decision)
        self.scope_all.toggled.connect(self._scope_changed)
        self.form_kind.currentIndexChanged.connect(self.update_decision)
        self.copies.valueChanged.connect(self.update_decision)
        for cb in (*self.id_checks.values(), *self.member_checks.values()):
            cb.toggled.connect(self.update_decision)
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

    def update_decision(self) -> None:
        if self.issued is not None:
            return
        self.items_panel.set_rule(self.requester_panel.current_kind(), self._removed_scope())
        if self.context is None:
            self.decision = None
            self._show_decision_text("支援措置と請求者の照合を準備しています…", ok=False)
            return
        try:
            decision = self.session.decide(self.request(), self.household, self.context)
        except Exception as exc:
            self.decision = None
            self._show_decision_text(user_message(exc), ok=False)
            return
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
        self.issue_button.setText("郵送で交付する" if decision.deliver_by_mail else "交付する")
        self._show_decision_text("\n".join(lines), ok=decision.allowed)

    def _show_decision_text(self, text: str, *, ok: bool) -> None:
        self.decision_label.setText(text)
        color = "#0b5d1e" if ok else "#b00020"
        self.decision_label.setStyleSheet(f"color: {color}; border: 1px solid #ccc; padding: 6px;")
        self.issue_button.setEnabled(ok)
        self.preview_button.setEnabled(ok)

    # --- preview, issue, print ---------------------------------------------------------------

    def preview(self) -> None:
        request = self.request()
        self.preview_button.setEnabled(False)
        self.preview_status.setText("見本を作成しています…")

        def shown(pdf: bytes) -> None:
            pages = self.preview_widget.show_pdf(pdf)
            self.preview_status.setText(
                f"見本({pages}枚)。交付すると交付番号が入り、見本の表示は消えます。"
            )
            self.preview_button.setEnabled(True)

        def failed(exc: BaseException) -> None:
            self.preview_status.setText(user_message(exc))
            self.preview_button.setEnabled(True)

        context = self.context
        run_in_background(
            self,
            lambda: self.session.preview(request, self.household, context),
            shown,
            failed,
        )

    def issue(self) -> None:
        if self.decision is None or not self.decision.allowed:
            return
        request = self.request()
        delivery = self.decision.delivery
        approval = None
        why = self.session.approval_needed(self.decision)
        if why is not None:
            approval = self._approve_dialog(why, list(self.decision.person_ids))
            if approval is None:
                return
        self.issue_button.setEnabled(False)
        self.preview_status.setText("交付しています…")

        def work() -> Any:
            return self.session.issue(request, self.household, approval=approval, delivery=delivery)

        run_in_background(self, work, self._issued, self._issue_failed)

    def _issued(self, issued: Any) -> None:
        self.issued = issued
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
        self.print_button.setEnabled(self._print_pdf is not None)
        for w in (self.issue_button, self.preview_button):
            w.setEnabled(False)

    def _issue_failed(self, exc: BaseException) -> None:
        self.issue_button.setEnabled(True)
        self.preview_status.setText("交付できませんでした。")
        QMessageBox.warning(self, "交付できません", user_message(exc))

    def print_issued(self) -> None:
        if self.issued is None or self._print_pdf is None:
            return
        try:
            issuance = self.issued.issuance
            pages = self._print_pdf(self.issued.pdf, issuance.copies, issuance.issuance_no)
        except Exception as exc:
            QMessageBox.warning(self, "印刷できません", user_message(exc))
            return
        self.preview_status.setText(f"{pages}ページを印刷しました。")
