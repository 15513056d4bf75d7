"""The card desk widget with the in-process virtual card (Qt offscreen, pytest-qt)."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.cards.simulator import CardProfile, VirtualCard
from app.cards.simulator_transport import SimulatorTransport
from app.domain import wareki
from app.domain.cards import CardAction, CardFaceInfo, CardState
from app.domain.records import Household, Person
from app.services.card_desk import CardDeskService, DeskContext, RecordedCardEvent
from tests.support.poll import QT_WAIT_MS
from ui.card_desk import CardDeskWidget, CollationBDialog, CustomerPinWindow


def _register(profile: CardProfile, address: str | None = None):
    p = Person(
        person_id="P-1",
        juminhyo_code="12345678901",
        my_number=profile.my_number,
        version=2,
        status="resident",
        name=profile.name,
        name_kana="マドグチ ハナコ",
        birth_date=profile.birth_date,
        sex=profile.sex,
        relationship="世帯主",
    )
    h = Household("H-1", "012084", "090-0001", address or profile.address, None, "P-1", (p,))
    threads: list[str] = []

    def lookup(my_number: str | None, face: CardFaceInfo):
        threads.append(threading.current_thread().name)
        return [(p, h)]

    return lookup, threads


@pytest.fixture
def widget(qtbot, card: VirtualCard, profile: CardProfile):
    lookup, threads = _register(profile)
    svc = CardDeskService(
        DeskContext("op-1", ("issuer",), "T001"), lambda: SimulatorTransport(card), lookup
    )
    w = CardDeskWidget(svc)
    w.lookup_threads = threads
    qtbot.addWidget(w)
    return w


def test_read_with_pin_match_and_issue(qtbot, widget: CardDeskWidget, profile: CardProfile) -> None:
    with qtbot.waitSignal(widget.matched, timeout=QT_WAIT_MS) as blocker:
        widget.start_pin_read(profile.kenhojo_pin)
    assert blocker.args[0].identical
    # The card was read and matched off the GUI thread.
    assert widget.lookup_threads and widget.lookup_threads[0] != threading.main_thread().name
    assert widget.table.rowCount() == 5
    assert widget.table.item(0, 3).text() == "一致"
    assert profile.my_number not in widget.table.item(4, 1).text()  # masked
    assert "残り3回" in widget.retry_label.text()
    assert widget.current_state() == CardState.NOT_ISSUED
    assert widget.action_buttons[CardAction.ISSUE].isEnabled()
    assert not widget.action_buttons[CardAction.RESUME].isEnabled()

    # 交付 without the checklist is refused with a clear message.
    with qtbot.waitSignal(widget.failed, timeout=QT_WAIT_MS) as failed:
        widget.action_buttons[CardAction.ISSUE].click()
    assert "本人確認" in failed.args[0]

    widget.face_check.setChecked(True)
    widget.pin_set_check.setChecked(True)
    widget.document_checks["交付通知書"].setChecked(True)
    with qtbot.waitSignal(widget.event_recorded, timeout=QT_WAIT_MS) as rec:
        widget.action_buttons[CardAction.ISSUE].click()
    recorded: RecordedCardEvent = rec.args[0]
    assert recorded.new_state == CardState.ISSUED and recorded.event.type == "card_event"
    assert widget.current_state() == CardState.ISSUED
    assert widget.action_buttons[CardAction.SUSPEND].isEnabled()
    assert not widget.action_buttons[CardAction.ISSUE].isEnabled()


def test_collation_b_shows_photo_and_expiry(
    qtbot, widget: CardDeskWidget, profile: CardProfile
) -> None:
    with qtbot.waitSignal(widget.matched, timeout=QT_WAIT_MS):
        widget.start_collation_b_read(profile.collation_b)
    assert widget.photo.pixmap() is not None and not widget.photo.pixmap().isNull()
    # Dates as the card's face writes them: 有効期限 in 西暦, 生年月日 in 和暦, never ISO.
    expires = profile.card_expires_on
    assert f"{expires.year}年{expires.month}月{expires.day}日" in widget.expiry_label.text()
    assert expires.isoformat() not in widget.expiry_label.text()
    assert widget.table.item(2, 0).text() == "生年月日"
    assert widget.table.item(2, 1).text() == wareki.format_date(profile.birth_date)
    assert widget.table.rowCount() == 4  # no 個人番号 with 照合番号B


def test_wrong_pin_message_and_status(qtbot, widget: CardDeskWidget) -> None:
    with qtbot.waitSignal(widget.failed, timeout=QT_WAIT_MS) as failed:
        widget.start_pin_read("0000")
    assert "残り2回" in failed.args[0] and "残り2回" in widget.message.text()
    assert widget.pin_button.isEnabled()
    with qtbot.waitSignal(widget.reading_done, timeout=QT_WAIT_MS):
        widget.start_status()
    assert "券面事項入力補助用暗証番号: 残り2回" in widget.retry_label.text()


def test_address_difference_is_shown(qtbot, card: VirtualCard, profile: CardProfile) -> None:
    lookup, _ = _register(profile, address="北海道北見市とん田東町1番地")
    svc = CardDeskService(
        DeskContext("op-1", ("issuer",), "T001"), lambda: SimulatorTransport(card), lookup
    )
    w = CardDeskWidget(svc)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.matched, timeout=QT_WAIT_MS):
        w.start_pin_read(profile.kenhojo_pin)
    assert "追記が必要" in w.table.item(1, 3).text()
    assert w.table.item(0, 3).text() == "一致"


def test_pin_pad_and_collation_b_dialogs(qtbot) -> None:
    pad = CustomerPinWindow()
    qtbot.addWidget(pad)
    for k in "12345":
        pad.press(k)
    assert pad.pin() == "1234" and pad.display.text() == "●●●●"
    pad.press("訂正")
    assert pad.pin() == "" and not pad.keys["決定"].isEnabled()
    b = CollationBDialog()
    qtbot.addWidget(b)
    b.birth.setText("６００４１２")  # full-width digits as an IME gives them
    b.expiry_year.setText("2035")
    b.code.setText("5678")
    assert b.value() == "60041220355678"
    # Qt's own buttons are not left in English.
    texts = {btn.text() for btn in b.findChildren(type(pad.keys["0"]))}
    assert {"読み取り", "取消"} <= texts and "OK" not in texts and "Cancel" not in texts


def test_pin_pad_from_the_keyboard(qtbot) -> None:
    pad = CustomerPinWindow()
    qtbot.addWidget(pad)
    pad.show()
    entered: list[str] = []
    pad.entered.connect(entered.append)
    qtbot.keyClicks(pad, "1299")
    qtbot.keyClick(pad, Qt.Key.Key_Backspace)
    qtbot.keyClick(pad, Qt.Key.Key_8)
    assert pad.display.text() == "●●●●"  # never the digits
    qtbot.keyClick(pad, Qt.Key.Key_Return)
    assert entered == ["1298"]
    assert not pad.isVisible()


def test_pin_is_typed_in_the_customer_window_not_on_the_clerks_screen(
    qtbot, widget: CardDeskWidget, profile: CardProfile
) -> None:
    widget.show()
    widget.pin_button.click()
    pad = widget.pin_window
    assert pad is not None and pad.isWindow() and pad.window() is not widget.window()
    # The clerk's screen only says that the resident is typing; no digit field on it.
    assert "お客様用の画面" in widget.message.text()
    assert not widget.pin_button.isEnabled() and widget.cancel_pin_button.isVisible()
    with qtbot.waitSignal(widget.matched, timeout=QT_WAIT_MS):
        qtbot.keyClicks(pad, profile.kenhojo_pin)
        qtbot.keyClick(pad, Qt.Key.Key_Enter)
    assert widget.pin_window is None and widget.pin_button.isEnabled()
    # Esc in the customer's window cancels, and the desk says so.
    widget.pin_button.click()
    pad = widget.pin_window
    assert pad is not None
    qtbot.keyClick(pad, Qt.Key.Key_Escape)
    QApplication.processEvents()
    assert widget.pin_window is None and "やめました" in widget.message.text()


def test_matched_household_opens_from_the_desk(
    qtbot, widget: CardDeskWidget, profile: CardProfile
) -> None:
    assert not widget.open_household_button.isEnabled()
    with qtbot.waitSignal(widget.matched, timeout=QT_WAIT_MS):
        widget.start_pin_read(profile.kenhojo_pin)
    assert widget.open_household_button.isEnabled()
    with qtbot.waitSignal(widget.household_requested) as asked:
        widget.open_household_button.click()
    assert asked.args == ["H-1"]


def test_presence_signal_from_another_thread(qtbot, widget: CardDeskWidget) -> None:
    t = threading.Thread(target=lambda: widget.card_presence.emit("Virtual PCD 00 00", True))
    t.start()
    t.join()
    qtbot.waitUntil(lambda: "カードが置かれました" in widget.message.text(), timeout=QT_WAIT_MS)
    widget.card_presence.emit("Virtual PCD 00 00", False)
    assert "取り外されました" in widget.message.text()


def test_card_pulled_out_mid_read_is_explained(
    qtbot, card: VirtualCard, profile: CardProfile
) -> None:
    lookup, _ = _register(profile)
    svc = CardDeskService(
        DeskContext("op-1", ("issuer",), "T001"),
        lambda: SimulatorTransport(card, remove_after=8),
        lookup,
    )
    w = CardDeskWidget(svc)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.failed, timeout=QT_WAIT_MS) as failed:
        w.start_pin_read(profile.kenhojo_pin)
    assert "取り外されました" in failed.args[0]
    assert w.pin_button.isEnabled() and w.table.rowCount() == 0
