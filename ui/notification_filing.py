"""The print-and-file step of the 異動届 tab, the action bar below the form: 届書を印刷 (F5, a
preview, then the printer, audited), the clerk's two ticks (署名, 本人確認書類), 届出する (F9)
and, for a 転出, the 転出証明書 printed after the filing. The session decides; this step only
orders the calls and says what happened in its message line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.notifications import NotificationDraft
from app.services.session_api import CounterSessionApi
from ui.background import run_in_background, user_message
from ui.notification_parts import FindingsList

PrintDocument = Callable[[bytes, int], int]  # (pdf, copies) → pages printed
ConfirmPrint = Callable[[bytes, str], bool]  # (pdf, title) → the clerk printed it


def preview_dialog(parent: QWidget, pdf: bytes, title: str) -> bool:
    """The preview with 「印刷」; True when the clerk prints."""
    from ui.pdf_preview import PdfPreview

    dialog = QDialog(parent)
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


class FilingBar(QWidget):
    """Emits `filed(notification_id, text)` after a filing (the text says what was printed)."""

    filed = Signal(str, str)

    def __init__(
        self,
        session: CounterSessionApi,
        draft: Callable[[], NotificationDraft | None],
        findings: FindingsList,
        *,
        print_document: PrintDocument | None,
        confirm_print: ConfirmPrint | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, objectName="notificationActions")
        self.session = session
        self._draft = draft
        self._findings = findings
        self._print = print_document
        self._confirm = confirm_print or (lambda pdf, title: preview_dialog(self, pdf, title))
        self.prepared: Any = None  # PreparedForm of the 届書 printed for the current draft
        layout = QHBoxLayout(self)
        self.message = QLabel("", objectName="notificationMessage")
        self.message.setWordWrap(True)
        self.print_button = QPushButton("届書を印刷 (F5)", objectName="printForm")
        self.signature = QCheckBox("署名を確認(&G)", objectName="signatureConfirmed")
        self.documents_checked = QCheckBox(
            "本人確認書類を確認(&R)", objectName="documentsConfirmed"
        )
        self.file_button = QPushButton("届出する (F9)", objectName="fileNotification")
        layout.addWidget(self.message, 1)
        for w in (self.print_button, self.signature, self.documents_checked, self.file_button):
            layout.addWidget(w)
        self.print_button.clicked.connect(self.print_form)
        self.file_button.clicked.connect(self.file)
        self.signature.toggled.connect(self.update_actions)
        self.documents_checked.toggled.connect(self.update_actions)

    # -- state -----------------------------------------------------------------------------

    def reset(self) -> None:
        """A new 届出: nothing printed, nothing confirmed."""
        self.prepared = None
        self.signature.setChecked(False)
        self.documents_checked.setChecked(False)

    def void_print(self) -> None:
        """The draft changed: the printed 届書 no longer says what would be filed."""
        if self.prepared is not None:
            self.prepared = None
            self.signature.setChecked(False)
            self.message.setText("内容が変わりました。届書を印刷し直してください。")

    def update_actions(self, *_args: object) -> None:
        ready = self._draft() is not None and not self._findings.errors
        self.print_button.setEnabled(ready and self._print is not None)
        self.file_button.setEnabled(
            ready
            and self.prepared is not None
            and self.signature.isChecked()
            and self.documents_checked.isChecked()
            and not self._findings.open_warnings
        )

    # -- print -----------------------------------------------------------------------------

    def print_form(self) -> None:
        draft = self._draft()
        if draft is None or self._findings.errors or self._print is None:
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
        if not self._confirm(prepared.pdf, "住民異動届"):
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
            self.update_actions()

        # The printer's message (it names the printer) is for the clerk.
        run_in_background(self, work, printed, lambda e: self.message.setText(user_message(e)))

    # -- file ------------------------------------------------------------------------------

    def file(self) -> None:
        if not self.file_button.isEnabled() or self.prepared is None:
            self.message.setText(
                "届書を印刷し、署名と本人確認書類を確認し、注意に印を付けてから届け出てください。"
            )
            return
        prepared = self.prepared
        acknowledged = self._findings.acknowledged()
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
        self.update_actions()

    def _filed(self, filed: Any) -> None:
        nid = filed.notification.notification_id
        text = f"届け出ました（届出ID {nid}）。本庁の審査の結果はこの端末に届きます。"
        if filed.certificate_pdf is not None:
            text += self._print_certificate(filed)
        self.filed.emit(nid, text)

    def _print_certificate(self, filed: Any) -> str:
        """The 転出証明書 issued with a 転出届: preview, print, audited."""
        if self._print is None or not self._confirm(filed.certificate_pdf, "転出証明書"):
            return f" 転出証明書 {filed.certificate_no} は印刷されていません(この端末の届出から)。"
        try:
            pages = self._print(filed.certificate_pdf, 1)
        except Exception as exc:  # the printer's message is for the clerk
            return f" 転出証明書を印刷できませんでした: {user_message(exc)}"
        run_in_background(self, lambda: self.session.record_certificate_print(filed, pages))
        return f" 転出証明書 {filed.certificate_no} を印刷しました。"
