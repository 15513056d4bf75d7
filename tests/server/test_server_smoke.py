"""End to end over real HTTPS: enroll, login, feed, events, digest — SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from app.domain.records import parse_line
from app.sync.protocol import Event, bucket_digest, bucket_of
from tests.support.server import ServerEnv


def test_initial_sync_pages_through_the_whole_register(sync_server_any: ServerEnv) -> None:
    client = sync_server_any.client
    after, households, kinds = 0, {}, set()
    while True:
        page = client.changes(after, limit=7)
        for item in page.items:
            assert item.seq > after
            kinds.add(item.kind)
            if item.kind == "household":
                households[item.key] = parse_line(item.data_json())
        after = page.next_after
        if not page.has_more:
            break
    assert len(households) == 20
    assert {"household", "operator", "policy"} <= kinds
    assert after == page.latest_seq


def test_certificate_event_is_recorded_and_idempotent(sync_server_any: ServerEnv) -> None:
    env = sync_server_any
    event = Event(
        event_id=str(uuid.uuid4()),
        type="certificate_issued",
        occurred_at=datetime.now(UTC),
        operator_id=env.operator_id,
        terminal_no=env.terminal.terminal_no,
        relied_versions={"P00000010": 1},
        payload={
            "issuance_no": f"{env.terminal.terminal_no}-20261126-1",
            "kind": "juminhyo",
            "person_ids": ["P00000010"],
            "copies": 1,
            "fee_yen": 300,
            "content_digest": "ab" * 32,
        },
    )
    first = env.client.push_events([event])
    assert [r.status for r in first.results] == ["accepted"]
    again = env.client.push_events([event])
    assert [r.status for r in again.results] == ["duplicate"]
    info = env.client.certificate(f"{env.terminal.terminal_no}-20261126-1")
    assert info.person_ids == ["P00000010"] and info.fee_yen == 300 and not info.voided


def test_digest_matches_what_a_client_computes(sync_server_any: ServerEnv) -> None:
    env = sync_server_any
    digest = env.client.digest()
    bucket = bucket_of("H00000003")
    records = env.client.records(bucket)
    mine = [
        (h["household_id"], max(m["version"] for m in h["members"])) for h in records.households
    ]
    assert ("H00000003", 1) in mine
    assert digest.buckets[bucket] == bucket_digest(mine)
