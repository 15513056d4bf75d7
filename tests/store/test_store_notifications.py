"""The terminal's 住民異動届 (cache v10): a filing and its outbox event in one transaction, the
head office's decision arriving on the feed, the numbered migration from v9."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from msgspec.structs import replace

from app.domain.notifications import NotificationDraft
from app.store import migrations
from app.store.db import Cache, open_cache
from app.sync.notification_protocol import (
    NotificationDecision,
    NotificationFiledPayload,
)
from app.sync.protocol import ChangeItem, Event, EventResult
from tests.domain.notifications import data as D

FILED_AT = datetime(2026, 4, 20, 1, 0, tzinfo=UTC)


def draft() -> NotificationDraft:
    return replace(D.move_within_part(), notification_id=str(uuid.uuid4()))


def event_for(d: NotificationDraft) -> Event:
    payload = NotificationFiledPayload(
        notification_id=d.notification_id,
        draft=d,
        form_digest="ab" * 32,
        printed_at=FILED_AT,
        signature_confirmed_by="clerk01",
    )
    return Event(
        event_id=d.notification_id,
        type="notification_filed",
        occurred_at=FILED_AT,
        operator_id="clerk01",
        terminal_no="0001",
        relied_versions=dict(d.relied_versions),
        payload=payload.model_dump(mode="json"),
    )


def file(cache: Cache, d: NotificationDraft) -> None:
    cache.record_notification(
        draft=d,
        form_digest="ab" * 32,
        filed_at=FILED_AT,
        operator_id="clerk01",
        event=event_for(d),
    )


def decision_item(seq: int, **fields: object) -> ChangeItem:
    decision = NotificationDecision(terminal_no="0001", **fields)  # type: ignore[arg-type]
    return ChangeItem(
        seq=seq,
        kind="notification",
        key=decision.notification_id,
        version=seq,
        data=decision.model_dump(mode="json"),
    )


def test_a_filing_and_its_event_are_one_fact(cache: Cache) -> None:
    d = draft()
    file(cache, d)
    [kept] = cache.notifications_filed()
    assert (kept.notification_id, kept.state, kept.delivery) == (
        d.notification_id,
        "pending",
        "unsent",
    )
    assert kept.draft == d and kept.seen
    assert [e.event_id for e in cache.outbox_pending()] == [d.notification_id]
    # Whatever fails inside the transaction takes both back (nothing half filed).
    other = draft()
    with pytest.raises(RuntimeError), cache.transaction():
        file(cache, other)
        raise RuntimeError("render failed")
    assert [n.notification_id for n in cache.notifications_filed()] == [d.notification_id]
    assert cache.outbox_count() == 1
    # Delivered: still listed, now as sent; refused by the server: rejected with the reason.
    cache.outbox_record_results([EventResult(event_id=d.notification_id, status="accepted")])
    assert cache.notification_filed(d.notification_id).delivery == "sent"
    file(cache, other)
    cache.outbox_record_results(
        [EventResult(event_id=other.notification_id, status="rejected", reason="本人確認書類")]
    )
    refused = cache.notification_filed(other.notification_id)
    assert (refused.delivery, refused.reason) == ("rejected", "本人確認書類")


def test_the_decision_arrives_on_the_feed(cache: Cache) -> None:
    mine, theirs = draft(), str(uuid.uuid4())
    file(cache, mine)
    cache.apply_changes(
        [
            decision_item(
                1,
                notification_id=mine.notification_id,
                state="returned",
                decided_at=FILED_AT,
                decided_by="review01",
                reason="新住所の方書を確認してください。",
            ),
            decision_item(2, notification_id=theirs, state="confirmed"),  # another terminal's
        ],
        2,
    )
    [unseen] = cache.unseen_notification_decisions()
    assert (unseen.state, unseen.reason, unseen.decided_by) == (
        "returned",
        "新住所の方書を確認してください。",
        "review01",
    )
    assert cache.cursor() == 2 and len(cache.notifications_filed()) == 1
    cache.mark_notifications_seen([mine.notification_id])
    assert cache.unseen_notification_decisions() == []
    # The same decision again (a re-pulled page) is not news.
    cache.apply_changes(
        [
            decision_item(
                3,
                notification_id=mine.notification_id,
                state="returned",
                decided_at=FILED_AT,
                decided_by="review01",
                reason="新住所の方書を確認してください。",
            )
        ],
        3,
    )
    assert cache.unseen_notification_decisions() == []


def test_migration_v10_keeps_a_v9_cache(tmp_path: Path, dek: bytes) -> None:
    from app.store.db import _connect

    path = tmp_path / "v9.db"
    conn, _ = _connect(path, dek, create=True)
    assert migrations.migrate(conn, upto=9) == 9
    conn.execute(
        "INSERT INTO outbox(event_id, type, body, added_at, updated_at)"
        " VALUES ('e1', 'audit_batch', '{}', 'x', 'x')"
    )
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'notifications'").fetchone()
    conn.close()
    with open_cache(path, dek) as c:
        assert c.schema_version() == migrations.LATEST_VERSION >= 10
        assert c.outbox_total() == 1
        assert c.notifications_filed() == []
        file(c, draft())
        assert len(c.notifications_filed()) == 1
