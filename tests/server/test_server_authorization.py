"""Issue 21 item 1: the server authorises every event by terminal, session operator and role.

HTTP-level against the real server (mTLS, real sessions), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.sync.client import SyncClient
from app.sync.protocol import Event
from server.tables import card_events, certificates
from server.tables import events as events_table
from tests.support.server import ServerEnv, Terminal

PASSWORD = "staple-horse-lantern-42"


def _as(env: ServerEnv, operator_id: str, roles: list[str], terminal: Terminal | None = None):
    env.server.add_operator(operator_id, f"試験 {operator_id}", roles, "本庁", PASSWORD)
    client = env.new_client(login=False, terminal=terminal)
    client.login(operator_id, PASSWORD)
    return client


def _event(
    client: SyncClient, terminal_no: str, type_: str, payload: dict[str, Any], operator_id: str
) -> Event:
    return Event(
        event_id=str(uuid.uuid4()),
        type=type_,  # type: ignore[arg-type]
        occurred_at=datetime.now(UTC),
        operator_id=operator_id,
        terminal_no=terminal_no,
        payload=payload,
    )


def _issued(terminal_no: str, n: int, operator_id: str) -> Event:
    return _event(
        None,  # type: ignore[arg-type]
        terminal_no,
        "certificate_issued",
        {
            "issuance_no": f"{terminal_no}-20261201-{n}",
            "kind": "juminhyo",
            "person_ids": ["P00000010"],
            "copies": 1,
            "fee_yen": 300,
            "content_digest": "ab" * 32,
        },
        operator_id,
    )


def _void(terminal_no: str, issuance_no: str, operator_id: str) -> Event:
    return _event(
        None,  # type: ignore[arg-type]
        terminal_no,
        "certificate_voided",
        {"issuance_no": issuance_no, "reason": "汚損"},
        operator_id,
    )


def _status(client: SyncClient, event: Event) -> tuple[str, str]:
    [result] = client.push_events([event]).results
    return result.status, result.reason or ""


def test_a_clerk_can_neither_issue_nor_void_nor_record_card_events(
    sync_server_any: ServerEnv,
) -> None:
    env = sync_server_any
    no = env.terminal.terminal_no
    clerk = _as(env, "clerk02", ["clerk"])
    status, reason = _status(clerk, _issued(no, 1, "clerk02"))
    assert status == "rejected" and "権限" in reason
    # Issued by the issuer, then the clerk tries to void it.
    assert _status(env.client, _issued(no, 2, env.operator_id))[0] == "accepted"
    status, reason = _status(clerk, _void(no, f"{no}-20261201-2", "clerk02"))
    assert status == "rejected" and "権限" in reason
    card = _event(clerk, no, "card_event", {"action": "交付", "person_id": "P00000010"}, "clerk02")
    status, reason = _status(clerk, card)
    assert status == "rejected" and "権限" in reason
    assert env.client.certificate(f"{no}-20261201-2").voided is False
    with env.server.db.read() as conn:
        assert conn.execute(select(card_events.c.event_id)).all() == []


def test_an_issuer_cannot_void_a_supervisor_at_the_issuing_terminal_can(
    sync_server_any: ServerEnv,
) -> None:
    env = sync_server_any
    no = env.terminal.terminal_no
    assert _status(env.client, _issued(no, 3, env.operator_id))[0] == "accepted"
    status, reason = _status(env.client, _void(no, f"{no}-20261201-3", env.operator_id))
    assert status == "rejected" and "権限" in reason
    supervisor = _as(env, "super01", ["supervisor"])
    assert _status(supervisor, _void(no, f"{no}-20261201-3", "super01")) == ("accepted", "")
    with env.server.db.read() as conn:
        row = conn.execute(
            select(certificates.c.voided, certificates.c.void_reason).where(
                certificates.c.issuance_no == f"{no}-20261201-3"
            )
        ).one()
    assert row.voided and row.void_reason == "汚損"


def test_a_supervisor_at_another_terminal_cannot_void(
    sync_server_any: ServerEnv, tmp_path: Path
) -> None:
    env = sync_server_any
    no = env.terminal.terminal_no
    assert _status(env.client, _issued(no, 4, env.operator_id))[0] == "accepted"
    other = env.enroll_another(tmp_path / "other")
    supervisor = _as(env, "super02", ["supervisor"], terminal=other)
    status, reason = _status(supervisor, _void(other.terminal_no, f"{no}-20261201-4", "super02"))
    assert status == "rejected" and "発行した端末" in reason
    assert env.client.certificate(f"{no}-20261201-4").voided is False


def test_the_sessions_operator_is_recorded_and_a_claimed_other_operator_is_refused(
    sync_server_any: ServerEnv,
) -> None:
    env = sync_server_any
    no = env.terminal.terminal_no
    env.server.add_operator("issuer02", "試験 発行", ["issuer"], "本庁", PASSWORD)
    # The session is clerk01's; the event claims issuer02 did it.
    status, reason = _status(env.client, _issued(no, 5, "issuer02"))
    assert status == "rejected" and "ログイン中の職員" in reason
    assert _status(env.client, _issued(no, 6, env.operator_id))[0] == "accepted"
    assert env.client.certificate(f"{no}-20261201-6").operator_id == env.operator_id
    with env.server.db.read() as conn:
        recorded = dict(
            conn.execute(select(events_table.c.status, events_table.c.operator_id)).all()
        )
    # Even the rejection record names the session's operator, not the claimed one.
    assert recorded == {"rejected": env.operator_id, "accepted": env.operator_id}


@pytest.mark.parametrize("kind", ["audit_batch", "reconciliation_ack"])
def test_kinds_every_operator_may_send_still_need_the_sessions_operator(
    sync_server: ServerEnv, kind: str
) -> None:
    env = sync_server
    no = env.terminal.terminal_no
    payload: dict[str, Any] = {"entries": []} if kind == "audit_batch" else {"reconciliation_id": 1}
    status, reason = _status(env.client, _event(env.client, no, kind, payload, "someone-else"))
    assert status == "rejected" and "ログイン中の職員" in reason
