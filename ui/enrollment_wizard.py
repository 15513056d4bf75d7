"""端末の登録 (first run): the city's IT administrator enrolls this PC with the server.

Three steps on one dialog: 1. the server URL and the CA fingerprint (from provisioning.json
when the installer wrote one) are checked — the CA is fetched and compared before anything is
sent (app/services/enrollment.py); 2. the administrator types the one-time token; 3. done.
A clerk who sees this screen closes it and calls the administrator.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ui.background import run_in_background, user_message

CheckFn = Callable[[str, str, str | None], Any]  # (url, fingerprint, municipality) → checked
EnrollFn = Callable[[Path, Any, str], Any]  # (data_dir, checked, token) → TerminalConfig

ERROR_STYLE = "color: #b00020;"
OK_STYLE = "color: #0b7a2a; font-weight: bold;"


def _default_check(url: str, fingerprint: str, municipality: str | None) -> Any:
    from app.services.enrollment import check_server

    return check_server(url, fingerprint, expected_municipality=municipality)


class EnrollmentWizard(QDialog):
    def __init__(
        self,
        data_dir: Path,
        *,
        provisioning: Any = None,
        provisioning_error: str | None = None,
        check: CheckFn = _default_check,
        enroll: EnrollFn | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("enrollmentWizard")
        self.setWindowTitle("窓口 — 端末の登録(管理者用)")
        self.setMinimumWidth(560)
        self.data_dir = Path(data_dir)
        self._provisioning = provisioning
        self._check = check
        self._enroll = enroll or self._default_enroll
        self.checked: Any = None
        self.config: Any = None

        intro = QLabel(
            "このPCはまだ窓口の端末として登録されていません。\n"
            "この画面は市の情報システム担当者(管理者)が使います。窓口職員の方は「閉じる」を"
            "押して、管理者に連絡してください。"
        )
        intro.setWordWrap(True)
        self.pages = QStackedWidget(objectName="enrollPages")
        self.pages.addWidget(self._server_page(provisioning_error))
        self.pages.addWidget(self._token_page())
        self.pages.addWidget(self._done_page())
        self.message = QLabel("", objectName="enrollMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QPushButton("閉じる", objectName="enrollClose")
        self.close_button.clicked.connect(self.reject)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.pages)
        layout.addWidget(self.message)
        layout.addLayout(row)

    # --- pages ---------------------------------------------------------------------------

    def _server_page(self, provisioning_error: str | None) -> QWidget:
        page = QWidget(objectName="enrollServerPage")
        p = self._provisioning
        self.server = QLineEdit(p.server_url if p else "", objectName="enrollServer")
        self.server.setPlaceholderText("https://madoguchi.example.lg.jp:8443")
        self.fingerprint = QLineEdit(p.ca_fingerprint_sha256 if p else "")
        self.fingerprint.setObjectName("enrollFingerprint")
        self.fingerprint.setPlaceholderText("認証局の指紋(SHA-256、16進数64桁)")
        source = QLabel(objectName="enrollSource")
        source.setWordWrap(True)
        if provisioning_error:
            source.setText(provisioning_error)
            source.setStyleSheet(ERROR_STYLE)
        elif p is not None:
            source.setText(f"インストール時の設定({p.source})の値です。")
        else:
            source.setText(
                "インストール時の設定(provisioning.json)がありません。サーバーのURLと、サーバーで "
                "madoguchi-server ca fingerprint が表示する指紋を入力してください。"
            )
        self.check_button = QPushButton("接続を確認", objectName="enrollCheck")
        self.check_button.clicked.connect(self.check_server)
        form = QFormLayout()
        form.addRow("中央サーバーのURL", self.server)
        form.addRow("認証局の指紋", self.fingerprint)
        layout = QVBoxLayout(page)
        layout.addLayout(form)
        layout.addWidget(source)
        layout.addWidget(self.check_button, alignment=Qt.AlignmentFlag.AlignRight)
        return page

    def _token_page(self) -> QWidget:
        page = QWidget(objectName="enrollTokenPage")
        self.server_label = QLabel("", objectName="enrollServerInfo")
        self.server_label.setWordWrap(True)
        self.token = QLineEdit(objectName="enrollToken")
        self.token.setPlaceholderText("madoguchi-server terminal token が表示した文字列")
        self.token.returnPressed.connect(self.submit)
        self.submit_button = QPushButton("登録", objectName="enrollSubmit")
        self.submit_button.clicked.connect(self.submit)
        back = QPushButton("戻る", objectName="enrollBack")
        back.clicked.connect(lambda: self._show_page(0))
        form = QFormLayout()
        form.addRow("登録用トークン", self.token)
        row = QHBoxLayout()
        row.addWidget(back)
        row.addStretch(1)
        row.addWidget(self.submit_button)
        layout = QVBoxLayout(page)
        layout.addWidget(self.server_label)
        layout.addLayout(form)
        layout.addLayout(row)
        return page

    def _done_page(self) -> QWidget:
        page = QWidget(objectName="enrollDonePage")
        self.done_label = QLabel("", objectName="enrollDone")
        self.done_label.setWordWrap(True)
        self.done_label.setStyleSheet(OK_STYLE)
        self.finish_button = QPushButton("ログイン画面へ", objectName="enrollFinish")
        self.finish_button.clicked.connect(self.accept)
        layout = QVBoxLayout(page)
        layout.addWidget(self.done_label)
        layout.addWidget(self.finish_button, alignment=Qt.AlignmentFlag.AlignRight)
        return page

    def _show_page(self, index: int) -> None:
        self.pages.setCurrentIndex(index)
        self.message.clear()

    def _say(self, text: str, style: str = "") -> None:
        self.message.setStyleSheet(style)
        self.message.setText(text)

    # --- steps ---------------------------------------------------------------------------

    def check_server(self) -> None:
        url, fingerprint = self.server.text().strip(), self.fingerprint.text().strip()
        municipality = self._provisioning.municipality_code if self._provisioning else None
        self.check_button.setEnabled(False)
        self._say("サーバーに接続して認証局を確認しています…")
        check = self._check
        run_in_background(
            self, lambda: check(url, fingerprint, municipality), self._checked, self._failed
        )

    def _checked(self, checked: Any) -> None:
        self.check_button.setEnabled(True)
        self.checked = checked
        info = checked.info
        self._show_page(1)
        self.server_label.setText(
            f"{info.municipality_name}(団体コード {info.municipality_code})の中央サーバーです。"
            f"認証局の指紋が一致しました。\n{checked.server_url}\n"
            "管理者がサーバーで発行した一回限りの登録用トークンを入力してください。"
        )
        self.server_label.setStyleSheet(OK_STYLE)
        self.token.setFocus()

    def submit(self) -> None:
        token = self.token.text().strip()
        if not token:
            self._say("登録用トークンを入力してください。", ERROR_STYLE)
            return
        self.submit_button.setEnabled(False)
        self._say("登録しています…")
        enroll, data_dir, checked = self._enroll, self.data_dir, self.checked
        run_in_background(
            self, lambda: enroll(data_dir, checked, token), self._enrolled, self._failed
        )

    def _enrolled(self, config: Any) -> None:
        self.submit_button.setEnabled(True)
        self.config = config
        self.token.clear()
        self._show_page(2)
        self.done_label.setText(
            f"登録しました: {config.municipality_name} 端末 {config.terminal_no}\n"
            f"データフォルダ: {self.data_dir}\n"
            "職員が最初にログインすると、住民データの初回同期が始まります。"
        )
        self.close_button.setEnabled(False)

    def _failed(self, exc: BaseException) -> None:
        self.check_button.setEnabled(True)
        self.submit_button.setEnabled(True)
        self._say(user_message(exc), ERROR_STYLE)

    def _default_enroll(self, data_dir: Path, checked: Any, token: str) -> Any:
        from app.services.enrollment import enroll_checked

        p = self._provisioning
        return enroll_checked(data_dir, checked, token, users_sid=p.data_users_sid if p else "AU")


def run_enrollment_wizard(data_dir: Path) -> bool:
    """Show the wizard modally; True once this PC is enrolled."""
    from app.machine.provisioning import ProvisioningError, find_provisioning

    provisioning, error = None, None
    try:
        provisioning = find_provisioning(Path(data_dir))
    except ProvisioningError as exc:
        error = exc.message
    wizard = EnrollmentWizard(data_dir, provisioning=provisioning, provisioning_error=error)
    return wizard.exec() == QDialog.DialogCode.Accepted and wizard.config is not None
