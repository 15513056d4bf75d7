"""Revoked operators lose their key slots; a revoked terminal is wiped, or locked when its outbox
still holds events. Real SQLCipher cache and key-slot file; the server is the in-memory fake
(the real server's 403 terminal_revoked is covered in tests/server)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path

from app.services.revocation import apply_revocations, is_locked
from app.store.db import cache_path, create_cache, slots_path
from app.store.keys import Argon2Params, KeySlots
from app.sync.engine import SyncEngine
from app.sync.errors import ServerRejected
from app.sync.protocol import Event
from tests.sync.data import households
from tests.sync.fakes import FakeClient, FakeServer

FAST = Argon2Params(time_cost=1, memory_kib=8, parallelism=1)
REVOKED = ServerRejected(403, "terminal_revoked", "この端末は登録を取り消されています。")


def setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    dek, device = secrets.token_bytes(32), secrets.token_bytes(32)
    cache = create_cache(cache_path(tmp_path), dek)
    slots = KeySlots(slots_path(tmp_path), argon2=FAST)
    for op in ("op1", "op2"):
        slots.create_or_refresh(op, "password-1234", dek, device, valid_days=7)
    server = FakeServer()
    for h in households(5):
        server.put("household", h["household_id"], h)
    client = FakeClient(server)
    engine = SyncEngine(cache, client, terminal_no="0001", sleep=lambda s: None)
    return cache, slots, server, client, engine


def test_revoked_operator_loses_the_key_slot(tmp_path: Path) -> None:
    cache, slots, server, _, engine = setup(tmp_path)
    profile = {"operator_id": "op2", "display_name": "x", "roles": ["clerk"], "branch": "留辺蘂"}
    server.put("operator", "op2", {**profile, "active": False})
    report = engine.sync_once()
    assert report.revoked_operators == ["op2"] and report.terminal_action == "none"
    outcome = apply_revocations(report, slots=slots, data_dir=tmp_path, cache=cache)
    assert outcome.slots_deleted == ["op2"] and slots.operators() == ["op1"]
    assert not outcome.wiped and not outcome.locked and outcome.message is None
    cache.close()


def test_revoked_terminal_with_empty_outbox_is_wiped(tmp_path: Path) -> None:
    cache, slots, _, client, engine = setup(tmp_path)
    engine.sync_once()
    client.faults["push_events"] = []
    client.faults["changes"] = [REVOKED]
    report = engine.sync_once()
    assert report.terminal_action == "wipe"
    outcome = apply_revocations(report, slots=slots, data_dir=tmp_path, cache=cache)
    assert outcome.wiped and not cache_path(tmp_path).exists()
    assert not slots_path(tmp_path).exists() and not is_locked(tmp_path)


def test_revoked_terminal_with_events_left_is_locked_not_wiped(tmp_path: Path) -> None:
    cache, slots, _, client, engine = setup(tmp_path)
    engine.sync_once()
    cache.outbox_add(
        Event(
            event_id=str(uuid.uuid4()),
            type="card_event",
            occurred_at=datetime.now(UTC),
            operator_id="op1",
            terminal_no="0001",
            payload={"action": "交付"},
        )
    )
    client.faults["push_events"] = [REVOKED]
    report = engine.sync_once()
    assert report.terminal_action == "lock" and report.outbox_count == 1
    outcome = apply_revocations(report, slots=slots, data_dir=tmp_path, cache=cache)
    assert outcome.locked and not outcome.wiped and is_locked(tmp_path)
    assert cache_path(tmp_path).exists() and cache.outbox_count() == 1
    assert "管理者" in (outcome.message or "")
    cache.close()


def test_rejected_events_also_prevent_the_wipe(tmp_path: Path) -> None:
    cache, slots, server, client, engine = setup(tmp_path)
    e = Event(
        event_id=str(uuid.uuid4()),
        type="card_event",
        occurred_at=datetime.now(UTC),
        operator_id="op1",
        terminal_no="0001",
        payload={"action": "交付"},
    )
    server.reject.add(e.event_id)
    cache.outbox_add(e)
    engine.sync_once()
    assert cache.outbox_count() == 0 and len(cache.outbox_rejected()) == 1
    client.faults["changes"] = [REVOKED]
    report = engine.sync_once()
    assert report.terminal_action == "lock"
    assert apply_revocations(report, slots=slots, data_dir=tmp_path, cache=cache).locked
    cache.close()
