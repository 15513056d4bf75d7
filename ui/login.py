"""ログイン画面: operator ID and password; online first, the key slot when the line is down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)

from app.auth.errors import PasswordChangeRequired
from app.domain.passwords import PasswordRules
from app.services.session_api import CounterSessionApi
from ui.background import run_in_background, user_message
from ui.password_dialog import PasswordChangeDialog


class LoginDialog(QDialog):
    """Emits `logged_in(session)`; the login call itself runs in the background."""

    logged_in = Signal(object)

    def __init__(
        self,
        login: Callable[..., Any],
        *,
        terminal_label: str = "",
        password_check: Callable[[str, str, str | None], list[str]] | None = None,
        parent=None,
    ) -> None:
        """`login(operator_id, password, new_password=None)` (LoginService.login): it raises
        PasswordChangeRequired after an administrator's reset; the dialog then asks for a new
        password (checked as typed by `password_check`, the server's rule) and logs in with it."""
        super().__init__(parent)
        self._login = login
        self._password_check = password_check or PasswordRules().problems
        self.change_dialog: PasswordChangeDialog | None = None
        self.session: CounterSessionApi | None = None
        self.setWindowTitle("窓口 — ログイン")
        self.setObjectName("loginDialog")
        self.setMinimumWidth(420)

        title = QLabel("窓口 住民記録端末")
        title.setObjectName("loginTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setStyleSheet("font-size: 18px; font-weight: bold; padding: 8px;")
        subtitle = QLabel(terminal_label)
        subtitle.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.operator_id = QLineEdit()
        self.operator_id.setObjectName("operatorId")
        self.operator_id.setPlaceholderText("例: clerk01")
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)

        form = QFormLayout()
        form.addRow("職員ID(&I)", self.operator_id)
        form.addRow("パスワード(&P)", self.password)

        self.message = QLabel("")
        self.message.setObjectName("loginMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b00020;")

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("ログイン")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("終了")
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def _submit(self) -> None:
        operator_id = self.operator_id.text().strip()
        password = self.password.text()
        if not operator_id or not password:
            self.message.setText("職員IDとパスワードを入力してください。")
            return
        self._busy(True)
        self.message.setStyleSheet("color: #333;")
        self.message.setText("確認しています…")
        login = self._login
        run_in_background(
            self,
            lambda: login(operator_id, password),
            self._succeeded,
            lambda exc: self._failed(exc, operator_id, password),
        )

    def _busy(self, busy: bool) -> None:
        self.buttons.setEnabled(not busy)
        self.operator_id.setEnabled(not busy)
        self.password.setEnabled(not busy)

    def _succeeded(self, session: CounterSessionApi) -> None:
        self._busy(False)
        self.password.clear()
        self.session = session
        self.logged_in.emit(session)
        self.accept()

    def _failed(self, exc: BaseException, operator_id: str = "", password: str = "") -> None:
        self._busy(False)
        if isinstance(exc, PasswordChangeRequired):
            self._ask_new_password(operator_id, password, exc.message)
            return
        self.password.clear()
        self.password.setFocus()
        self.message.setStyleSheet("color: #b00020;")
        self.message.setText(user_message(exc))

    def _ask_new_password(self, operator_id: str, password: str, message: str) -> None:
        """The forced change: nothing opens before it (the server holds the DEK back)."""
        self.password.clear()
        self.message.setStyleSheet("color: #b00020;")
        self.message.setText(message)
        login = self._login
        dialog = PasswordChangeDialog(
            operator_id,
            lambda old, new: login(operator_id, old, new_password=new),
            self._password_check,
            forced_old_password=password,
            parent=self,
        )
        self.change_dialog = dialog
        dialog.changed.connect(self._succeeded)
        dialog.open()
