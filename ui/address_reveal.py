"""The reveal row of a withheld address (支援措置): a reason (required, recorded), a button, a
message. `reveal(household_id, reason) -> address` is the session's reveal_protected_address,
run in the background; `revealed(household_id, address)` follows, unless another household
was offered meanwhile. Used by the household view and the card desk's comparison."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from ui.background import run_in_background, user_message

RevealAddress = Callable[[str, str], str]


class AddressReveal(QWidget):
    revealed = Signal(str, str)  # household_id, the address (〒, 住所, 方書)

    def __init__(
        self,
        reveal: RevealAddress,
        parent: QWidget | None = None,
        *,
        label: str = "住所を表示(&V)",
        name: str = "addressReveal",
        runner: Callable[..., None] = run_in_background,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"{name}Row")
        self._reveal = reveal
        self._run = runner
        self.household_id: str | None = None
        self.reason = QLineEdit(objectName=f"{name}Reason")
        self.reason.setPlaceholderText("住所を表示する理由(必須・記録されます)")
        self.button = QPushButton(label, objectName=f"{name}Button")
        self.button.setAutoDefault(False)
        self.button.clicked.connect(self.request)
        self.reason.returnPressed.connect(self.request)
        self.message = QLabel("", objectName=f"{name}Message")
        self.message.setStyleSheet("color: #b00020;")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.reason, 1)
        row.addWidget(self.button)
        row.addWidget(self.message)
        self.hide()

    def offer(self, household_id: str | None) -> None:
        """Offer the reveal for this household (None: nothing withheld, the row hides)."""
        self.household_id = household_id
        self.reason.clear()
        self.message.clear()
        self.button.setEnabled(True)
        self.setVisible(household_id is not None)

    def request(self) -> None:
        household_id = self.household_id
        if household_id is None:
            return
        reason = self.reason.text().strip()
        if not reason:
            self.message.setText("理由を入力してください。")
            self.reason.setFocus()
            return
        self.message.clear()
        self.button.setEnabled(False)
        reveal = self._reveal

        def shown(address: str) -> None:
            self.button.setEnabled(True)
            if self.household_id != household_id:
                return  # another household meanwhile: its address stays withheld
            self.reason.clear()
            self.revealed.emit(household_id, address)

        def refused(exc: BaseException) -> None:
            self.button.setEnabled(True)
            self.message.setText(user_message(exc))

        self._run(self, lambda: reveal(household_id, reason), shown, refused)
