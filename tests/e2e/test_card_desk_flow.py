"""The card desk end to end: the virtual demo card is read with the resident's PIN, matched to
the register in the encrypted cache, a 交付 is recorded, and the event reaches the server."""

from __future__ import annotations

import pytest

from app.domain.cards import CardAction, CardState, IdentityChecklist
from app.store.audit import AuditAction
from cli.card_desk_wiring import card_desk_widget
from tests.support.poll import QT_WAIT_MS


def test_read_match_and_record_issue(qtbot, counter) -> None:
    session = counter.login("issuer01")
    try:
        session.sync_once()
        widget = card_desk_widget(session, demo=True)
        qtbot.addWidget(widget)
        service = widget.service

        reading = service.read_with_pin("1234")
        match = service.match(reading)
        assert match.found and match.person.person_id == "P-DEMO-CARD"
        assert match.identical, match.differences

        recorded = service.record(
            CardAction.ISSUE,
            match.person,
            CardState.NOT_ISSUED,
            checklist=IdentityChecklist(True, ("交付通知書", "運転免許証"), True),
        )
        with qtbot.waitSignal(widget.event_recorded, timeout=QT_WAIT_MS):
            widget.event_recorded.emit(recorded)
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
