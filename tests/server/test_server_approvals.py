"""Issue 21 item 2 on the server: an issuance that names an approver needs the terminal's signed
one-time token, bound to the issuance, given by a supervisor, used once.

HTTP-level against the real server (mTLS, real sessions), on SQLite and PostgreSQL; the tokens
are made and signed as the terminal makes them (app/services/issuance.py), with the terminal's
enrolled key.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from app.domain.audit_chain import canonical_at
from app.store.audit import signer_for
from app.sync.client import SyncClient, load_private_key
from app.sync.protocol import ApprovalToken, Event, PurposeInfo, RequesterInfo
from server.tables import approvals_used, certificates
from tests.support.server import ServerEnv

PASSWORD = "staple-horse-lantern-42"
PERSON, HOUSEHOLD = "P00000010", "H00000001"


class Desk:
    def __init__(self, env: ServerEnv) -> None:
        self.env = env
        env.server.add_operator("super01", "試験 監督者", ["supervisor"], "本庁", PASSWORD)
        env.server.add_operator("clerk02", "試験 職員", ["clerk"], "本庁", PASSWORD)
        self.client: SyncClient = env.client  # issuer, logged in
        self.terminal_no = env.terminal.terminal_no
        key = load_private_key(env.terminal.key_path, env.terminal.key_password)
        self.sign = signer_for(key)
        self.n = 0
        self.now = datetime.now(UTC)

    def token(self, **changes: Any) -> ApprovalToken:
        token = ApprovalToken(
            approval_id=str(uuid.uuid4()),
            terminal_no=self.terminal_no,
            operator_id=self.env.operator_id,
            approver_id="super01",
            reason="本人が来庁、運転免許証で確認",
            grounds=["support_measure"],
            issued_at=canonical_at(self.now - timedelta(minutes=1)),
            expires_at=canonical_at(self.now + timedelta(minutes=9)),
            household_id=HOUSEHOLD,
            person_ids=[PERSON],
            items={PERSON: []},
            requester=RequesterInfo(kind="self", name="試験 一郎", person_id=PERSON),
            purpose=PurposeInfo(reason="年金の手続"),
        ).model_copy(update=changes)
        return self.signed(token)

    def signed(self, token: ApprovalToken, sign: Any = None) -> ApprovalToken:
        signature = (sign or self.sign)(token.signed_bytes())
        return token.model_copy(update={"signature_b64": base64.b64encode(signature).decode()})

    def issue(self, token: ApprovalToken | None, **payload: Any) -> tuple[str, str | None]:
        self.n += 1
        body: dict[str, Any] = {
            "issuance_no": f"{self.terminal_no}-20261207-{self.n:04d}",
            "kind": "household",
            "person_ids": [PERSON],
            "copies": 1,
            "fee_yen": 300,
            "content_digest": "ab" * 32,
            "household_id": HOUSEHOLD,
            "requester_kind": "self",
            "approved_by": token.approver_id if token else None,
            "requester": {"kind": "self", "name": "試験 一郎", "person_id": PERSON},
            "purpose": {"reason": "年金の手続"},
            "items": {PERSON: []},
            "approval": token.model_dump(mode="json") if token else None,
        }
        body.update(payload)
        event = Event(
            event_id=str(uuid.uuid4()),
            type="certificate_issued",
            occurred_at=self.now,
            operator_id=self.env.operator_id,
            terminal_no=self.terminal_no,
            payload=body,
        )
        [result] = self.client.push_events([event]).results
        return result.status, result.reason


def test_genuine_approval_once_forged_reused_and_foreign_refused(
    sync_server_any: ServerEnv,
) -> None:
    desk = Desk(sync_server_any)
    genuine = desk.token()
    assert desk.issue(genuine) == ("accepted", None)
    with sync_server_any.server.db.read() as conn:
        used = conn.execute(select(approvals_used)).all()
        assert [(u.approval_id, u.approver_id) for u in used] == [(genuine.approval_id, "super01")]

    refusals = {
        "reused": desk.issue(genuine),
        "named without a token": desk.issue(None, approved_by="super01"),
        "other persons": desk.issue(desk.token(person_ids=["P00000011"])),
        "other items": desk.issue(desk.token(items={PERSON: ["juminhyo_code"]})),
        "other purpose": desk.issue(desk.token(purpose=PurposeInfo(reason="別の手続"))),
        "not signed here": desk.issue(
            desk.signed(desk.token(), signer_for(ec.generate_private_key(ec.SECP256R1())))
        ),
        "altered after signing": desk.issue(
            desk.token().model_copy(update={"reason": "書き換えた理由"})
        ),
        "a clerk approved": desk.issue(desk.token(approver_id="clerk02")),
        "another operator's": desk.issue(desk.token(operator_id="super01")),
        "expired": desk.issue(desk.token(expires_at=canonical_at(desk.now - timedelta(seconds=1)))),
        "approver not the one named": desk.issue(desk.token(), approved_by="clerk02"),
    }
    expected = {
        "reused": "すでに別の交付に使われて",
        "named without a token": "承認票)がありません",
        "other persons": "一致しません",
        "other items": "一致しません",
        "other purpose": "一致しません",
        "not signed here": "署名",
        "altered after signing": "署名",
        "a clerk approved": "権限がありません",
        "another operator's": "別の端末または別の職員",
        "expired": "有効期間外",
        "approver not the one named": "承認票と一致しません",
    }
    for case, (status, reason) in refusals.items():
        assert status == "rejected", case
        assert expected[case] in (reason or ""), (case, reason)
    with sync_server_any.server.db.read() as conn:
        assert len(conn.execute(select(certificates)).all()) == 1


def test_the_bulk_path_checks_approvals_too(sync_server_any: ServerEnv) -> None:
    """A batch of issuances (the server's fast path for runs) still judges each approval."""
    desk = Desk(sync_server_any)
    genuine = desk.token()
    events = []
    for n in range(3):
        events.append(
            Event(
                event_id=str(uuid.uuid4()),
                type="certificate_issued",
                occurred_at=desk.now,
                operator_id=sync_server_any.operator_id,
                terminal_no=desk.terminal_no,
                payload={
                    "issuance_no": f"{desk.terminal_no}-20261208-{n:04d}",
                    "kind": "household",
                    "person_ids": [PERSON],
                    "copies": 1,
                    "fee_yen": 300,
                    "content_digest": "ab" * 32,
                    "household_id": HOUSEHOLD,
                    "approved_by": "super01",
                    "requester": {"kind": "self", "name": "試験 一郎", "person_id": PERSON},
                    "purpose": {"reason": "年金の手続"},
                    "items": {PERSON: []},
                    "approval": genuine.model_dump(mode="json"),
                },
            )
        )
    statuses = [r.status for r in desk.client.push_events(events).results]
    assert statuses == ["accepted", "rejected", "rejected"]


def test_a_reprint_needs_its_token_and_voids_what_it_replaces(sync_server_any: ServerEnv) -> None:
    """Issue 17: 印刷し直し is a new issuance naming the 交付番号 it replaces, with a supervisor's
    token for that very number; the server voids the replaced certificate with it."""
    desk = Desk(sync_server_any)
    assert desk.issue(None) == ("accepted", None)
    first = f"{desk.terminal_no}-20261207-0001"
    refusals = {
        "no token": desk.issue(None, replaces=first),
        "token for a plain issuance": desk.issue(desk.token(), replaces=first),
        "token for another number": desk.issue(
            desk.token(replaces=f"{desk.terminal_no}-20261207-0099"), replaces=first
        ),
        "not a standing certificate": desk.issue(
            desk.token(replaces=f"{desk.terminal_no}-20261207-0099"),
            replaces=f"{desk.terminal_no}-20261207-0099",
        ),
    }
    expected = {
        "no token": "再交付(印刷し直し)には監督者の承認票が必要",
        "token for a plain issuance": "一致しません",
        "token for another number": "一致しません",
        "not a standing certificate": "記録されていないか、取消済み",
    }
    for case, (status, reason) in refusals.items():
        assert status == "rejected", case
        assert expected[case] in (reason or ""), (case, reason)
    status, reason = desk.issue(desk.token(grounds=["reprint"], replaces=first), replaces=first)
    assert (status, reason) == ("accepted", None)
    with sync_server_any.server.db.read() as conn:
        rows = conn.execute(
            select(certificates.c.issuance_no, certificates.c.voided, certificates.c.void_reason)
        ).all()
    state = {r.issuance_no: (r.voided, r.void_reason) for r in rows}
    assert state[first][0] and "再交付" in state[first][1]
    assert len(state) == 2 and sum(1 for v, _ in state.values() if not v) == 1


def test_a_reprint_without_a_token_is_refused_in_a_batch_too(sync_server_any: ServerEnv) -> None:
    """The bulk path for runs of issuances judged a reprint's `replaces` nowhere: a batch of two
    issuances, the second naming the 交付番号 it replaces with no token, was accepted and left
    the replaced certificate standing (two papers for one request, no supervisor)."""
    desk = Desk(sync_server_any)
    assert desk.issue(None) == ("accepted", None)
    first = f"{desk.terminal_no}-20261207-0001"

    def plain(n: int, **extra: Any) -> Event:
        payload: dict[str, Any] = {
            "issuance_no": f"{desk.terminal_no}-20261209-{n:04d}",
            "kind": "juminhyo",
            "person_ids": [PERSON],
            "copies": 1,
            "fee_yen": 300,
            "content_digest": "ab" * 32,
            **extra,
        }
        return Event(
            event_id=str(uuid.uuid4()),
            type="certificate_issued",
            occurred_at=desk.now,
            operator_id=sync_server_any.operator_id,
            terminal_no=desk.terminal_no,
            payload=payload,
        )

    results = desk.client.push_events([plain(1), plain(2, replaces=first)]).results
    assert [r.status for r in results] == ["accepted", "rejected"]
    assert "承認票が必要" in (results[1].reason or "")
    with sync_server_any.server.db.read() as conn:
        rows = conn.execute(select(certificates.c.issuance_no, certificates.c.voided)).all()
    assert {r.issuance_no: r.voided for r in rows} == {
        first: False,
        f"{desk.terminal_no}-20261209-0001": False,
    }
