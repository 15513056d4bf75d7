"""Issue 17: a reprint is handled lawfully — never a second copy under the same 交付番号.

The real counter (server over HTTPS, SQLCipher cache, keyring, rendering). 印刷し直し needs a
supervisor's approval for that very 交付番号 (a one-time token, issue 21); in one transaction
the old issuance is voided and a new one issued under a new 交付番号 that names it. The 交付履歴
and the server both keep the link; the fee is counted once.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.services.session import SessionError
from app.store.audit import AuditAction
from server.tables import certificates
from tests.e2e.conftest import PASSWORDS
from tests.e2e.test_counter_services import _first_resident_household, self_request

REASON = "用紙が詰まったため印刷し直し"


def test_a_reprint_voids_the_old_issuance_and_issues_a_new_one(counter) -> None:
    session = counter.login("issuer01")
    try:
        assert session.sync_once().error is None
        hit, household = _first_resident_household(session)
        request = self_request(household, hit.person_id, "勤務先に提出するため")
        first = session.issue(request, household).issuance
        old_no = first.issuance_no

        # Without a supervisor: refused, nothing voided.
        with pytest.raises(SessionError, match="監督者の承認が必要"):
            session.reissue(old_no, request, household, approval=None)
        # An approval for a plain issuance (none needed here) is not one for the reprint.
        with pytest.raises(SessionError, match="必要ありません"):
            session.approve("super01", PASSWORDS["super01"], REASON, request, household)

        approval = session.approve(
            "super01", PASSWORDS["super01"], REASON, request, household, replaces=old_no
        )
        assert approval.token is not None
        assert approval.token.grounds == ["reprint"] and approval.token.replaces == old_no

        second = session.reissue(old_no, request, household, approval=approval).issuance
        new_no = second.issuance_no
        assert new_no != old_no and second.replaces == old_no

        # 交付履歴: the old one voided with the link and the reason, the new one standing.
        by_no = {i.issuance_no: i for i in session.issuances_today()}
        assert by_no[old_no].voided and by_no[old_no].replaced_by == new_no
        assert new_no in (by_no[old_no].void_reason or "") and "super01" in (
            by_no[old_no].void_reason or ""
        )
        assert not by_no[new_no].voided and by_no[new_no].replaces == old_no
        # The fee once: the voided one counts none.
        totals = session.daily_totals()
        assert sum(t[1] for t in totals) == 1 and sum(t[4] for t in totals) == 1
        assert sum(t[3] for t in totals) == second.fee_yen

        # Audited: the void and the new issuance, each naming the other number.
        voids = session.chain.query(actions=[AuditAction.VOID_CERTIFICATE.value])
        assert [e.target_ids[0] for e in voids] == [old_no]
        issued = session.chain.query(actions=[AuditAction.ISSUE_CERTIFICATE.value])
        assert old_no in (issued[0].reason or "") and issued[0].target_ids[0] == new_no

        # Once only: the approval is used up, and the old number is no longer standing.
        with pytest.raises(SessionError, match="既に取り消されています"):
            session.reissue(old_no, request, household, approval=approval)
        with pytest.raises(SessionError, match="既に取り消されています"):
            session.approve(
                "super01", PASSWORDS["super01"], REASON, request, household, replaces=old_no
            )

        # One event carries the reprint (and its approval); no separate void from the clerk.
        rows = session.cache.connection.execute("SELECT type, body FROM outbox").fetchall()
        assert "certificate_voided" not in {t for t, _ in rows}
        payloads = [json.loads(b)["payload"] for t, b in rows if t == "certificate_issued"]
        assert payloads[-1]["replaces"] == old_no
        assert payloads[-1]["approval"]["replaces"] == old_no

        # The server takes it and voids the old certificate too.
        report = session.sync_once()
        assert report.error is None and not report.push.rejected, report.message
        with counter.server.db.read() as conn:
            rows = conn.execute(
                select(
                    certificates.c.issuance_no, certificates.c.voided, certificates.c.void_reason
                )
            ).all()
        state = {r.issuance_no: (r.voided, r.void_reason) for r in rows}
        assert state[old_no][0] and new_no in state[old_no][1]
        assert state[new_no][0] is False
    finally:
        session.logout()


def test_a_reprint_approval_is_bound_to_its_number(counter) -> None:
    session = counter.login("issuer01")
    try:
        assert session.sync_once().error is None
        hit, household = _first_resident_household(session)
        request = self_request(household, hit.person_id, "勤務先に提出するため")
        a = session.issue(request, household).issuance.issuance_no
        b = session.issue(request, household).issuance.issuance_no
        approval = session.approve(
            "super01", PASSWORDS["super01"], REASON, request, household, replaces=a
        )
        # Approved for a, used for b: refused, b stands.
        with pytest.raises(SessionError, match="一致しません"):
            session.reissue(b, request, household, approval=approval)
        assert not session.cache.issuance(b).voided and not session.cache.issuance(a).voided
    finally:
        session.logout()


def test_the_dialog_reprints_under_a_new_number_with_a_supervisor(qtbot, counter) -> None:
    """pytest-qt: after printing, 「印刷し直し」(F6) asks the supervisor (the real approval
    dialog), then shows and prints the new 交付番号; the 交付履歴 shows the link both ways."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from printing.dispatch import PrintError, printer_label
    from tests.support.poll import QT_WAIT_MS
    from ui.approval import ApprovalDialog
    from ui.main_window import IssuanceHistory, MainWindow

    session = counter.login("issuer01")
    printed: list[str] = []
    printers: list[str | None] = []

    def print_pdf(pdf: bytes, copies: int, issuance_no: str, printer: str | None) -> int:
        printers.append(printer)
        if len(printers) == 1:  # the first job fails, as a printer out of paper does
            raise PrintError(f"プリンター{printer_label(printer)}に送れませんでした(用紙切れ)。")
        printed.append(issuance_no)
        return 1

    try:
        assert session.sync_once().error is None
        window = MainWindow(session, print_pdf=print_pdf)
        qtbot.addWidget(window)
        hit, household = _first_resident_household(session)
        dialog = window.open_issuance(household)
        qtbot.waitUntil(lambda: not dialog.deciding, timeout=QT_WAIT_MS)
        panel = dialog.requester_panel
        with qtbot.waitSignal(dialog.decided, timeout=QT_WAIT_MS):
            panel.member.setCurrentIndex(panel.member.findData(hit.person_id))
        license_ = next(d for d in dialog.id_checks if d.value == "drivers_license")
        with qtbot.waitSignal(dialog.decided, timeout=QT_WAIT_MS):
            dialog.id_checks[license_].click()
        assert not dialog.reprint_button.isEnabled()  # nothing issued yet
        dialog.issue_button.click()
        qtbot.waitUntil(lambda: dialog.issued is not None, timeout=QT_WAIT_MS)
        old_no = dialog.issued.issuance.issuance_no
        assert not dialog.reprint_button.isEnabled()  # not before the print
        # The printer is chosen for this job; a failure names it and leaves 印刷 on.
        dialog.printer_choice.addItem("窓口プリンタ2", "窓口プリンタ2")
        dialog.printer_choice.setCurrentIndex(dialog.printer_choice.findData("窓口プリンタ2"))
        messages: list[str] = []

        def dismiss() -> None:
            box = QApplication.activeModalWidget()
            if not isinstance(box, QMessageBox):
                QTimer.singleShot(10, dismiss)
                return
            messages.append(box.text())
            box.accept()

        QTimer.singleShot(0, dismiss)
        dialog.print_button.click()
        qtbot.waitUntil(lambda: bool(messages), timeout=QT_WAIT_MS)
        assert printers == ["窓口プリンタ2"] and "「窓口プリンタ2」" in messages[0]
        assert dialog.print_button.isEnabled() and printed == []
        with qtbot.waitSignal(dialog.printed, timeout=QT_WAIT_MS):
            dialog.print_button.click()
        assert printers[-1] == "窓口プリンタ2"
        assert printed == [old_no] and not dialog.print_button.isEnabled()
        assert dialog.reprint_button.isEnabled() and "印刷し直し" in dialog.preview_status.text()

        seen: list[str] = []

        def approve() -> None:
            box = QApplication.activeModalWidget()
            assert isinstance(box, ApprovalDialog)
            seen.append(box.situation.text())
            box.supervisor_id.setText("super01")
            box.password.setText(PASSWORDS["super01"])
            box.reason.setPlainText(REASON)
            box.submit()

        QTimer.singleShot(0, approve)
        dialog.reprint_button.click()  # the approval dialog runs modally meanwhile
        qtbot.waitUntil(lambda: dialog.issued.issuance.issuance_no != old_no, timeout=QT_WAIT_MS)
        new_no = dialog.issued.issuance.issuance_no
        assert seen and old_no in seen[0] and "監督者の承認" in seen[0]
        assert old_no in dialog.decision_label.text() and new_no in dialog.decision_label.text()
        assert dialog.print_button.isEnabled() and not dialog.reprint_button.isEnabled()
        with qtbot.waitSignal(dialog.printed, timeout=QT_WAIT_MS):
            dialog.print_button.click()
        assert printed == [old_no, new_no]  # the old number is never printed again
        dialog.accept()

        history = IssuanceHistory(session, lambda _pdf: None)
        qtbot.addWidget(history)
        history.refresh()
        qtbot.waitUntil(lambda: history.table.rowCount() == 2, timeout=QT_WAIT_MS)
        link = history.COLUMNS.index("印刷し直し")
        state = history.COLUMNS.index("状態")
        rows = {
            history.table.item(r, 0).text(): (
                history.table.item(r, state).text(),
                history.table.item(r, link).text(),
            )
            for r in range(2)
        }
        assert rows[old_no] == ("取消", f"→ {new_no} で再交付")
        assert rows[new_no] == ("交付", f"← {old_no} の再交付")
    finally:
        session.logout()
