"""監督者承認: the supervisor's id, password and the reason, in one dialog at the clerk's desk.

`approve(supervisor_id, password, reason) -> Approval` (app.auth.approval.approve with the
session, verifier and recorder bound) runs in the background; a refusal stays in the dialog with
its message, and the password field is cleared after every attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.auth.approval import Approval
from ui.background import run_in_background, user_message


class ApprovalDialog(QDialog):
    def __init__(
        self,
        approve: Callable[[str, str, str], Approval],
        *,
        situation: str = "この操作には監督者の承認が必要です。",
        runner: Callable[..., None] = run_in_background,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("approvalDialog")
        self.setWindowTitle("監督者の承認")
        self.setMinimumWidth(440)
        self._approve = approve
        self._run = runner
        self.approval: Approval | None = None

        self.situation = QLabel(situation)
        self.situation.setWordWrap(True)
        self.supervisor_id = QLineEdit()
        self.supervisor_id.setObjectName("supervisorId")
        self.password = QLineEdit()
        self.password.setObjectName("supervisorPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.reason = QPlainTextEdit()
        self.reason.setObjectName("approvalReason")
        self.reason.setPlaceholderText("承認の理由(必須)")
        self.reason.setFixedHeight(70)
        self.message = QLabel("")
        self.message.setObjectName("approvalMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b00020;")

        form = QFormLayout()
        form.addRow("監督者の職員ID", self.supervisor_id)
        form.addRow("パスワード", self.password)
        form.addRow("理由", self.reason)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("承認")
        ok.setObjectName("approveButton")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        box = QVBoxLayout(self)
        box.addWidget(self.situation)
        box.addLayout(form)
        box.addWidget(self.message)
        box.addWidget(self.buttons)

    def submit(self) -> None:
        supervisor_id = self.supervisor_id.text().strip()
        password = self.password.text()
        reason = self.reason.toPlainText().strip()
        self.password.clear()
        if not reason:
            self.message.setText("承認の理由を入力してください。")
            return
        if not supervisor_id or not password:
            self.message.setText("監督者の職員IDとパスワードを入力してください。")
            return
        self.message.clear()
        self.buttons.setEnabled(False)
        approve = self._approve  # the worker holds the callable, not this dialog
        self._run(self, lambda: approve(supervisor_id, password, reason), self._ok, self._err)

    def _ok(self, approval: Any) -> None:
        self.approval = approval
        self.buttons.setEnabled(True)
        self.accept()

    def _err(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.message.setText(user_message(exc))
