"""The card desk end to end: the virtual demo card is read with the resident's PIN, matched to
the register in the encrypted cache, a 交付 is recorded, and the event reaches the server."""

from __future__ import annotations

import pytest

from app.domain.cards import CardAction, CardState
from app.store.audit import AuditAction
from cli.card_desk_wiring import card_desk_widget
from tests.support.poll import QT_WAIT_MS


def test_read_match_and_record_issue(qtbot, counter) -> None:
    session = counter.login("issuer01")
    try:
        session.sync_once()
        widget = card_desk_widget(session, demo=True)
        qtbot.addWidget(widget)

        with qtbot.waitSignal(widget.matched, timeout=QT_WAIT_MS) as matched:
            widget.start_pin_read("1234")
        match = matched.args[0]
        assert match.found and match.person.person_id == "P-DEMO-CARD"
        assert match.identical, match.differences

        # The clerk's 交付: checklist, then the button; recording and persisting (outbox, card
        # state) run in one background operation.
        widget.face_check.setChecked(True)
        widget.pin_set_check.setChecked(True)
        widget.document_checks["交付通知書"].setChecked(True)
        widget.document_checks["運転免許証"].setChecked(True)
        issue = widget.action_buttons[CardAction.ISSUE]
        assert issue.isEnabled()
        with qtbot.waitSignal(widget.event_recorded, timeout=QT_WAIT_MS):
            issue.click()
        assert session.card_state("P-DEMO-CARD") == CardState.ISSUED.value
        assert session.cache.outbox_count() >= 1

        report = session.sync_once()
        assert report.error is None, report.message
        assert session.cache.outbox_count() == 0
        actions = {e.action for e in session.chain.query(operator_id="issuer01")}
        assert {AuditAction.CARD_READ.value, AuditAction.CARD_EVENT.value} <= actions
    finally:
        session.logout()


def test_clerk_may_read_but_not_record(counter) -> None:
    from app.auth.permissions import PermissionDenied

    session = counter.login("clerk01")
    try:
        session.sync_once()
        recorded_event = None
        with pytest.raises(PermissionDenied):
            session.record_card_event(recorded_event)
    finally:
        session.logout()
