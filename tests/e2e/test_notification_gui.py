"""The 「異動届」 and 「届出審査」 tabs through the real widgets (pytest-qt, Qt offscreen) on a real
session, server and cache: a 転居 typed from the keyboard, checks shown per field as the clerk
types, the 届書 printed (to a PDF file), filed, confirmed in the 審査 tab, and the tab's action
buttons inside a 1366x768 screen. With MADOGUCHI_SCREENSHOTS=DIR the window is saved at
1366x768 (docs/images: run under Xvfb with QT_QPA_PLATFORM=xcb)."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.domain import wareki
from app.domain.certificates import IdentityDocument
from app.domain.notifications import Procedure
from tests.e2e import notification_helpers as N
from tests.e2e.conftest import PASSWORDS
from ui.main_window import MainWindow
from ui.notification_tab import NotificationTab
from ui.print_job import print_document as print_job

TIMEOUT = 30_000
SCREEN = QRect(0, 0, 1366, 768)


def _window(qtbot, session, tmp_path: Path, previews: list[str]) -> MainWindow:  # type: ignore[no-untyped-def]
    def print_document(pdf: bytes, copies: int) -> int:
        target = tmp_path / f"printed-{len(list(tmp_path.glob('printed-*')))}.pdf"
        return print_job(pdf, printer=None, copies=copies, output_file=str(target)).pages

    def confirm(pdf: bytes, title: str) -> bool:
        previews.append(title)
        return True

    window = MainWindow(
        session,
        notification_tab_factory=lambda s: NotificationTab(
            s, print_document=print_document, confirm_print=confirm
        ),
    )
    qtbot.addWidget(window)
    window.resize(SCREEN.size())
    window.show()
    return window


def type_text(qtbot, widget: QWidget, text: str) -> None:  # type: ignore[no-untyped-def]
    """As the clerk types: ASCII as key clicks, Japanese as the IME commits it (QTest's key
    clicks take Latin-1 only)."""
    widget.setFocus()
    for run in re.findall(r"[\x20-\x7e]+|[^\x20-\x7e]+", text):
        if run.isascii():
            qtbot.keyClicks(widget, run)
        else:
            event = QInputMethodEvent()
            event.setCommitString(run)
            QApplication.sendEvent(widget, event)


def _shot(window: QWidget, name: str) -> None:
    out = os.environ.get("MADOGUCHI_SCREENSHOTS")
    if out:
        QApplication.processEvents()
        window.grab().save(str(Path(out) / name))


def _inside_screen(window: QWidget, widget: QWidget) -> bool:
    rect = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
    return widget.isVisible() and SCREEN.contains(rect)


def test_the_tab_fits_1366x768(qtbot, counter, tmp_path: Path) -> None:
    session = N.login_service(counter.terminal_dir).login("clerk01", PASSWORDS["clerk01"])
    window = _window(qtbot, session, tmp_path, [])
    tab = window.notification_tab
    assert tab is not None
    window.tabs.setCurrentWidget(tab)
    QApplication.processEvents()
    # The layout's minimum does not push the window past the screen…
    assert window.width() <= SCREEN.width() and window.height() <= SCREEN.height()
    # …and every action of the tab is on it, whatever the procedure shows.
    for procedure in Procedure:
        tab.procedure.setCurrentIndex(tab.procedure.findData(procedure))
        QApplication.processEvents()
        for button in (
            tab.print_button,
            tab.signature,
            tab.documents_checked,
            tab.file_button,
            tab.new_button,
            tab.status_button,
            tab.procedure,
            tab.moved_on,
        ):
            assert _inside_screen(window, button), (procedure, button.objectName())
    window.close()


def test_a_move_within_typed_printed_filed_and_confirmed(qtbot, counter, tmp_path: Path) -> None:
    clerk = N.login_service(counter.terminal_dir).login("clerk01", PASSWORDS["clerk01"])
    previews: list[str] = []
    window = _window(qtbot, clerk, tmp_path, previews)
    with qtbot.waitSignal(window.synced, timeout=TIMEOUT):
        window.sync_now()
    tab = window.notification_tab
    assert tab is not None
    window.tabs.setCurrentWidget(tab)
    assert window.tabs.tabText(window.tabs.currentIndex()) == "異動届"
    window.activateWindow()  # the F-keys are the window's shortcuts (an X server needs focus)
    qtbot.waitUntil(window.isActiveWindow, timeout=TIMEOUT)

    # Keyboard-first: procedure, search, Enter on a hit, the date in 和暦, the address.
    tab.procedure.setFocus()
    tab.procedure.setCurrentIndex(tab.procedure.findData(Procedure.MOVE_WITHIN))
    target = N.plain_household(clerk)
    type_text(qtbot, tab.search_name, target.head.name)
    type_text(qtbot, tab.search_birth, wareki.format_date(target.head.birth_date))
    qtbot.keyClick(tab.search_name, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: tab.hits_list.count() > 0 and bool(tab._hits), timeout=TIMEOUT)
    row = next(i for i, h in enumerate(tab._hits) if h.household_id == target.household_id)
    tab.hits_list.setCurrentRow(row)
    qtbot.keyClick(tab.hits_list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: tab.source is not None, timeout=TIMEOUT)
    assert len(tab.movers.chosen()) == len(target.members)  # the whole household by default
    type_text(qtbot, tab.moved_on, wareki.format_date(clerk.today() - timedelta(days=2)))

    # A town the list does not know: the address field is marked, the message says why.
    type_text(qtbot, tab.new_address, "北海道北見市存在町1番地")
    qtbot.waitUntil(lambda: "#c62828" in tab.new_address.styleSheet(), timeout=TIMEOUT)
    assert "町名" in tab.new_address.toolTip()
    assert not tab.print_button.isEnabled()
    tab.new_address.clear()
    type_text(qtbot, tab.new_address, N.NEW_ADDRESS.text)
    type_text(qtbot, tab.katagaki, N.NEW_ADDRESS.katagaki or "")
    assert tab.postal.text() == "090-0052"  # the town list's postal code
    tab.documents[IdentityDocument.DRIVERS_LICENSE].setChecked(True)
    qtbot.waitUntil(lambda: tab.print_button.isEnabled(), timeout=TIMEOUT)
    assert tab.new_address.styleSheet() == "" and not tab.findings.errors
    _shot(window, "screen-notification.png")

    # F5 prints the 届書 (preview, then the printer); then the clerk's two ticks; F9 files.
    qtbot.keyClick(tab, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: tab.prepared is not None, timeout=TIMEOUT)
    assert previews == ["住民異動届"] and list(tmp_path.glob("printed-*.pdf"))
    assert not tab.file_button.isEnabled()  # signature and documents not yet confirmed
    tab.signature.setChecked(True)
    tab.documents_checked.setChecked(True)
    qtbot.waitUntil(lambda: tab.file_button.isEnabled(), timeout=TIMEOUT)
    with qtbot.waitSignal(tab.filed, timeout=TIMEOUT) as filed:
        qtbot.keyClick(tab, Qt.Key.Key_F9)
    nid = filed.args[0]
    assert "届け出ました" in tab.message.text() and tab.source is None  # a fresh 届出 next
    qtbot.waitUntil(lambda: clerk.cache.outbox_count() == 0, timeout=TIMEOUT)  # the window synced
    window.close()

    # The head office: review01 confirms in the 届出審査 tab.
    counter.server.add_operator("review01", "審査 一子", ("review",), "本庁", "review-passphrase-1")
    reviewer = N.login_service(counter.terminal_dir).login("review01", "review-passphrase-1")
    review_window = MainWindow(reviewer)
    qtbot.addWidget(review_window)
    review_window.show()
    titles = [review_window.tabs.tabText(i) for i in range(review_window.tabs.count())]
    assert "届出審査" in titles and "異動届" not in titles
    review = review_window.tabs.widget(titles.index("届出審査"))
    review_window.tabs.setCurrentWidget(review)
    review.refresh()
    qtbot.waitUntil(lambda: bool(review.items), timeout=TIMEOUT)
    assert [s.notification_id for s in review.items] == [nid]
    qtbot.waitUntil(lambda: review.detail is not None, timeout=TIMEOUT)
    html = review.view.toHtml()
    assert target.head.name in html and "北進町123番地4" in html
    assert review.confirm_button.isEnabled() and not review.confirm_current.isEnabled()
    review_window.resize(SCREEN.size())
    _shot(review_window, "screen-notification-review.png")
    review.confirm_button.click()
    qtbot.waitUntil(lambda: "確定しました" in review.message.text(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not review.items, timeout=TIMEOUT)
    actions = [e.action for e in reviewer.chain.query(operator_id="review01")]
    assert "notification_confirmed" in actions
    review_window.close()


def test_special_move_in_through_the_tab_with_the_virtual_card(qtbot, counter, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The card path of the tab (cli/card_desk_wiring, the demo's virtual card reader with the
    moving-in family's card) → 住基ネット's simulator → the movers → filed → confirmed."""
    from cli.card_desk_wiring import notification_card_reader, present_demo_card
    from server.cli import main as server_main

    clerk = N.login_service(counter.terminal_dir).login("clerk01", PASSWORDS["clerk01"])
    present_demo_card("movein_card.json")
    try:
        reader = notification_card_reader(clerk, demo=True, ask_pin=lambda _parent: "2468")
        window = MainWindow(
            clerk,
            notification_tab_factory=lambda s: NotificationTab(
                s,
                print_document=lambda pdf, copies: 1,
                read_card=reader,
                confirm_print=lambda pdf, title: True,
            ),
        )
        qtbot.addWidget(window)
        window.show()
        with qtbot.waitSignal(window.synced, timeout=TIMEOUT):
            window.sync_now()
        tab = window.notification_tab
        assert tab is not None
        window.tabs.setCurrentWidget(tab)
        tab.procedure.setCurrentIndex(tab.procedure.findData(Procedure.SPECIAL_MOVE_IN))
        tab.card_button.click()
        qtbot.waitUntil(lambda: len(tab.movers.movers) == 3, timeout=TIMEOUT)
        assert tab.card_presented and tab.certificate is not None
        assert tab.new_address.text() == tab.certificate.destination
        assert tab.documents[IdentityDocument.MY_NUMBER_CARD].isChecked()
        assert tab.filer_name.text() == "大空 翔"
        assert "カード継続利用" in tab.movers.item(0, 6).text()
        qtbot.waitUntil(lambda: tab.print_button.isEnabled(), timeout=TIMEOUT)
        tab.print_form()
        qtbot.waitUntil(lambda: tab.prepared is not None, timeout=TIMEOUT)
        tab.signature.setChecked(True)
        tab.documents_checked.setChecked(True)
        qtbot.waitUntil(lambda: tab.file_button.isEnabled(), timeout=TIMEOUT)
        with qtbot.waitSignal(tab.filed, timeout=TIMEOUT) as filed:
            tab.file()
        qtbot.waitUntil(lambda: clerk.cache.outbox_count() == 0, timeout=TIMEOUT)
        data_dir = str(counter.server.config.data_dir)
        args = ["--data-dir", data_dir, "notification", "confirm", filed.args[0], "--by", "r1"]
        assert server_main(args) == 0
        clerk.sync_once()
        hits = clerk.search(name="おおぞら").hits
        assert sorted(h.name for h in hits) == ["大空 美咲", "大空 翔", "大空 陽菜"]
        window.close()
    finally:
        present_demo_card("demo_card.json")
