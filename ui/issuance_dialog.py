"""住民票の写しの交付: the request form, the decision shown as it changes, preview, issue, print.

The legal decision is app.domain.certificates.decide (through the session); this dialog only
shows it. Issuance, approval and rendering run in the background.
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
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.domain.certificates import (
    BASIC_ITEMS,
    IDENTITY_LABELS,
    ITEM_LABELS,
    REQUESTER_LABELS,
    CertificateRequest,
    Decision,
    FormKind,
    IdentityDocument,
    Item,
    RequesterKind,
)
from app.domain.records import Household
from app.services.session_api import CounterSessionApi
from ui.background import run_in_background, user_message
from ui.pdf_preview import PdfPreview

OUTSIDE_HOUSEHOLD = "__outside__"


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

        # --- requester -------------------------------------------------------------------------
        self.requester_kind = QComboBox(objectName="requesterKind")
        for kind, label in REQUESTER_LABELS.items():
            self.requester_kind.addItem(label, kind)
        self.requester_person = QComboBox(objectName="requesterPerson")
        for m in household.members:
            self.requester_person.addItem(f"{m.name}({m.relationship})", m.person_id)
        self.requester_person.addItem("世帯外の人", OUTSIDE_HOUSEHOLD)
        self.purpose = QLineEdit(objectName="purpose")
        self.purpose.setPlaceholderText("第三者・国等の請求では必須(例: 債権回収のため)")
        self.power_of_attorney = QCheckBox("委任状あり", objectName="powerOfAttorney")
        self.justified = QCheckBox(
            "請求事由から、指定された項目は必要と認める", objectName="justified"
        )

        requester_box = QGroupBox("請求者")
        rf = QFormLayout(requester_box)
        rf.addRow("区分", self.requester_kind)
        rf.addRow("請求者", self.requester_person)
        rf.addRow("請求事由", self.purpose)
        rf.addRow("", self.power_of_attorney)
        rf.addRow("", self.justified)

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
        self.form_kind.addItem("世帯連記式", FormKind.HOUSEHOLD)
        self.form_kind.addItem("個人票", FormKind.INDIVIDUAL)
        self.copies = QSpinBox(objectName="copies")
        self.copies.setRange(1, 20)
        row = QHBoxLayout()
        row.addWidget(QLabel("様式"))
        row.addWidget(self.form_kind)
        row.addWidget(QLabel("通数"))
        row.addWidget(self.copies)
        sv.addLayout(row)

        # --- items -----------------------------------------------------------------------------
        items_box = QGroupBox("記載する項目(請求されたもの)")
        ig = QGridLayout(items_box)
        self.item_checks: dict[Item, QCheckBox] = {}
        optional = [i for i in Item if i not in BASIC_ITEMS]
        for n, item in enumerate(optional):
            cb = QCheckBox(ITEM_LABELS[item], objectName=f"item_{item.value}")
            self.item_checks[item] = cb
            ig.addWidget(cb, n // 2, n % 2)

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

        # Every input re-evaluates the decision at once (it is a pure function).
        self.requester_kind.currentIndexChanged.connect(self.update_decision)
        self.requester_person.currentIndexChanged.connect(self.update_decision)
        self.purpose.textChanged.connect(self.update_decision)
        self.power_of_attorney.toggled.connect(self.update_decision)
        self.justified.toggled.connect(self.update_decision)
        self.scope_all.toggled.connect(self._scope_changed)
        self.form_kind.currentIndexChanged.connect(self.update_decision)
        self.copies.valueChanged.connect(self.update_decision)
        for cb in (
            *self.id_checks.values(),
            *self.member_checks.values(),
            *self.item_checks.values(),
        ):
            cb.toggled.connect(self.update_decision)
        self.update_decision()

    # --- the request ----------------------------------------------------------------------------

    def _scope_changed(self) -> None:
        some = self.scope_some.isChecked()
        for cb in self.member_checks.values():
            cb.setEnabled(some)
        self.update_decision()

    def request(self) -> CertificateRequest:
        items = frozenset(i for i, cb in self.item_checks.items() if cb.isChecked())
        person_ids = None
        if self.scope_some.isChecked():
            person_ids = tuple(pid for pid, cb in self.member_checks.items() if cb.isChecked())
        return CertificateRequest(
            requester_kind=RequesterKind(self.requester_kind.currentData()),
            identity_documents=tuple(d for d, cb in self.id_checks.items() if cb.isChecked()),
            person_ids=person_ids,
            items=items,
            justified_items=items if self.justified.isChecked() else frozenset(),
            purpose=self.purpose.text().strip() or None,
            has_power_of_attorney=self.power_of_attorney.isChecked(),
            form=FormKind(self.form_kind.currentData()),
            copies=self.copies.value(),
        )

    def requester_person_id(self) -> str | None:
        value = self.requester_person.currentData()
        return None if value == OUTSIDE_HOUSEHOLD else value

    def update_decision(self) -> None:
        if self.issued is not None:
            return
        try:
            decision = self.session.decide(
                self.request(), self.household, self.requester_person_id()
            )
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
            count = decision.certificates * decision.copies
            lines.append(f"{head}: {count}通、手数料 {decision.fee_yen:,}円")
        else:
            lines.append("交付できません")
        lines.extend(decision.reasons)
        lines.extend(decision.omitted)
        if decision.screen_text:
            lines.append("【職員向け】" + decision.screen_text)
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

        requester = self.requester_person_id()
        run_in_background(
            self,
            lambda: self.session.preview(request, self.household, requester),
            shown,
            failed,
        )

    def issue(self) -> None:
        if self.decision is None or not self.decision.allowed:
            return
        request = self.request()
        requester = self.requester_person_id()
        approval = None
        why = self.session.approval_needed(self.decision)
        if why is not None:
            approval = self._approve_dialog(why, list(self.decision.person_ids))
            if approval is None:
                return
        documents = ",".join(d.value for d, cb in self.id_checks.items() if cb.isChecked())
        self.issue_button.setEnabled(False)
        self.preview_status.setText("交付しています…")

        def work() -> Any:
            return self.session.issue(
                request,
                self.household,
                requester_person_id=requester,
                id_document=documents or None,
                approval=approval,
            )

        run_in_background(self, work, self._issued, self._issue_failed)

    def _issued(self, issued: Any) -> None:
        self.issued = issued
        pages = self.preview_widget.show_pdf(issued.pdf)
        no = issued.issuance.issuance_no
        self.preview_status.setText(
            f"交付しました。交付番号 {no}({pages}枚)、手数料 {issued.issuance.fee_yen:,}円"
        )
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
