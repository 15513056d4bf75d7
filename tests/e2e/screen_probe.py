"""Run by tests/e2e/test_screen_fit.py in a fresh process per screen (the screen size and the
scale factor are fixed when Qt starts): log in to the test counter, open every window and dialog
of the product, and report each action button that is not inside the screen's available area.

    QT_QPA_PLATFORM=offscreen:configfile=SCREEN.json QT_SCALE_FACTOR=1.5 \\
        python -m tests.e2e.screen_probe TERMINAL_DIR PASSWORDS.json

Prints one JSON object: {"screen": [w, h], "checked": [names], "problems": [texts]}.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QInputDialog,
    QPushButton,
    QWidget,
)

from app.cards.mynumber import CardReading
from app.domain.cards import CardFaceInfo, CardState
from app.domain.certificates import RequesterKind, ThirdPartyGround
from app.services.card_desk import DeskReading
from app.services.login import LoginService
from cli.gui import build_main_window, create_application
from printing import render_certificate, render_daily_report
from tests.e2e.conftest import PROTECTED_ADDRESS, PROTECTED_HOUSEHOLD, PROTECTED_PERSON
from ui.approval import ApprovalDialog
from ui.card_desk import CardDeskWidget, CollationBDialog, CustomerPinWindow
from ui.issuance_dialog import IssuanceDialog
from ui.login import LoginDialog
from ui.main_window import MainWindow
from ui.search_panel import ADDRESS_COLUMN
from ui.settings import Settings, SettingsDialog

checked: list[str] = []
problems: list[str] = []


def _settle() -> None:
    for _ in range(5):
        QApplication.processEvents()


def _scrolled(widget: QWidget, window: QWidget) -> bool:
    """Inside a scrolling area of the window: reachable by scrolling, not an action button."""
    w = widget.parentWidget()
    while w is not None and w is not window:
        if isinstance(w, QAbstractScrollArea):
            return True
        w = w.parentWidget()
    return False


def check(window: QWidget, name: str) -> None:
    _settle()
    area = window.screen().availableGeometry()
    checked.append(name)
    frame = window.frameGeometry()
    # A pixel of tolerance: the offscreen platform's 1-pixel frame, scaled by 1.25, rounds out.
    if not area.adjusted(-1, -1, 1, 1).contains(frame):
        problems.append(f"{name}: window {frame.getRect()} outside the screen {area.getRect()}")
    inside = QRect(window.mapToGlobal(QPoint(0, 0)), window.size())
    for button in window.findChildren(QPushButton):
        if not button.isVisible() or _scrolled(button, window) or button.window() is not window:
            continue
        rect = QRect(button.mapToGlobal(QPoint(0, 0)), button.size())
        if not (area.contains(rect) and inside.contains(rect)):
            problems.append(
                f"{name}: button 「{button.text()}」 at {rect.getRect()} is outside "
                f"the screen {area.getRect()} or its window {inside.getRect()}"
            )
    if isinstance(window, MainWindow):
        status = window.status
        rect = QRect(status.mapToGlobal(QPoint(0, 0)), status.size())
        if not status.isVisible() or not area.contains(rect):
            problems.append(f"{name}: the status bar at {rect.getRect()} is not on the screen")


def long_decision(dialog: IssuanceDialog, *, ask_items: bool = True) -> None:
    """A third party asking for every item it may ask for, none of them shown to be needed: the
    decision lists each item it leaves out (many lines)."""
    panel = dialog.requester_panel
    panel.set_kind(RequesterKind.THIRD_PARTY)
    panel.enter_by_hand("債権　回収", "北海道札幌市中央区北1条西2丁目1番地", "S50.4.1")
    panel.ground.setCurrentIndex(panel.ground.findData(ThirdPartyGround.OWN_RIGHTS))
    panel.reason.setText("貸金返還請求訴訟の提起のため")
    panel.submit_to.setText("札幌地方裁判所北見支部")
    next(iter(dialog.id_checks.values())).setChecked(True)
    if ask_items:
        ask_every_item(dialog)


def ask_every_item(dialog: IssuanceDialog) -> None:
    dialog.items_panel.ask(*(i for i, cb in dialog.items_panel.checks.items() if cb.isEnabled()))


def wait(predicate: Any, what: str, timeout_s: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        QApplication.processEvents()
        time.sleep(0.01)


def issue_and_reprint(service: LoginService, passwords: dict[str, str]) -> list[str]:
    """A clerk issues one certificate and reprints it with the supervisor's approval (a void +
    a new 交付番号): the 交付履歴 then has two rows and the link between them."""
    from tests.e2e.test_counter_services import self_request

    clerk = service.login("issuer01", passwords["issuer01"])
    try:
        clerk.sync_once()
        hits = clerk.search(name="さとう").hits
        hit = next(h for h in hits if h.status == "resident" and not h.protected)
        household = clerk.open_household(hit.household_id)
        request = self_request(household, hit.person_id, "勤務先に提出するため")
        first = clerk.issue(request, household).issuance.issuance_no
        approval = clerk.approve(
            "super01", passwords["super01"], "用紙詰まり", request, household, replaces=first
        )
        second = clerk.reissue(first, request, household, approval=approval).issuance.issuance_no
        return [first, second]
    finally:
        clerk.logout()


def readable(table: Any, columns: list[int], name: str, must_show: list[str]) -> None:
    """Each cell of `columns` fits its column, and the first column lies wholly in view."""
    checked.append(f"{name}・列の幅")
    _settle()
    metrics = table.fontMetrics()
    shown = set()
    for c in columns:
        width = table.columnWidth(c)
        for r in range(table.rowCount()):
            item = table.item(r, c)
            text = item.text() if item is not None else ""
            shown.add(text)
            if metrics.horizontalAdvance(text) > width - 6:  # Qt's cell margins
                problems.append(f"{name}: 「{text}」 is cut in its column ({width} px)")
    first = table.columnViewportPosition(columns[0]) + table.columnWidth(columns[0])
    if first > table.viewport().width():
        problems.append(f"{name}: the first column ends at {first}, outside the table's view")
    missing = [n for n in must_show if n not in shown]
    if missing:
        problems.append(f"{name}: {missing} not shown")


def main(terminal_dir: str, passwords_file: str) -> None:
    passwords = json.loads(Path(passwords_file).read_text(encoding="utf-8"))
    app = create_application()
    service = LoginService(
        Path(terminal_dir), render_certificate, daily_report_renderer=render_daily_report
    )

    login = LoginDialog(service.login, terminal_label="試験")
    login.show()
    check(login, "ログイン")
    login.close()

    reprinted = issue_and_reprint(service, passwords)

    session = service.login("super01", passwords["super01"])
    session.sync_once()
    window = build_main_window(session)
    window.show_restored()
    _settle()
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        check(window, f"メイン画面・{window.tabs.tabText(i)}")
    window.tabs.setCurrentIndex(0)

    # The search list's 住所 column shows at least the 町名 ("北4条東8丁目"), not only 「…」.
    panel = window.search_panel
    assert panel is not None
    panel.name.setText("たかはし")
    panel.run_search()
    wait(lambda: panel.table.rowCount() > 0, "the search results")
    _settle()
    checked.append("住民検索・住所の列")
    address_width = panel.table.columnWidth(ADDRESS_COLUMN)
    needed = panel.table.fontMetrics().horizontalAdvance("北4条東8丁目") + 6
    if address_width < needed:
        problems.append(f"住民検索: the 住所 column is {address_width} px, the 町名 needs {needed}")

    # 交付履歴 with an issuance and its reprint: the 交付番号 column is read out, never cut.
    history = window.history
    assert history is not None
    window.tabs.setCurrentWidget(history)
    wait(lambda: history.table.rowCount() >= 2, "the 交付履歴")
    check(window, "メイン画面・交付履歴(印刷し直し)")
    readable(history.table, [0, history.COLUMNS.index("印刷し直し")], "交付履歴", reprinted)
    window.tabs.setCurrentIndex(0)

    household = session.open_household(PROTECTED_HOUSEHOLD)
    assert window.household_view is not None
    window.household_view.show_household(household, session.today())
    check(window, "メイン画面・支援措置の世帯")

    # 個人の詳細: first the reason (支援措置), then the detail; and a long 異動履歴.
    detail = window.open_person_detail(PROTECTED_PERSON)
    assert detail is not None
    check(detail, "個人の詳細・理由")
    detail.reason.setText("本人からの異動履歴の確認")
    detail.request()
    wait(lambda: detail.detail is not None, "the protected person's detail")
    check(detail, "個人の詳細・支援措置")
    detail.reject()
    longest = max(
        session.search(name="さとう").hits,
        key=lambda h: len(session.cache.person(h.person_id)[0].history),
    )
    window.household_view.show_household(
        session.open_household(longest.household_id), session.today()
    )
    detail = window.open_person_detail(longest.person_id)
    assert detail is not None
    wait(lambda: detail.detail is not None, "a person's detail")
    check(detail, "個人の詳細")
    detail.reject()

    # The card desk's comparison with the register's address withheld (the reveal row shown).
    desk = window.card_desk
    if isinstance(desk, CardDeskWidget):
        face = CardFaceInfo("守田 静香", PROTECTED_ADDRESS, date(1990, 6, 1), "female")
        reading = DeskReading("pin", CardReading(face=face))
        desk._read_done((reading, desk.service.match(reading), CardState.NOT_ISSUED))
        window.tabs.setCurrentWidget(desk)
        check(window, "メイン画面・カード窓口・住所の表示")
        window.tabs.setCurrentIndex(0)

    # The issuance dialog of a large household, with a long decision (third party, no purpose).
    hits = session.search(name="さとう").hits
    largest = max(
        (session.open_household(h.household_id) for h in hits), key=lambda h: len(h.members)
    )
    dialog = window.open_issuance(largest)
    wait(lambda: not dialog.deciding, "the first decision")
    check(dialog, "交付")
    long_decision(dialog)
    wait(lambda: not dialog.deciding, "the long decision")
    check(dialog, "交付・長い判定")
    dialog.reject()
    protected = window.open_issuance(household)
    wait(lambda: not protected.deciding, "the protected decision")
    check(protected, "交付・支援措置")
    protected.reject()

    approval = ApprovalDialog(lambda *_a: None, parent=window)
    approval.show()
    check(approval, "監督者の承認")
    approval.reject()

    settings = SettingsDialog(Settings.beside(session.cache.path), window)
    settings.show()
    check(settings, "設定")
    settings.reject()

    report = window.show_daily_report(session.daily_report_pdf())
    check(report, "日計表")
    report.reject()

    pin = CustomerPinWindow(window)
    pin.show_for_customer(window)
    check(pin, "暗証番号(お客様用)")
    pin.cancel()
    collation = CollationBDialog(window)
    collation.show()
    check(collation, "照合番号B")
    collation.reject()

    void = QInputDialog(window)
    void.setWindowTitle("交付の取消")
    void.setLabelText("交付番号 T01-20261126-1 を取り消す理由:")
    void.show()
    check(void, "交付の取消(理由)")
    void.reject()

    window.idle_lock.lock()
    check(window, "画面ロック")
    window.close()
    wait(lambda: session.closed, "the logout")

    auditor = service.login("audit01", passwords["audit01"])
    audit_window = build_main_window(auditor)
    audit_window.show_restored()
    check(audit_window, "監査ログ")
    audit_window.close()
    wait(lambda: auditor.closed, "the auditor's logout")

    screen = app.primaryScreen().availableGeometry()
    print(
        json.dumps(
            {"screen": [screen.width(), screen.height()], "checked": checked, "problems": problems},
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
