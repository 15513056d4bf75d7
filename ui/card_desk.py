"""The 個人番号カード desk: read the card, compare with the register, record desk events.

Driven by an `app.services.card_desk.CardDeskService` passed in; every card access runs off the
GUI thread through `ui.background.run_in_background`, results come back by queued signals.

- 「暗証番号で読み取り」 opens the resident's PIN entry in a window of its own
  (CustomerPinWindow: on the customer's screen when there is a second one; 4 digits, masked,
  on-screen keys or the keyboard); the clerk's screen only says that the resident is typing;
- 「照合番号Bで読み取り」 is for staff: 生年月日(和暦6桁) + 有効期限の年(西暦4桁)
  + セキュリティコード;
- the comparison table shows each field of the card next to the register with the verdict;
- expiry dates (card, certificate) with warnings three months ahead, PIN retry counts;
- record buttons (交付 with the 本人確認 checklist, 一時停止, 一時停止解除, 廃止, 回収, 返納),
  enabled only where the lifecycle allows them; the event is recorded and persisted (`persist`:
  outbox and card state) in the same background operation;
- 「世帯を開く」 asks the window to open the matched person's household (`household_requested`).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEventLoop, Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.cards import (
    ACTION_LABELS,
    STATE_LABELS,
    CardAction,
    CardState,
    IdentityChecklist,
    allowed_actions,
    register_address,
)
from app.domain.identifiers import fold_digits, mask_my_number
from app.domain.protected_address import is_withheld
from app.domain.wareki import format_date, format_western
from app.services.card_desk import CardDeskService, DeskReading, MatchResult, RecordedCardEvent
from ui.address_reveal import AddressReveal, RevealAddress
from ui.background import run_in_background, user_message

SEX_JA = {"male": "男", "female": "女", "not_applicable": "適用不能"}
KIND_JA = {"mismatch": "不一致", "needs_endorsement": "追記が必要", "notation": "表記の違い"}
DOCUMENTS = ("交付通知書", "運転免許証", "旅券", "住民基本台帳カード")


class CustomerPinWindow(QWidget):
    """The resident's own PIN entry: a separate top-level window that goes to the customer's
    screen when there is a second one, so the clerk's screen never shows it. On-screen keys or
    the keyboard (digits, Backspace, Enter, Esc); the digits are masked and never logged, and
    leave only through `entered(pin)`."""

    entered = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QWidget | None = None, *, label: str = "暗証番号(4桁)") -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.setObjectName("customerPinWindow")
        self.setWindowTitle("暗証番号の入力(お客様用)")
        self._digits = ""
        self._done = False
        layout = QVBoxLayout(self)
        prompt = QLabel(f"{label}を入力して「決定」を押してください。")
        prompt.setWordWrap(True)
        prompt.setStyleSheet("font-size: 16px;")
        layout.addWidget(prompt)
        self.display = QLineEdit()
        self.display.setObjectName("pinDisplay")
        self.display.setEchoMode(QLineEdit.EchoMode.Password)
        self.display.setReadOnly(True)
        self.display.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.display.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.display)
        grid = QGridLayout()
        self.keys: dict[str, QPushButton] = {}
        for i, key in enumerate(["1", "2", "3", "4", "5", "6", "7", "8", "9", "訂正", "0", "決定"]):
            b = QPushButton(key)
            b.setMinimumSize(64, 52)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys go to the window (keyPressEvent)
            b.clicked.connect(lambda _=False, k=key: self.press(k))
            grid.addWidget(b, i // 3, i % 3)
            self.keys[key] = b
        layout.addLayout(grid)
        cancel = QPushButton("やめる")
        cancel.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        cancel.clicked.connect(self.cancel)
        layout.addWidget(cancel)
        self.keys["決定"].setEnabled(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def press(self, key: str) -> None:
        if key == "訂正":
            self._digits = ""
        elif key == "決定":
            if len(self._digits) == 4:
                self._done = True
                self.entered.emit(self._digits)
                self.close()
            return
        elif len(self._digits) < 4:
            self._digits += key
        self._refresh()

    def _refresh(self) -> None:
        self.display.setText("●" * len(self._digits))
        self.keys["決定"].setEnabled(len(self._digits) == 4)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, text = event.key(), event.text()
        if text and text in "0123456789":
            self.press(text)
        elif key == Qt.Key.Key_Backspace:
            self._digits = self._digits[:-1]
            self._refresh()
        elif key == Qt.Key.Key_Delete:
            self.press("訂正")
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.press("決定")
        elif key == Qt.Key.Key_Escape:
            self.cancel()
        else:
            super().keyPressEvent(event)

    def pin(self) -> str:
        return self._digits

    def cancel(self) -> None:
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._done:
            self._done = True
            self._digits = ""
            self.cancelled.emit()
        super().closeEvent(event)

    def show_for_customer(self, clerk_window: QWidget | None = None) -> None:
        """On a screen other than the clerk's when there is one (full screen there), else as a
        window beside the clerk's."""
        clerk_screen = clerk_window.screen() if clerk_window is not None else None
        others = [s for s in QGuiApplication.screens() if s is not clerk_screen]
        if clerk_screen is not None and others:
            target = others[0]
            self.setGeometry(target.availableGeometry())
            self.showFullScreen()
        else:
            self.adjustSize()
            area = (clerk_screen or QGuiApplication.primaryScreen()).availableGeometry()
            self.move(area.center() - self.rect().center())
            self.show()
        self.raise_()
        self.activateWindow()
        self.setFocus(Qt.FocusReason.OtherFocusReason)


def ask_customer_pin(parent: QWidget | None = None) -> str | None:
    """The resident's PIN from the customer's window, waited for here (a local event loop, the
    rest of the program blocked for input meanwhile); None when they stop."""
    window = CustomerPinWindow(parent)
    window.setWindowModality(Qt.WindowModality.ApplicationModal)
    answer: list[str] = []
    loop = QEventLoop()
    window.entered.connect(answer.append)
    window.entered.connect(lambda _pin: loop.quit())
    window.cancelled.connect(loop.quit)
    window.show_for_customer(parent.window() if parent is not None else None)
    loop.exec()
    window.deleteLater()
    return answer[0] if answer else None


class CollationBDialog(QDialog):
    """Staff read 照合番号B off the card's face: birth date (和暦), expiry year, security code."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("照合番号Bの入力")
        form = QFormLayout(self)
        self.birth = QLineEdit()
        self.birth.setPlaceholderText("例: 600412(昭和60年4月12日)")
        self.birth.setMaxLength(6)
        self.expiry_year = QLineEdit()
        self.expiry_year.setPlaceholderText("例: 2035")
        self.expiry_year.setMaxLength(4)
        self.code = QLineEdit()
        self.code.setMaxLength(4)
        self.code.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("生年月日(和暦 年月日6桁)(&B)", self.birth)
        form.addRow("有効期限の年(西暦4桁)(&Y)", self.expiry_year)
        form.addRow("セキュリティコード(4桁)(&C)", self.code)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("読み取り")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def value(self) -> str:
        parts = (self.birth.text(), self.expiry_year.text(), self.code.text())
        return "".join(fold_digits(p) for p in parts)


class CardDeskWidget(QWidget):
    reading_done = Signal(object)  # DeskReading
    matched = Signal(object)  # MatchResult
    event_recorded = Signal(object)  # RecordedCardEvent: the caller puts .event in the outbox
    failed = Signal(str)
    household_requested = Signal(str)  # household_id of the matched person: open it
    # Emit from any thread (e.g. ReaderMonitor callbacks): delivered queued on the GUI thread.
    card_presence = Signal(str, bool)  # reader name, card present

    def __init__(
        self,
        service: CardDeskService,
        *,
        card_state_of: Callable[[str], CardState] | None = None,
        persist: Callable[[RecordedCardEvent], object] | None = None,
        reveal_address: RevealAddress | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self._reveal_address = reveal_address
        self._card_state_of = card_state_of
        self._persist = persist
        self.pin_window: CustomerPinWindow | None = None
        self._states: dict[str, CardState] = {}
        self.reading: DeskReading | None = None
        self.match: MatchResult | None = None
        self.busy = False
        self.setWindowTitle("個人番号カード窓口")

        self.card_presence.connect(self._presence_changed)
        root = QVBoxLayout(self)
        top = QHBoxLayout()
        self.pin_button = QPushButton("暗証番号で読み取り(本人入力)", objectName="cardPinRead")
        self.b_button = QPushButton("照合番号Bで読み取り(職員入力)", objectName="cardBRead")
        self.status_button = QPushButton("残り回数・有効期限の確認(&E)", objectName="cardStatus")
        self.cancel_pin_button = QPushButton("暗証番号の入力をやめる", objectName="cardPinCancel")
        self.cancel_pin_button.hide()
        for b in (self.pin_button, self.b_button, self.status_button, self.cancel_pin_button):
            top.addWidget(b)
        self.pin_button.clicked.connect(self._ask_pin)
        self.b_button.clicked.connect(self._ask_collation_b)
        self.status_button.clicked.connect(self.start_status)
        self.cancel_pin_button.clicked.connect(self._cancel_pin)
        root.addLayout(top)

        self.message = QLabel("カードをリーダーに置いて、読み取りを押してください。")
        self.message.setWordWrap(True)
        root.addWidget(self.message)

        middle = QHBoxLayout()
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["項目", "カード", "住民票", "判定"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        middle.addWidget(self.table, 3)
        side = QVBoxLayout()
        self.photo = QLabel("顔写真\n(照合番号Bで読み取り)")
        self.photo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.photo.setMinimumSize(96, 128)
        side.addWidget(self.photo)
        self.expiry_label = QLabel("")
        self.expiry_label.setWordWrap(True)
        side.addWidget(self.expiry_label)
        self.retry_label = QLabel("")
        self.retry_label.setWordWrap(True)
        side.addWidget(self.retry_label)
        side.addStretch(1)
        middle.addLayout(side, 1)
        root.addLayout(middle)
        # 支援措置: the register's address comes withheld from the session; shown with a reason.
        self.address_reveal = AddressReveal(
            reveal_address or (lambda _h, _r: ""),
            self,
            label="住民票の住所を表示(&W)",
            name="cardAddressReveal",
        )
        self.address_reveal.revealed.connect(self._address_revealed)
        root.addWidget(self.address_reveal)

        check = QGroupBox("本人確認(交付時)")
        cl = QVBoxLayout(check)
        self.face_check = QCheckBox("顔写真とご本人を照合した")
        self.pin_set_check = QCheckBox("暗証番号をご本人が設定した")
        cl.addWidget(self.face_check)
        cl.addWidget(self.pin_set_check)
        docs = QHBoxLayout()
        self.document_checks = {d: QCheckBox(d) for d in DOCUMENTS}
        for box in self.document_checks.values():
            docs.addWidget(box)
        cl.addLayout(docs)
        reason_row = QHBoxLayout()
        reason_row.addWidget(QLabel("理由(一時停止・廃止など)"))
        self.reason = QLineEdit()
        reason_row.addWidget(self.reason)
        cl.addLayout(reason_row)
        root.addWidget(check)

        actions = QHBoxLayout()
        self.state_label = QLabel("カードの状態: -")
        actions.addWidget(self.state_label)
        self.open_household_button = QPushButton("世帯を開く", objectName="cardOpenHousehold")
        self.open_household_button.setEnabled(False)
        self.open_household_button.clicked.connect(self._request_household)
        actions.addWidget(self.open_household_button)
        self.action_buttons: dict[CardAction, QPushButton] = {}
        for action in CardAction:
            b = QPushButton(ACTION_LABELS[action])
            b.setEnabled(False)
            b.clicked.connect(lambda _=False, a=action: self.record(a))
            actions.addWidget(b)
            self.action_buttons[action] = b
        root.addLayout(actions)

    # -- state -------------------------------------------------------------------------------

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.busy = busy
        for b in (self.pin_button, self.b_button, self.status_button):
            b.setEnabled(not busy and (b is self.status_button or self.pin_window is None))
        if busy:
            for b in self.action_buttons.values():
                b.setEnabled(False)
        else:
            self._refresh_actions()
        if text:
            self.message.setText(text)

    def current_state(self) -> CardState | None:
        if self.match is None or self.match.person is None:
            return None
        # Read with the card, in the background (see _start); never from the GUI thread.
        return self._states.setdefault(self.match.person.person_id, CardState.NOT_ISSUED)

    def _refresh_actions(self) -> None:
        state = self.current_state()
        allowed = set(allowed_actions(state)) if state is not None else set()
        for action, b in self.action_buttons.items():
            b.setEnabled(not self.busy and action in allowed)
        found = self.match is not None and self.match.household is not None
        self.open_household_button.setEnabled(not self.busy and found)
        self.state_label.setText(
            f"カードの状態: {STATE_LABELS[state]}" if state is not None else "カードの状態: -"
        )

    def _fail(self, exc: BaseException) -> None:
        text = user_message(exc)
        self._set_busy(False, text)
        self.failed.emit(text)

    def _presence_changed(self, reader: str, present: bool) -> None:
        if self.busy:
            return  # a removal during a read is reported by the read itself
        if present:
            self.message.setText(f"カードが置かれました({reader})。読み取りを押してください。")
        else:
            self.message.setText(f"カードが取り外されました({reader})。")

    # -- reading -----------------------------------------------------------------------------

    def _ask_pin(self) -> None:
        """The PIN is typed by the resident in the customer's window; this screen only says
        that they are typing."""
        if self.busy or self.pin_window is not None:
            return
        window = CustomerPinWindow(self)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.entered.connect(self._pin_entered)
        window.cancelled.connect(self._pin_cancelled)
        self.pin_window = window
        self.pin_button.setEnabled(False)
        self.b_button.setEnabled(False)
        self.cancel_pin_button.show()
        self.message.setText("お客様用の画面で暗証番号を入力していただいています…")
        window.show_for_customer(self.window())

    def _pin_closed(self) -> None:
        self.pin_window = None
        self.cancel_pin_button.hide()
        self.pin_button.setEnabled(not self.busy)
        self.b_button.setEnabled(not self.busy)

    def _pin_entered(self, pin: str) -> None:
        self._pin_closed()
        self.start_pin_read(pin)

    def _pin_cancelled(self) -> None:
        self._pin_closed()
        self.message.setText("暗証番号の入力をやめました。")

    def _cancel_pin(self) -> None:
        if self.pin_window is not None:
            self.pin_window.cancel()

    def _request_household(self) -> None:
        if self.match is not None and self.match.household is not None:
            self.household_requested.emit(self.match.household.household_id)

    def _ask_collation_b(self) -> None:
        dialog = CollationBDialog(self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.start_collation_b_read(dialog.value())

    def start_pin_read(self, pin: str) -> None:
        self._start(lambda: self.service.read_with_pin(pin))

    def start_collation_b_read(self, collation_b: str) -> None:
        self._start(lambda: self.service.read_with_collation_b(collation_b))

    def start_status(self) -> None:
        self._start(self.service.status)

    def _start(self, fn: Callable[[], DeskReading]) -> None:
        if self.busy:
            return
        self.address_reveal.offer(None)  # a new reading: the previous card holder's goes
        self._set_busy(True, "カードを読み取っています。カードを動かさないでください…")

        service, state_of = self.service, self._card_state_of

        def work() -> tuple[DeskReading, MatchResult | None, CardState | None]:
            reading = fn()
            match = service.match(reading) if reading.face is not None else None
            state = None
            if match is not None and match.person is not None and state_of is not None:
                state = state_of(match.person.person_id)  # the cache: off the GUI thread too
            return reading, match, state

        run_in_background(self, work, self._read_done, self._fail)

    def _read_done(self, result: tuple[DeskReading, MatchResult | None, CardState | None]) -> None:
        reading, match, state = result
        self.reading = reading
        if match is not None:
            self.match = match
            if match.person is not None and state is not None:
                self._states[match.person.person_id] = state
        self._show_reading(reading)
        if match is not None:
            self._show_match(match)
        self._set_busy(False, match.message if match is not None else "読み取りました。")
        self.reading_done.emit(reading)
        if match is not None:
            self.matched.emit(match)

    def _show_reading(self, reading: DeskReading) -> None:
        lines = []
        for e in reading.expiries:
            mark = {"valid": "", "expiring": "⚠ ", "expired": "✖ "}[e.level]
            lines.append(f"{mark}{e.message}(有効期限 {format_western(e.expires_on)})")
        self.expiry_label.setText("\n".join(lines))
        self.retry_label.setText("\n".join(reading.retry_lines()))
        kenmen = reading.reading.kenmen
        if kenmen is not None:
            pix = QPixmap()
            if pix.loadFromData(kenmen.face_photo):
                self.photo.setPixmap(pix.scaled(96, 128, Qt.AspectRatioMode.KeepAspectRatio))
            else:  # JPEG 2000 without a Qt image plugin
                self.photo.setText("顔写真(表示できない形式です。券面で確認してください)")

    def _show_match(self, match: MatchResult) -> None:
        face = self.reading.face if self.reading else None
        self.table.setRowCount(0)
        household = match.household
        withheld = household is not None and is_withheld(household.address)
        offer = withheld and self._reveal_address is not None
        self.address_reveal.offer(household.household_id if offer and household else None)
        if face is None:
            return
        diffs = {d.field: d for d in match.differences}
        person, household = match.person, match.household
        rows: list[tuple[str, str, str, str]] = [
            ("name", "氏名", face.name, person.name if person else ""),
            ("address", "住所", face.address, register_address(household) if household else ""),
            (
                "birth_date",
                "生年月日",
                format_date(face.birth_date),
                format_date(person.birth_date) if person else "",
            ),
            ("sex", "性別", SEX_JA[face.sex], SEX_JA.get(person.sex, "") if person else ""),
        ]
        if face.my_number is not None:
            reg = person.my_number if person and person.my_number else ""
            rows.append(
                (
                    "my_number",
                    "個人番号",
                    mask_my_number(face.my_number),
                    mask_my_number(reg) if reg else "",
                )
            )
        for key, label, card_value, reg_value in rows:
            r = self.table.rowCount()
            self.table.insertRow(r)
            d = diffs.get(key)
            verdict = (
                "一致"
                if person and d is None
                else (f"{KIND_JA[d.kind]}: {d.message}" if d else "-")
            )
            for c, text in enumerate((label, card_value, reg_value, verdict)):
                item = QTableWidgetItem(text)
                if d is not None and d.kind != "notation":
                    item.setForeground(Qt.GlobalColor.red)
                self.table.setItem(r, c, item)

    def _address_revealed(self, household_id: str, address: str) -> None:
        household = self.match.household if self.match is not None else None
        if household is None or household.household_id != household_id:
            return
        for r in range(self.table.rowCount()):
            label = self.table.item(r, 0)
            if label is not None and label.text() == "住所":
                cell = self.table.item(r, 2)
                if cell is not None:
                    cell.setText(address)
        self.address_reveal.offer(None)

    def register_address_text(self) -> str:
        """What the comparison shows as the register's address (tests, the manual)."""
        for r in range(self.table.rowCount()):
            label, cell = self.table.item(r, 0), self.table.item(r, 2)
            if label is not None and label.text() == "住所" and cell is not None:
                return cell.text()
        return ""

    # -- recording -----------------------------------------------------------------------------

    def checklist(self) -> IdentityChecklist:
        return IdentityChecklist(
            face_photo_matched=self.face_check.isChecked(),
            documents=tuple(d for d, box in self.document_checks.items() if box.isChecked()),
            pins_set_by_resident=self.pin_set_check.isChecked(),
        )

    def record(self, action: CardAction) -> None:
        state = self.current_state()
        if self.busy or state is None or self.match is None or self.match.person is None:
            return
        person = self.match.person
        checklist = self.checklist() if action is CardAction.ISSUE else None
        reason = self.reason.text()
        self._set_busy(True, f"「{ACTION_LABELS[action]}」を記録しています…")

        service, persist = self.service, self._persist

        def work() -> RecordedCardEvent:
            recorded = service.record(action, person, state, checklist=checklist, reason=reason)
            if persist is not None:  # the outbox event and the card's state, in the worker too
                persist(recorded)
            return recorded

        run_in_background(self, work, self._recorded, self._fail)

    def _recorded(self, rec: RecordedCardEvent) -> None:
        self._states[rec.person_id] = rec.new_state
        self.reason.clear()
        self._set_busy(False, f"「{ACTION_LABELS[rec.action]}」を記録しました。")
        self.event_recorded.emit(rec)
