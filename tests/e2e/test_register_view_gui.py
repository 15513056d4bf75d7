"""The counter screen over the register view (issue 17, second pass), with the real session
behind it (Qt offscreen): a household at a protected address comes withheld and is shown with a
reason through the session's own reveal; the card desk's comparison withholds the register's
address too; the person-detail window opens from the household with the keyboard, asks a reason
for a protected person, shows 本籍・筆頭者, 前住所 and 異動履歴, and closes with Esc."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from app.cards.mynumber import CardReading
from app.domain.cards import CardFaceInfo, CardState
from app.services.card_desk import CardDeskService, DeskContext, DeskReading
from app.store.audit import AuditAction
from cli.gui import build_main_window
from tests.e2e.conftest import (
    NEIGHBOUR_HOUSEHOLD,
    PROTECTED_ADDRESS,
    PROTECTED_HOUSEHOLD,
    PROTECTED_PERSON,
)
from ui.card_desk import CardDeskWidget
from ui.household_view import ADDRESS_WARNING, HIDDEN_ADDRESS
from ui.main_window import MainWindow
from ui.person_detail import PersonDetailDialog

TIMEOUT = 30_000


def _login(counter: Any, operator_id: str) -> Any:
    session = counter.login(operator_id)
    assert session.sync_once().error is None
    return session


@pytest.fixture
def issuer(counter: Any) -> Iterator[Any]:
    s = _login(counter, "issuer01")
    yield s
    s.logout()


def _window(qtbot: Any, session: Any) -> MainWindow:
    window = build_main_window(session)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def _open(qtbot: Any, window: MainWindow, household_id: str) -> Any:
    view = window.household_view
    assert view is not None
    window.open_household(household_id)
    qtbot.waitUntil(lambda: view.household is not None, timeout=TIMEOUT)
    return view


def _texts(widget: Any) -> str:
    return "\n".join(lbl.text() for lbl in widget.findChildren(QLabel) if lbl.isVisible())


def test_neighbour_at_a_protected_address_is_withheld_then_revealed(
    qtbot: Any, issuer: Any
) -> None:
    window = _window(qtbot, issuer)
    view = _open(qtbot, window, NEIGHBOUR_HOUSEHOLD)
    # Nobody in this household is protected: the address is, and the session never sent it.
    assert view.household.address != PROTECTED_ADDRESS
    assert view.address.text() == HIDDEN_ADDRESS and view.warning.text() == ADDRESS_WARNING
    assert PROTECTED_ADDRESS not in _texts(window)
    view.reveal_reason.setText("本人からの住所確認の申出")
    view.reveal_button.click()
    qtbot.waitUntil(lambda: PROTECTED_ADDRESS in view.address.text(), timeout=TIMEOUT)
    assert "北1条ハイツ202号" in view.address.text()
    [entry] = issuer.chain.query(actions=[AuditAction.REVEAL_ADDRESS.value])
    assert entry.target_ids[0] == NEIGHBOUR_HOUSEHOLD
    view.hide_address()
    assert view.address_hidden


def test_clerk_gets_no_reveal_and_no_detail(qtbot: Any, counter: Any) -> None:
    clerk = _login(counter, "clerk01")
    try:
        window = _window(qtbot, clerk)
        view = _open(qtbot, window, PROTECTED_HOUSEHOLD)
        assert view.address.text() == HIDDEN_ADDRESS
        assert not view.reveal_row.isVisible()  # REVEAL_ADDRESS: issuers and supervisors
        assert view.detail_button.isHidden()  # VIEW_PERSON_DETAIL likewise
        view.table.selectRow(0)
        view.request_detail()
        assert not window.findChildren(PersonDetailDialog)
    finally:
        clerk.logout()


def test_card_desk_comparison_withholds_the_register_address(qtbot: Any, issuer: Any) -> None:
    service = CardDeskService(
        DeskContext("issuer01", ("issuer",), issuer.terminal_no),
        lambda: None,  # type: ignore[arg-type,return-value]  # the reading is given below
        issuer.card_lookup,
        screen=issuer.screen_household,
    )
    desk = CardDeskWidget(service, reveal_address=issuer.reveal_protected_address)
    qtbot.addWidget(desk)
    desk.show()
    face = CardFaceInfo(
        name="守田 静香", address=PROTECTED_ADDRESS, birth_date=date(1990, 6, 1), sex="female"
    )
    reading = DeskReading("pin", CardReading(face=face))
    desk._read_done((reading, service.match(reading), CardState.NOT_ISSUED))
    assert desk.register_address_text() == "(支援措置のため表示しません)"
    assert desk.address_reveal.isVisible()
    desk.address_reveal.reason.setText("カードの住所変更の確認")
    desk.address_reveal.button.click()
    qtbot.waitUntil(lambda: PROTECTED_ADDRESS in desk.register_address_text(), timeout=TIMEOUT)
    assert not desk.address_reveal.isVisible()
    [entry] = issuer.chain.query(actions=[AuditAction.REVEAL_ADDRESS.value])
    assert entry.target_ids[0] == PROTECTED_HOUSEHOLD and entry.reason == "カードの住所変更の確認"


def _detail_dialog(qtbot: Any, window: MainWindow) -> PersonDetailDialog:
    qtbot.waitUntil(
        lambda: any(d.isVisible() for d in window.findChildren(PersonDetailDialog)),
        timeout=TIMEOUT,
    )
    return next(d for d in window.findChildren(PersonDetailDialog) if d.isVisible())


def test_person_detail_from_the_household_with_the_keyboard(qtbot: Any, issuer: Any) -> None:
    window = _window(qtbot, issuer)
    hit = next(
        h for h in issuer.search(name="さとう").hits if h.status == "resident" and not h.protected
    )
    view = _open(qtbot, window, hit.household_id)
    row = next(i for i, m in enumerate(view.household.members) if m.honseki and m.history)
    person = view.household.members[row]
    view.table.setFocus()
    view.table.selectRow(row)
    qtbot.keyClick(view.table, Qt.Key.Key_Return)  # Enter on the row
    dialog = _detail_dialog(qtbot, window)
    qtbot.waitUntil(lambda: dialog.detail is not None, timeout=TIMEOUT)
    assert not dialog.reason_row.isVisible()
    assert dialog.fields["honseki"].text() == person.honseki
    assert dialog.fields["hittosha"].text() == person.hittosha
    assert dialog.history.rowCount() == len(person.history)
    assert dialog.history.item(0, 1).text() == person.history[0].kind
    assert issuer.chain.query(actions=[AuditAction.VIEW_PERSON.value])[0].target_ids[0] == (
        person.person_id
    )
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    # Alt+P (the button's mnemonic) opens it again.
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=TIMEOUT)
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)
    again = _detail_dialog(qtbot, window)
    qtbot.waitUntil(lambda: again.detail is not None, timeout=TIMEOUT)
    qtbot.keyClick(again, Qt.Key.Key_F12)
    assert not again.isVisible()


def test_person_detail_of_a_protected_person_asks_the_reason_first(qtbot: Any, issuer: Any) -> None:
    window = _window(qtbot, issuer)
    view = _open(qtbot, window, PROTECTED_HOUSEHOLD)
    view.table.selectRow(0)
    view.detail_button.click()
    dialog = _detail_dialog(qtbot, window)
    assert dialog.reason_row.isVisible() and dialog.detail is None
    assert dialog.focusWidget() is dialog.reason
    assert dialog.fields["honseki"].text() == ""  # nothing asked for yet
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)  # no reason: nothing is asked
    assert "理由" in dialog.message.text() and dialog.detail is None
    assert not issuer.chain.query(actions=[AuditAction.VIEW_PERSON.value])
    dialog.reason.setText("本人からの異動履歴の確認")
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.detail is not None, timeout=TIMEOUT)
    assert dialog.detail.person_id == PROTECTED_PERSON
    assert dialog.fields["address"].text() == "(支援措置のため表示しません)"
    assert "まで" in dialog.fields["support"].text()
    assert PROTECTED_ADDRESS not in _texts(dialog)
    [entry] = issuer.chain.query(actions=[AuditAction.VIEW_PERSON.value])
    assert entry.reason == "本人からの異動履歴の確認"
    dialog.reject()
