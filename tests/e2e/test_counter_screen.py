"""What a clerk notices at the counter screen, with the real session behind it (server over
HTTPS on loopback, SQLCipher cache, Qt offscreen): nothing of the previous customer stays,
another operator's takeover rebuilds the screen, 支援措置 hides the address until a reason is
given, the issuance dialog does not move under the pointer, the GUI thread never does the slow
work, the keyboard reaches everything, and the window remembers its state."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtWidgets import QApplication, QCheckBox, QLabel

from app.domain.identifiers import juminhyo_code_check_digit
from app.store.audit import AuditAction
from cli.gui import build_main_window
from tests.e2e.conftest import PASSWORDS, PROTECTED_HOUSEHOLD
from tests.e2e.screen_probe import ask_every_item, long_decision
from ui.daily_report import DailyReportWindow
from ui.household_view import HIDDEN_ADDRESS
from ui.issuance_dialog import IssuanceDialog
from ui.main_window import MainWindow
from ui.search_panel import CODE_MESSAGE, PROTECTED_ADDRESS

TIMEOUT = 30_000
PROTECTED_ADDRESS_TEXT = "北海道北見市北1条東1丁目1番地"


class Threads:
    """Wraps a callable and notes the threads it ran on."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.threads: list[threading.Thread] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.append(threading.current_thread())
        return self.fn(*args, **kwargs)

    @property
    def on_gui_thread(self) -> bool:
        return any(t is threading.main_thread() for t in self.threads)


def type_ime(widget: Any, text: str) -> None:
    """Type as the Japanese IME does: each character committed by an input-method event (QTest's
    keyClicks takes ASCII only)."""
    for ch in text:
        event = QInputMethodEvent()
        event.setCommitString(ch)
        QApplication.sendEvent(widget, event)


def _login(counter: Any, operator_id: str = "issuer01") -> Any:
    session = counter.login(operator_id)
    report = session.sync_once()
    assert report.error is None, report.message
    return session


@pytest.fixture
def session(counter: Any) -> Iterator[Any]:
    s = _login(counter)
    yield s
    s.logout()


def _window(qtbot: Any, session: Any) -> MainWindow:
    window = build_main_window(session)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def _search(qtbot: Any, window: MainWindow, name: str) -> None:
    panel = window.search_panel
    assert panel is not None
    panel.name.setText(name)
    panel.search_button.click()
    qtbot.waitUntil(lambda: panel.search_button.isEnabled() and bool(panel.hits), timeout=TIMEOUT)


def _open_first(qtbot: Any, window: MainWindow, protected: bool = False) -> None:
    panel, view = window.search_panel, window.household_view
    assert panel is not None and view is not None
    row = next(i for i, h in enumerate(panel.hits) if h.protected == protected)
    panel.open_row(row)
    qtbot.waitUntil(lambda: view.household is not None, timeout=TIMEOUT)


def _visible_texts(window: Any) -> str:
    return "\n".join(lbl.text() for lbl in window.findChildren(QLabel) if lbl.isVisible())


# --- nothing stale --------------------------------------------------------------------------


def test_new_search_and_clear_drop_the_previous_household(qtbot: Any, session: Any) -> None:
    window = _window(qtbot, session)
    panel, view = window.search_panel, window.household_view
    assert panel is not None and view is not None
    _search(qtbot, window, "さとう")
    _open_first(qtbot, window)
    assert view.issue_button.isEnabled()
    previous = view.household
    assert previous is not None and previous.head.name in view.title.text()

    # A new search: the previous customer's household goes at once, before any result.
    panel.name.setText("たかはし")
    panel.search_button.click()
    assert view.household is None and not view.issue_button.isEnabled()
    assert previous.head.name not in _visible_texts(window)
    qtbot.waitUntil(lambda: bool(panel.hits), timeout=TIMEOUT)

    panel.table.selectRow(next(i for i, h in enumerate(panel.hits) if not h.protected))
    qtbot.keyClick(window, Qt.Key.Key_F8)  # 世帯を開く
    qtbot.waitUntil(lambda: view.household is not None, timeout=TIMEOUT)
    panel.clear_button.click()
    assert view.household is None and not view.issue_button.isEnabled()
    assert panel.table.rowCount() == 0

    # The F3 key does nothing without a household (it must not reopen the old one).
    window.fkeys.press(3)
    assert not [d for d in window.findChildren(IssuanceDialog) if d.isVisible()]


def test_takeover_rebuilds_the_screen_for_the_new_operator(qtbot: Any, session: Any) -> None:
    window = _window(qtbot, session)
    _search(qtbot, window, "さとう")
    _open_first(qtbot, window)
    assert window.household_view is not None
    dialog = window.open_issuance(window.household_view.household)
    assert dialog.isVisible()

    def take_over(operator_id: str) -> None:
        window.idle_lock.lock()
        overlay = window.idle_lock.overlay
        overlay.other_id.setText(operator_id)
        overlay.other_password.setText(PASSWORDS[operator_id])
        with qtbot.waitSignal(window.rebuilt, timeout=TIMEOUT):
            overlay.takeover_button.click()

    take_over("audit01")
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert tabs == ["監査ログ"], tabs  # not the search tab and its 「権限がありません」
    assert window.search_panel is None and window.household_view is None
    QApplication.processEvents()
    assert not shiboken6.isValid(dialog) or not dialog.isVisible()  # their customer is gone too
    assert "audit01" in window.status.operator.text()
    assert sorted(window.fkeys.buttons) == [9, 12]

    take_over("super01")
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert "住民検索" in tabs and "交付履歴" in tabs
    assert window.history is not None and not window.history.void_button.isHidden()  # 取消
    assert window.household_view is not None and window.household_view.household is None


# --- 支援措置 ------------------------------------------------------------------------------------


def test_protected_address_hidden_until_revealed_and_audited(qtbot: Any, session: Any) -> None:
    window = _window(qtbot, session)
    _search(qtbot, window, "もりた")
    panel, view = window.search_panel, window.household_view
    assert panel is not None and view is not None
    row = next(i for i, h in enumerate(panel.hits) if h.protected)
    assert panel.table.item(row, 5).text() == PROTECTED_ADDRESS  # not in the results either
    _open_first(qtbot, window, protected=True)
    assert view.address.text() == HIDDEN_ADDRESS
    assert PROTECTED_ADDRESS_TEXT not in _visible_texts(window)
    assert view.reveal_row.isVisible()

    view.reveal_button.click()  # no reason: refused before anything is recorded
    assert "理由" in view.reveal_message.text() and view.address_hidden
    view.reveal_reason.setText("本人からの住所確認の申出")
    view.reveal_button.click()
    qtbot.waitUntil(lambda: PROTECTED_ADDRESS_TEXT in view.address.text(), timeout=TIMEOUT)
    entries = session.chain.query(actions=[AuditAction.REVEAL_ADDRESS.value])
    assert any(
        PROTECTED_HOUSEHOLD in e.target_ids and "本人からの住所確認の申出" in (e.reason or "")
        for e in entries
    )
    view.hide_address()  # the timer's work
    assert view.address_hidden

    dialog = window.open_issuance(view.household)
    qtbot.waitUntil(lambda: not dialog.deciding, timeout=TIMEOUT)
    assert dialog.banner.isVisible() and "支援措置" in dialog.banner.text()
    assert not dialog.preview_button.isEnabled()  # no rendering of the address before approval
    dialog.reject()


def _red_at(table: Any, row: int) -> tuple[int, int, int]:
    table.viewport().repaint()
    image = table.viewport().grab().toImage()
    rect = table.visualRect(table.model().index(row, 1))
    color = image.pixelColor(QPoint(rect.right() - 3, rect.center().y()))
    return color.red(), color.green(), color.blue()


def test_selected_protected_row_keeps_its_red(qtbot: Any, session: Any) -> None:
    window = _window(qtbot, session)
    _search(qtbot, window, "もりた")
    panel = window.search_panel
    assert panel is not None
    row = next(i for i, h in enumerate(panel.hits) if h.protected)
    panel.table.selectRow(row)
    r, g, b = _red_at(panel.table, row)
    assert r > 150 and g < 80 and b < 80, (r, g, b)  # deep red, not the selection's blue
    other = next((i for i, h in enumerate(panel.hits) if not h.protected), None)
    if other is not None:
        panel.table.selectRow(other)
        r, g, b = _red_at(panel.table, row)
        assert r > 230 and g > 200 and b > 200 and r > b  # the pale red of an unselected row


# --- the issuance dialog -------------------------------------------------------------------


def _largest_household(session: Any) -> Any:
    hits = session.search(name="さとう").hits
    return max((session.open_household(h.household_id) for h in hits), key=lambda h: len(h.members))


def test_issuance_dialog_does_not_move_under_the_pointer(qtbot: Any, session: Any) -> None:
    window = _window(qtbot, session)
    dialog = window.open_issuance(_largest_household(session))
    # A third party with a concrete purpose, no item asked yet: a short 判定.
    long_decision(dialog, ask_items=False)
    qtbot.waitUntil(lambda: not dialog.deciding, timeout=TIMEOUT)

    def layout() -> dict[str, tuple[int, int, int, int]]:
        QApplication.processEvents()
        widgets = [*dialog.form.findChildren(QCheckBox), dialog.form_kind, dialog.copies]
        widgets += [dialog.issue_button, dialog.print_button, dialog.decision_scroll]
        out = {}
        for w in widgets:
            top_left = w.mapTo(dialog, QPoint(0, 0))
            out[w.objectName() or w.text()] = (top_left.x(), top_left.y(), w.width(), w.height())
        return out

    before = layout()
    short = dialog.decision_text()
    # Then every item, none shown to be needed: the 判定 lists each one it leaves out.
    ask_every_item(dialog)
    qtbot.waitUntil(lambda: not dialog.deciding, timeout=TIMEOUT)
    assert len(dialog.decision_text()) > len(short) + 120, dialog.decision_text()
    assert layout() == before
    dialog.reject()


def test_decide_runs_in_the_background_once_the_clerk_pauses(qtbot: Any, session: Any) -> None:
    decide = Threads(session.decide)
    session.decide = decide
    window = _window(qtbot, session)
    dialog = window.open_issuance(_largest_household(session))
    qtbot.waitUntil(lambda: not dialog.deciding, timeout=TIMEOUT)
    first = len(decide.threads)
    reason = dialog.requester_panel.reason
    reason.setFocus()
    type_ime(reason, "債権回収のため")  # seven characters, no pause between
    assert dialog.deciding and not dialog.issue_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.deciding, timeout=TIMEOUT)
    assert len(decide.threads) - first <= 2  # not one call per keystroke
    assert decide.threads and not decide.on_gui_thread
    dialog.reject()


# --- printing, lock, logout off the GUI thread -------------------------------------------------


def test_issue_and_print_in_the_background(qtbot: Any, session: Any, tmp_path: Path) -> None:
    from ui.print_job import print_document

    printed = tmp_path / "printed.pdf"
    session.record_print = Threads(session.record_print)

    def print_to_file(pdf: bytes, copies: int, no: str, printer: str | None) -> int:
        outcome = print_document(pdf, printer=printer, copies=copies, output_file=str(printed))
        session.record_print(no, outcome.pages)
        return outcome.pages

    window = MainWindow(session, print_pdf=print_to_file)
    qtbot.addWidget(window)
    hits = session.search(name="さとう").hits
    household = session.open_household(next(h for h in hits if not h.protected).household_id)
    dialog = window.open_issuance(household)
    qtbot.waitUntil(lambda: not dialog.deciding, timeout=TIMEOUT)
    requester = dialog.requester_panel
    requester.member.setCurrentIndex(requester.member.findData(household.head_person_id))
    license_ = next(d for d in dialog.id_checks if d.value == "drivers_license")
    with qtbot.waitSignal(dialog.decided, timeout=TIMEOUT):
        dialog.id_checks[license_].click()
    dialog.issue_button.click()
    qtbot.waitUntil(lambda: dialog.issued is not None, timeout=TIMEOUT)
    with qtbot.waitSignal(dialog.printed, timeout=TIMEOUT) as done:
        qtbot.keyClick(dialog, Qt.Key.Key_F4)  # the dialog's 印刷 key
    assert done.args == [dialog.issued.sheets]
    assert printed.is_file() and not session.record_print.on_gui_thread
    assert not dialog.print_button.isEnabled()
    dialog.reject()


def test_lock_audit_and_logout_run_off_the_gui_thread(qtbot: Any, counter: Any) -> None:
    session = _login(counter)
    session.auth.lock = Threads(session.auth.lock)
    session.logout = Threads(session.logout)
    window = _window(qtbot, session)
    window.idle_lock.lock()
    qtbot.waitUntil(lambda: bool(session.auth.lock.threads), timeout=TIMEOUT)
    assert not session.auth.lock.on_gui_thread
    with qtbot.waitSignal(window.logged_out, timeout=TIMEOUT):
        window.close()
    assert session.closed and not session.logout.on_gui_thread


# --- keyboard --------------------------------------------------------------------------------


def _tab_order(start: Any, n: int) -> list[Any]:
    """The widgets Tab reaches from `start` (enabled, visible, taking Tab focus), in order."""
    order, w = [start], start
    while len(order) < n:
        w = w.nextInFocusChain()
        if w is start:
            break
        if w.isVisible() and w.isEnabled() and w.focusPolicy() & Qt.FocusPolicy.TabFocus:
            order.append(w)
    return order


def test_keyboard_only_search_open_issue(qtbot: Any, session: Any) -> None:
    window = _window(qtbot, session)
    window.start()
    panel, view = window.search_panel, window.household_view
    assert panel is not None and view is not None
    qtbot.waitUntil(lambda: QApplication.focusWidget() is panel.name, timeout=TIMEOUT)
    type_ime(panel.name, "さとう")
    qtbot.keyClick(window, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: bool(panel.hits), timeout=TIMEOUT)
    qtbot.keyClick(panel.table, Qt.Key.Key_Return)  # the selected result opens with Enter
    qtbot.waitUntil(lambda: view.household is not None, timeout=TIMEOUT)
    qtbot.keyClick(window, Qt.Key.Key_F3)
    qtbot.waitUntil(
        lambda: any(d.isVisible() for d in window.findChildren(IssuanceDialog)), timeout=TIMEOUT
    )
    dialog = next(d for d in window.findChildren(IssuanceDialog) if d.isVisible())
    requester = dialog.requester_panel
    assert dialog.focusWidget() is requester.kind  # where the dialog starts
    # Tab walks the request in the order the manual describes, then to the buttons.
    order = _tab_order(requester.kind, 80)
    license_box = next(cb for d, cb in dialog.id_checks.items() if d.value == "drivers_license")
    assert order[:2] == [requester.kind, requester.member]
    assert order.index(requester.member) < order.index(license_box)
    assert order.index(license_box) < order.index(dialog.scope_all)
    assert order.index(dialog.scope_all) < order.index(dialog.copies)
    assert order.index(dialog.copies) < order.index(dialog.decision_scroll)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_F2)
    assert view.household is None and panel.name.text() == ""
    qtbot.keyClick(window, Qt.Key.Key_F12)
    assert QApplication.focusWidget() is panel.name
    # The keys are on screen, with their names.
    assert window.fkeys.buttons[1].text() == "F1 検索" and window.fkeys.isVisible()
    with qtbot.waitSignal(window.logged_out, timeout=TIMEOUT):
        window.close()


def test_juminhyo_code_field(qtbot: Any, session: Any) -> None:
    window = _window(qtbot, session)
    panel = window.search_panel
    assert panel is not None
    body = "9800000001"
    code = body + str(juminhyo_code_check_digit(body))
    wide = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    type_ime(panel.code, wide)  # typed with the IME in full-width mode
    assert panel.code.text() == code
    panel.search_button.click()
    qtbot.waitUntil(lambda: bool(panel.hits), timeout=TIMEOUT)
    assert panel.hits[0].name == "守田 静香"  # not a false 「該当なし」

    for wrong in ("12345678901234567890", "9800000001A", code[:-1] + str((int(code[-1]) + 1) % 10)):
        panel.code.setText(wrong)
        panel.search_button.click()
        assert panel.message.text() == CODE_MESSAGE and panel.hits == []


# --- window state, 日計表 ------------------------------------------------------------------------


def test_window_opens_maximised_then_remembers(qtbot: Any, counter: Any) -> None:
    session = _login(counter)
    window = build_main_window(session)
    qtbot.addWidget(window)
    window.show_restored()
    qtbot.waitUntil(window.isMaximized, timeout=TIMEOUT)
    window.showNormal()
    # The offscreen test screen is 800 wide, narrower than the window's least width: the
    # height is what tells a remembered geometry from a default one here.
    height = window.minimumSizeHint().height() + 37
    window.setGeometry(0, 20, window.minimumSizeHint().width(), height)
    qtbot.waitUntil(lambda: window.height() == height, timeout=TIMEOUT)
    with qtbot.waitSignal(window.logged_out, timeout=TIMEOUT):
        window.close()
    saved = json.loads((counter.terminal_dir / "settings.json").read_text(encoding="utf-8"))
    assert saved["main_window_maximized"] is False

    again = build_main_window(_login(counter))
    qtbot.addWidget(again)
    again.show_restored()
    qtbot.waitExposed(again)
    assert not again.isMaximized() and again.height() == height
    with qtbot.waitSignal(again.logged_out, timeout=TIMEOUT):
        again.close()


def test_daily_report_prints_saves_and_closes_with_esc(
    qtbot: Any, session: Any, tmp_path: Path
) -> None:
    window = _window(qtbot, session)
    assert window.history is not None
    window.tabs.setCurrentWidget(window.history)
    window.history.report_button.click()
    qtbot.waitUntil(
        lambda: any(w.isVisible() for w in window.findChildren(DailyReportWindow)),
        timeout=TIMEOUT,
    )
    report = next(w for w in window.findChildren(DailyReportWindow) if w.isVisible())
    assert report.print_button.isEnabled() and report.save_button.isEnabled()

    target = tmp_path / "日計表.pdf"
    with qtbot.waitSignal(report.saved, timeout=TIMEOUT):
        report.save_to(str(target))
    info = subprocess.run(["pdfinfo", str(target)], capture_output=True, text=True, check=True)
    assert "Pages:           1" in info.stdout
    exports = session.chain.query(actions=[AuditAction.EXPORT.value])
    assert any(
        e.reason == "PDFファイル" for e in exports
    )  # the file is an output to media, recorded

    # Without a print server (as here) the failure says which printer, in the window.
    if shutil.which("lp") is not None:
        report.printer_choice.setCurrentIndex(0)  # 既定のプリンター
        report.print_button.click()
        qtbot.waitUntil(report.print_button.isEnabled, timeout=TIMEOUT)
        assert "既定のプリンター" in report.message.text()

    qtbot.keyClick(report, Qt.Key.Key_Escape)
    assert not report.isVisible()


def test_a_tabs_own_keys_win_over_the_bar(qtbot: Any, session: Any) -> None:
    """The 異動届 tab binds F5 (届書) and F9 (届出) itself; while it is shown the bar's F9 (同期)
    steps aside, or Qt would find the key ambiguous and fire neither."""
    window = _window(qtbot, session)
    tab = window.notification_tab
    if tab is None:
        pytest.skip("this operator has no 異動届 tab")
    assert window.fkeys.shortcuts[9].isEnabled()
    window.tabs.setCurrentWidget(tab)
    assert not window.fkeys.shortcuts[9].isEnabled() and not window.fkeys.buttons[9].isEnabled()
    assert window.fkeys.shortcuts[1].isEnabled()  # F1 検索 still works from there
    window.tabs.setCurrentIndex(0)
    assert window.fkeys.shortcuts[9].isEnabled() and window.fkeys.buttons[9].isEnabled()
