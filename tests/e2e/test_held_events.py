"""Issue 21 item 5 at the session: a quarantined event waits for a supervisor, who puts it back
with a reason (audited); the next sync delivers it. Clerks and issuers cannot."""

from __future__ import annotations

import uuid

import pytest

from app.auth.errors import ReasonRequired
from app.auth.permissions import PermissionDenied
from app.store.audit import AuditAction
from app.sync.protocol import Event


def _quarantined_card_event(session) -> Event:
    person_id = session.search(name="さとう").hits[0].person_id
    event = Event(
        event_id=str(uuid.uuid4()),
        type="card_event",
        occurred_at=session.clock(),
        operator_id=session.operator.operator_id,
        terminal_no=session.terminal_no,
        payload={"action": "交付", "person_id": person_id, "details": {}},
    )
    session.cache.outbox_add(event)
    # As the engine does after the last failed attempt (tests/sync/test_sync_poisoned_event.py).
    session.cache.outbox_failed(event.event_id, "HTTP 500", lambda _n: session.clock(), 1)
    return event


def test_a_supervisor_puts_a_quarantined_event_back(counter) -> None:
    session = counter.login("super01")
    try:
        assert session.sync_once().error is None
        event = _quarantined_card_event(session)
        assert session.status().held_count == 1 and session.status().outbox_count == 0
        [held] = session.held_events()
        assert held.event.event_id == event.event_id and held.state == "quarantined"
        with pytest.raises(ReasonRequired):
            session.requeue_event(event.event_id, " ")
        session.requeue_event(event.event_id, "サーバーの不具合が直ったため")
        entry = session.chain.entries()[-1]
        assert entry.action == AuditAction.OUTBOX_REQUEUE.value
        assert entry.target_ids == (event.event_id,) and "不具合" in (entry.reason or "")
        report = session.sync_once()
        assert report.error is None, report.message
        assert session.cache.outbox_total() == 0
    finally:
        session.logout()


def test_only_a_supervisor_sees_and_requeues(counter) -> None:
    for operator in ("clerk01", "issuer01"):
        session = counter.login(operator)
        try:
            session.sync_once()
            with pytest.raises(PermissionDenied):
                session.held_events()
            with pytest.raises(PermissionDenied):
                session.requeue_event(str(uuid.uuid4()), "理由")
        finally:
            session.logout()
