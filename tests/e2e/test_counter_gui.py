"""The vertical slice through the real widgets (pytest-qt, Qt offscreen): login dialog →
search → household → issuance dialog (decision, issue, print to a PDF file) → sync → the
certificate is on the server."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from cli.gui import build_main_window
from tests.e2e.conftest import PASSWORDS
from ui.login import LoginDialog
from ui.main_window import MainWindow
from ui.print_job import print_document

TIMEOUT = 30_000


def _login(qtbot, counter, operator_id: str = "issuer01"):
    dialog = LoginDialog(counter.login_service().login, terminal_label="試験")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.operator_id.setText(operator_id)
    dialog.password.setText(PASSWORDS[operator_id])
    with qtbot.waitSignal(dialog.logged_in, timeout=TIMEOUT) as blocker:
        dialog.buttons.accepted.emit()
    return blocker.args[0]


def test_login_dialog_shows_a_wrong_password(qtbot, counter) -> None:
    dialog = LoginDialog(counter.login_service().login)
    qtbot.addWidget(dialog)
    dialog.operator_id.setText("issuer01")
    dialog.password.setText("wrong-password")
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: "違います" in dialog.message.text(), timeout=TIMEOUT)
    assert dialog.password.text() == ""  # never left in the field
    assert dialog.session is None


def test_issue_a_certificate_through_the_widgets(qtbot, counter, tmp_path: Path) -> None:
    session = _login(qtbot, counter)
    printed = tmp_path / "printed.pdf"

    def print_to_file(pdf: bytes, copies: int, issuance_no: str, printer: str | None) -> int:
        outcome = print_document(pdf, printer=printer, copies=copies, output_file=str(printed))
        session.record_print(issuance_no, outcome.pages)
        return outcome.pages

    window = MainWindow(session, print_pdf=print_to_file)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.synced, timeout=TIMEOUT):
        window.sync_now()
    qtbot.waitUntil(lambda: "オンライン" in window.status.connection.text(), timeout=TIMEOUT)

    panel = window.search_panel
    assert panel is not None
    panel.name.setText("さとう")
    panel.search_button.click()
    qtbot.waitUntil(lambda: panel.table.rowCount() > 0, timeout=TIMEOUT)
    assert "佐藤" in panel.table.item(0, 0).text()
    row = next(i for i, h in enumerate(panel.hits) if h.status == "resident" and not h.protected)
    panel.open_row(row)
    view = window.household_view
    assert view is not None
    qtbot.waitUntil(lambda: view.household is not None, timeout=TIMEOUT)
    household = view.household
    assert view.issue_button.isEnabled()

    dialog = window.open_issuance(household)
    qtbot.waitUntil(lambda: not dialog.deciding, timeout=TIMEOUT)
    assert not dialog.issue_button.isEnabled()  # no 本人確認 yet
    assert "本人確認書類" in dialog.decision_text()
    # The requester is a person: 本人, picked from the household.
    panel = dialog.requester_panel
    with qtbot.waitSignal(dialog.decided, timeout=TIMEOUT):
        panel.member.setCurrentIndex(panel.member.findData(household.head_person_id))
    license_ = next(d for d in dialog.id_checks if d.value == "drivers_license")
    with qtbot.waitSignal(dialog.decided, timeout=TIMEOUT):
        dialog.id_checks[license_].click()
    assert dialog.issue_button.isEnabled()
    assert "交付できます" in dialog.decision_text()

    dialog.preview_button.click()
    qtbot.waitUntil(lambda: "見本(" in dialog.preview_status.text(), timeout=TIMEOUT)

    dialog.issue_button.click()
    qtbot.waitUntil(lambda: dialog.issued is not None, timeout=TIMEOUT)
    no = dialog.issued.issuance.issuance_no
    assert no in dialog.preview_status.text()
    assert dialog.print_button.isEnabled()
    with qtbot.waitSignal(dialog.printed, timeout=TIMEOUT):
        dialog.print_button.click()
    assert printed.is_file()
    assert not dialog.print_button.isEnabled()  # a second copy is a new issuance
    info = subprocess.run(["pdfinfo", str(printed)], capture_output=True, text=True, check=True)
    pages = re.search(r"^Pages:\s+(\d+)$", info.stdout, re.MULTILINE)
    assert pages is not None and int(pages.group(1)) == dialog.issued.sheets
    dialog.accept()

    with qtbot.waitSignal(window.synced, timeout=TIMEOUT) as blocker:
        window.sync_now()
    assert blocker.args[0].error is None
    qtbot.waitUntil(lambda: window.status.outbox.text() == "未送信 0件", timeout=TIMEOUT)
    assert session.client.certificate(no).issuance_no == no
    with qtbot.waitSignal(window.logged_out, timeout=TIMEOUT):
        window.close()
    assert session.closed


def test_auditor_sees_only_the_audit_log(qtbot, counter) -> None:
    session = _login(qtbot, counter, "audit01")
    window = build_main_window(session)
    qtbot.addWidget(window)
    labels = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert labels == ["監査ログ"]
    with qtbot.waitSignal(window.logged_out, timeout=TIMEOUT):
        window.close()


def test_reveal_button_shows_the_selected_number_through_the_session(qtbot, counter) -> None:
    """Issue 21 item 7: the household comes masked; the 個人番号 field below the table reveals
    the selected person's number with a reason (audited), and masks it on a new selection."""
    from app.auth.reveal import MASK
    from app.store.audit import AuditAction

    session = _login(qtbot, counter)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.synced, timeout=TIMEOUT):
        window.sync_now()
    hit = next(
        h for h in session.search(name="さとう").hits if h.status == "resident" and not h.protected
    )
    number = session.cache.person(hit.person_id)[0].my_number
    assert number
    window.open_household(hit.household_id)
    view = window.household_view
    assert view is not None and view.my_number is not None and view.my_number_row.isVisible()
    qtbot.waitUntil(lambda: view.household is not None, timeout=TIMEOUT)
    assert all(m.my_number in (None, MASK) for m in view.household.members)
    field = view.my_number
    assert not field.button.isEnabled()  # nobody selected yet
    row = next(i for i, m in enumerate(view.household.members) if m.person_id == hit.person_id)
    view.table.selectRow(row)
    assert field.button.isEnabled() and field.value.text() == MASK
    field.reason.setText("本人からの申出で番号を確認")
    with qtbot.waitSignal(field.revealed, timeout=TIMEOUT):
        field.button.click()
    assert field.value.text().replace(" ", "") == number
    entry = session.chain.entries()[-1]
    assert entry.action == AuditAction.REVEAL_MY_NUMBER.value and entry.target_ids == (
        hit.person_id,
    )
    view.table.selectRow((row + 1) % view.table.rowCount())
    assert field.value.text() == MASK
    with qtbot.waitSignal(window.logged_out, timeout=TIMEOUT):
        window.close()


def test_a_clerk_has_no_reveal_field(qtbot, counter) -> None:
    session = _login(qtbot, counter, "clerk01")
    window = MainWindow(session)
    qtbot.addWidget(window)
    assert window.household_view is not None and window.household_view.my_number is None
    assert window.held_events is None
    with qtbot.waitSignal(window.logged_out, timeout=TIMEOUT):
        window.close()


def test_a_supervisor_has_the_held_events_tab(qtbot, counter) -> None:
    session = _login(qtbot, counter, "super01")
    window = MainWindow(session)
    qtbot.addWidget(window)
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert "送信保留" in tabs and window.held_events is not None
    window.tabs.setCurrentWidget(window.held_events)
    qtbot.waitUntil(lambda: "ありません" in window.held_events.summary.text(), timeout=TIMEOUT)
    with qtbot.waitSignal(window.logged_out, timeout=TIMEOUT):
        window.close()


def test_login_dialog_forces_the_change_after_a_reset(qtbot, counter) -> None:
    """Issue 21 item 6: the login answer says the password was reset; the dialog asks for a new
    one (the rule checked as typed), and the session opens only with it."""
    from app.domain.passwords import PasswordRules

    counter.server.update_operator("issuer01", password="administrator-set-phrase-9")
    dialog = LoginDialog(counter.login_service().login, password_check=PasswordRules().problems)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.operator_id.setText("issuer01")
    dialog.password.setText("administrator-set-phrase-9")
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: dialog.change_dialog is not None, timeout=TIMEOUT)
    change = dialog.change_dialog
    assert change is not None and change.old.isHidden()
    assert "再設定" in dialog.message.text() and dialog.session is None
    change.new.setText("12345678901234567890")
    assert change.problems.text() and not change.ok.isEnabled()
    change.new.setText("my own counter phrase 2026")
    change.again.setText("my own counter phrase 2026")
    with qtbot.waitSignal(dialog.logged_in, timeout=TIMEOUT) as blocker:
        change.submit()
    session = blocker.args[0]
    try:
        assert session.operator.operator_id == "issuer01"
        assert session.chain.entries()[-1].action == "password_change"
    finally:
        session.logout()


def test_main_window_menu_changes_the_password(qtbot, counter) -> None:
    session = _login(qtbot, counter, "clerk01")
    window = MainWindow(session)
    qtbot.addWidget(window)
    dialog = window.change_password()
    dialog.old.setText(PASSWORDS["clerk01"])
    dialog.new.setText("a fresh phrase for the counter")
    dialog.again.setText("a fresh phrase for the counter")
    with qtbot.waitSignal(dialog.changed, timeout=TIMEOUT):
        dialog.submit()
    assert session.chain.entries()[-1].action == "password_change"
    with qtbot.waitSignal(window.logged_out, timeout=TIMEOUT):
        window.close()
