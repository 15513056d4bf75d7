"""Issue 21 item 2: a supervisor's approval is a one-time token bound to the request.

The real counter (server over HTTPS, SQLCipher cache, keyring, printing). A hand-made Approval,
a token this terminal did not grant, a token for other persons or items, a used or expired one:
refused. The genuine one issues ONE certificate, and is used up in the issuance's transaction.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from app.auth.approval import Approval
from app.domain.certificates import Item
from app.services.session import SessionError
from app.store.audit import AuditAction
from tests.e2e.conftest import PASSWORDS, PROTECTED_HOUSEHOLD, PROTECTED_PERSON
from tests.e2e.test_counter_services import self_request

REASON = "本人が来庁、運転免許証で確認"


def _protected(session):
    household = session.open_household(PROTECTED_HOUSEHOLD)
    request = self_request(household, PROTECTED_PERSON, "年金の手続に添付するため")
    assert session.decide(request, household).needs_supervisor
    return household, request


def test_forged_reused_and_foreign_approvals_are_refused(counter) -> None:
    session = counter.login("issuer01")
    try:
        assert session.sync_once().error is None
        household, request = _protected(session)

        # Hand-made, as the finding did it: no token, nothing issued.
        forged = Approval("super01", "理由", datetime.now(UTC), "issuer01", (PROTECTED_PERSON,))
        with pytest.raises(SessionError, match="この端末で受けたものではありません"):
            session.issue(request, household, approval=forged)

        approval = session.approve("super01", PASSWORDS["super01"], REASON, request, household)
        token = approval.token
        assert token is not None
        assert token.approver_id == "super01" and token.operator_id == "issuer01"
        assert token.person_ids == [PROTECTED_PERSON] and token.reason == REASON
        assert token.grounds == ["support_measure"]
        assert token.requester.person_id == PROTECTED_PERSON
        assert token.purpose is not None and "年金" in token.purpose.reason
        issued_at = datetime.fromisoformat(token.issued_at)
        assert datetime.fromisoformat(token.expires_at) - issued_at == timedelta(minutes=10)

        # A token re-signed with the terminal key but never granted (its id changed).
        import base64
        import uuid

        fake = token.model_copy(update={"approval_id": str(uuid.uuid4())})
        fake = fake.model_copy(
            update={"signature_b64": base64.b64encode(session.sign(fake.signed_bytes())).decode()}
        )
        with pytest.raises(SessionError, match="この端末で受けたものではありません"):
            session.issue(request, household, approval=dataclasses.replace(approval, token=fake))
        # The granted token with a field changed after signing (another supervisor).
        altered = token.model_copy(update={"approver_id": "issuer01"})
        with pytest.raises(SessionError, match="この端末で受けたものではありません"):
            session.issue(request, household, approval=dataclasses.replace(approval, token=altered))

        # The genuine token for another request: other items, or another requester's 請求事由.
        more_items = dataclasses.replace(request, items=request.items | {Item.JUMINHYO_CODE})
        with pytest.raises(SessionError, match="一致しません"):
            session.issue(more_items, household, approval=approval)
        other_reason = self_request(household, PROTECTED_PERSON, "別の手続のため")
        with pytest.raises(SessionError, match="一致しません"):
            session.issue(other_reason, household, approval=approval)

        # The genuine one, once.
        first = session.issue(request, household, approval=approval)
        with pytest.raises(SessionError, match="すでに使われた"):
            session.issue(request, household, approval=approval)
        assert len(session.issuances_today()) == 1

        # The event carries the token and what it was bound to; the approval entry names it.
        body = session.cache.connection.execute(
            "SELECT body FROM outbox WHERE type = 'certificate_issued'"
        ).fetchone()[0]
        payload = json.loads(body)["payload"]
        assert payload["approved_by"] == "super01"
        assert payload["approval"]["approval_id"] == token.approval_id
        assert payload["items"] == token.items
        entry = session.chain.query(actions=[AuditAction.APPROVAL.value])[0]
        assert entry.operator_id == "super01" and token.approval_id in entry.target_ids
        assert session.cache.connection.execute(
            "SELECT issuance_no FROM approvals WHERE approval_id = ?", (token.approval_id,)
        ).fetchone() == (first.issuance.issuance_no,)

        # The server takes it (signature, binding, a supervisor, first use) and keeps its use.
        report = session.sync_once()
        assert report.error is None and not report.push.rejected, report.message
        from sqlalchemy import select

        from server.tables import approvals_used

        with counter.server.db.read() as conn:
            rows = conn.execute(select(approvals_used.c.approval_id)).all()
        assert [r.approval_id for r in rows] == [token.approval_id]
    finally:
        session.logout()


def test_an_approval_expires_and_belongs_to_its_operator(counter) -> None:
    session = counter.login("issuer01")
    try:
        session.sync_once()
        household, request = _protected(session)
        approval = session.approve("super01", PASSWORDS["super01"], REASON, request, household)
        real = session.clock
        session.clock = lambda: real() + timedelta(minutes=11)
        with pytest.raises(SessionError, match="時間が経って"):
            session.issue(request, household, approval=approval)
        session.clock = real
        # Taken over at the lock screen by another issuer: the clerk's approval is not theirs.
        session.auth.lock()
        session.auth.takeover("super01", PASSWORDS["super01"])
        with pytest.raises(SessionError, match="別の職員"):
            session.issue(request, household, approval=approval)
    finally:
        session.logout()


def test_a_failed_render_gives_the_approval_back(counter) -> None:
    session = counter.login("issuer01")
    try:
        session.sync_once()
        household, request = _protected(session)
        approval = session.approve("super01", PASSWORDS["super01"], REASON, request, household)
        renderer = session.renderer

        def broken(*args, **kwargs):
            raise RuntimeError("the printer's font is missing")

        session.renderer = broken
        with pytest.raises(RuntimeError):
            session.issue(request, household, approval=approval)
        session.renderer = renderer
        assert session.issue(request, household, approval=approval).issuance.issuance_no
    finally:
        session.logout()


def test_no_approval_is_granted_where_none_is_needed(counter) -> None:
    session = counter.login("issuer01")
    try:
        session.sync_once()
        hit = next(
            h
            for h in session.search(name="さとう").hits
            if h.status == "resident" and not h.protected
        )
        household = session.open_household(hit.household_id)
        with pytest.raises(SessionError, match="必要ありません"):
            session.approve(
                "super01",
                PASSWORDS["super01"],
                REASON,
                self_request(household, hit.person_id),
                household,
            )
    finally:
        session.logout()
