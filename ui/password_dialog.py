"""パスワードの変更: the operator's own change, and the forced one after an administrator's reset.

The new password is checked as it is typed against the same rule the server applies
(`check(password, operator_id, previous) -> problems`, app.domain.passwords through the
session), so the clerk reads every problem in Japanese before anything is sent; the server
checks it again. `submit(old, new)` runs in the background and raises a DomainError when refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ui.background import run_in_background, user_message

Check = Callable[[str, str, str | None], list[str]]

FORCED_TEXT = (
    "管理者がパスワードを再設定しました。ほかの操作の前に、新しいパスワードを決めてください。"
)
HINT = (
    "長い文やいくつかの単語の組み合わせにすると、覚えやすく安全です。"
    "よく使われるパスワード、職員ID、同じ文字や連続した文字は使えません。"
)


class PasswordChangeDialog(QDialog):
    """Emits `changed(result)` with what `submit` returned (a session, at a forced change)."""

    changed = Signal(object)

    def __init__(
        self,
        operator_id: str,
        submit: Callable[[str, str], Any],
        check: Check,
        *,
        forced_old_password: str | None = None,
        runner: Callable[..., None] = run_in_background,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("passwordChangeDialog")
        self.setWindowTitle("パスワードの変更")
        self.setMinimumWidth(460)
        self._operator_id = operator_id
        self._submit = submit
        self._check = check
        self._forced_old = forced_old_password
        self._run = runner
        self.result_value: Any = None

        intro = QLabel(FORCED_TEXT if forced_old_password is not None else HINT)
        intro.setObjectName("passwordIntro")
        intro.setWordWrap(True)
        self.old = QLineEdit(objectName="oldPassword")
        self.new = QLineEdit(objectName="newPassword")
        self.again = QLineEdit(objectName="newPasswordAgain")
        for field in (self.old, self.new, self.again):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        if forced_old_password is None:
            form.addRow("現在のパスワード", self.old)
        else:
            self.old.hide()
        form.addRow("新しいパスワード", self.new)
        form.addRow("新しいパスワード(確認)", self.again)
        self.problems = QLabel("", objectName="passwordProblems")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #b00020;")
        self.hint = QLabel(HINT if forced_old_password is not None else "")
        self.hint.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("変更する")
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        for field in (self.old, self.new, self.again):
            field.textChanged.connect(self._review)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.hint)
        layout.addWidget(self.problems)
        layout.addWidget(self.buttons)

    def _old_password(self) -> str:
        return self._forced_old if self._forced_old is not None else self.old.text()

    def current_problems(self) -> list[str]:
        new = self.new.text()
        if not new:
            return []
        problems = list(self._check(new, self._operator_id, self._old_password() or None))
        if self.again.text() and self.again.text() != new:
            problems.append("確認のため入力したパスワードが一致しません。")
        return problems

    def _review(self) -> None:
        problems = self.current_problems()
        self.problems.setStyleSheet("color: #b00020;")
        self.problems.setText("\n".join(problems))
        ready = (
            bool(self._old_password())
            and bool(self.new.text())
            and self.again.text() == self.new.text()
            and not problems
        )
        self.ok.setEnabled(ready)

    def submit(self) -> None:
        if not self.ok.isEnabled():
            return
        old, new = self._old_password(), self.new.text()
        self._busy(True)
        self.problems.setStyleSheet("color: #333;")
        self.problems.setText("変更しています…")
        submit = self._submit
        self._run(self, lambda: submit(old, new), self._done, self._failed)

    def _busy(self, busy: bool) -> None:
        for w in (self.old, self.new, self.again, self.buttons):
            w.setEnabled(not busy)

    def _done(self, result: Any) -> None:
        self._busy(False)
        self._clear()
        self.result_value = result
        self.changed.emit(result)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        self.new.clear()  # first: clearing reviews the fields and would hide the message
        self.again.clear()
        self.problems.setStyleSheet("color: #b00020;")
        self.problems.setText(user_message(exc))
        self.new.setFocus()

    def _clear(self) -> None:
        self._forced_old = None if self._forced_old is None else ""
        for field in (self.old, self.new, self.again):
            field.clear()

    def reject(self) -> None:
        self._clear()
        super().reject()
