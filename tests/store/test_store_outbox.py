"""Outbox (never loses data), notices, 交付番号 allocation, issuances, wipe."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3

from app.store.db import Cache, cache_path, create_cache, open_cache, slots_path, wipe
from app.store.errors import NotFound, OutboxNotEmpty, StoreError
from app.store.keys import Argon2Params, KeySlots
from app.sync.protocol import Event, EventResult


def event(kind: str = "card_event", **extra: Any) -> Event:
    """A well-formed event of `kind` (the outbox checks payloads against their models);
    `extra` goes into the payload where the model has room for it."""
    payload: dict[str, Any]
    if kind == "certificate_issued":
        payload = {
            "issuance_no": extra.get("issuance_no", "0001-20261126-0001"),
            "kind": "household",
            "person_ids": ["P0001"],
            "copies": 1,
            "fee_yen": 300,
            "content_digest": "0" * 64,
        }
    elif kind == "certificate_voided":
        payload = {"issuance_no": extra.get("issuance_no", "0001-20261126-0001")}
    elif kind == "audit_batch":
        payload = {"terminal_no": "0001", "first_seq": 1, "last_seq": 1, "entries": [extra]}
    else:
        payload = {"action": "交付", "details": extra}
    return Event(
        event_id=str(uuid.uuid4()),
        type=kind,  # type: ignore[arg-type]
        occurred_at=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        operator_id="op1",
        terminal_no="0001",
        payload=payload,
    )


def test_a_malformed_payload_never_enters_the_outbox(tmp_path: Path, dek: bytes) -> None:
    """A typo in a payload fails on the terminal, inside the issuance's transaction: no number
    is consumed, nothing is recorded, so no certificate is handed over (the service renders
    the PDF in the same transaction and returns it only after the commit)."""
    cache = create_cache(tmp_path / "cache.db", dek)
    good = event("certificate_issued")
    typo = good.model_copy(update={"payload": {**good.payload, "fee_yenn": 300}})
    with pytest.raises(StoreError, match="fee_yenn"):
        cache.outbox_add(typo)
    day = date(2026, 11, 26)

    def bad_event(no: str) -> Event:
        return typo.model_copy(update={"payload": {**typo.payload, "issuance_no": no}})

    with pytest.raises(StoreError), cache.transaction():
        no = cache.next_issuance_no("0001", day)
        cache.record_issuance(
            issuance_no=no,
            terminal_no="0001",
            issued_at=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
            operator_id="op1",
            kind="household",
            household_id="H0001",
            person_ids=["P0001"],
            copies=1,
            fee_yen=300,
            requester_kind="self",
            id_document=None,
            content_digest="0" * 64,
            event_factory=bad_event,
        )
    assert cache.outbox_total() == 0 and cache.issuances_on(day) == []
    assert cache.next_issuance_no("0001", day) == "0001-20261126-0001"  # the number came back
    cache.close()


def test_outbox_results(tmp_path: Path, dek: bytes) -> None:
    path = tmp_path / "cache.db"
    c = create_cache(path, dek)
    events = [event(n=i) for i in range(6)]
    for e in events:
        c.outbox_add(e)
    c.outbox_add(events[0])  # idempotent
    c.close()
    c = open_cache(path, dek)  # durable across close/open
    assert c.outbox_count() == 6
    assert c.outbox_pending(3) == events[:3]
    c.outbox_record_results(
        [
            EventResult(event_id=events[0].event_id, status="accepted"),
            EventResult(event_id=events[1].event_id, status="rejected", reason="対象なし"),
            EventResult(event_id=events[2].event_id, status="conflict", reason="版数が古い"),
            EventResult(event_id=events[3].event_id, status="duplicate"),
            EventResult(event_id=str(uuid.uuid4()), status="accepted"),  # unknown: ignored
        ]
    )
    # The rejected one is kept and listed but no longer handed out; the rest go on.
    assert c.outbox_pending(10) == events[4:]
    assert c.outbox_count() == 2
    assert c.outbox_total() == 3
    rejected = c.outbox_rejected()
    assert [(r.event, r.reason) for r in rejected] == [(events[1], "対象なし")]
    assert [(n.event, n.reason) for n in c.notices()] == [(events[2], "版数が古い")]
    c.acknowledge_notice(events[2].event_id)
    assert c.notices() == [] and len(c.notices(include_acknowledged=True)) == 1
    c.outbox_requeue(events[1].event_id)
    assert c.outbox_pending(10) == [events[1], *events[4:]]
    with pytest.raises(NotFound):
        c.outbox_requeue(events[1].event_id)
    c.close()


def test_issuance_numbers_are_durable_and_unique(tmp_path: Path, dek: bytes) -> None:
    path = tmp_path / "cache.db"
    c = create_cache(path, dek)
    d = date(2026, 11, 26)
    assert c.next_issuance_no("0003", d) == "0003-20261126-0001"
    assert c.next_issuance_no("0003", d) == "0003-20261126-0002"
    assert c.next_issuance_no("0003", date(2026, 11, 27)) == "0003-20261127-0001"
    c.close()
    c = open_cache(path, dek)
    assert c.next_issuance_no("0003", d) == "0003-20261126-0003"
    c.close()


def test_record_and_void_issuance(cache: Cache) -> None:
    at = datetime(2026, 11, 26, 10, 30).astimezone()

    def factory(no: str) -> Event:
        return event("certificate_issued", issuance_no=no)

    kw = dict(
        terminal_no="0001", issued_at=at, operator_id="op1", kind="juminhyo_household",
        household_id="H1", person_ids=["P1", "P2"], copies=2, fee_yen=600,
        requester_kind="self", id_document="個人番号カード", content_digest="ab" * 32,
    )  # fmt: skip
    first = cache.record_issuance(**kw, event_factory=factory)
    second = cache.record_issuance(**kw, event_factory=factory)
    assert first.issuance_no == "0001-20261126-0001" and second.issuance_no.endswith("-0002")
    assert first.person_ids == ("P1", "P2") and first.issued_at == at
    pending = cache.outbox_pending(10)
    assert [e.payload["issuance_no"] for e in pending] == [first.issuance_no, second.issuance_no]
    assert first.event_id == pending[0].event_id

    # A failing event factory leaves no issuance, no event and no used number behind.
    def broken(no: str) -> Event:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.record_issuance(**kw, event_factory=broken)
    assert len(cache.issuances_on(at.date())) == 2 and cache.outbox_count() == 2
    assert cache.record_issuance(**kw).issuance_no.endswith("-0003")

    # A number taken first (it is printed on the certificate), recorded in the same transaction.
    with cache.transaction():
        no = cache.next_issuance_no("0001", at.date())
        taken = cache.record_issuance(**kw, issuance_no=no, event_factory=factory)
    assert taken.issuance_no == no == "0001-20261126-0004"
    with pytest.raises(StoreError):
        cache.record_issuance(**kw, issuance_no="0002-20261126-0001")
    with pytest.raises(sqlcipher3.IntegrityError):  # a number is never used twice
        cache.record_issuance(**kw, issuance_no=no)

    cache.void_issuance(first.issuance_no, "記載誤り", event("certificate_voided"))
    assert cache.issuance(first.issuance_no).voided
    assert cache.issuance(first.issuance_no).void_reason == "記載誤り"
    assert cache.outbox_count() == 4
    with pytest.raises(StoreError):
        cache.void_issuance(first.issuance_no, "二重", None)
    with pytest.raises(StoreError):
        cache.void_issuance(second.issuance_no, "  ", None)
    with pytest.raises(NotFound):
        cache.void_issuance("0001-20991231-0001", "x", None)
    assert [i.voided for i in cache.issuances_on(at.date())] == [True, False, False, False]
    assert cache.issuances_on(date(2026, 11, 25)) == []


def test_wipe_refused_with_outbox_then_done(tmp_path: Path, dek: bytes) -> None:
    c = create_cache(cache_path(tmp_path), dek)
    slots = KeySlots(slots_path(tmp_path), Argon2Params(1, 1024, 1))
    slots.create_or_refresh("op1", "pw", dek, b"d" * 32, 7)
    e = event()
    c.outbox_add(e)
    with pytest.raises(OutboxNotEmpty) as exc:
        wipe(tmp_path, c)
    assert exc.value.pending == 1
    assert cache_path(tmp_path).exists() and slots_path(tmp_path).exists()
    c.outbox_record_results([EventResult(event_id=e.event_id, status="rejected", reason="x")])
    with pytest.raises(OutboxNotEmpty):  # a rejected event is still data
        wipe(tmp_path, c)
    c.outbox_record_results([EventResult(event_id=e.event_id, status="accepted")])
    wipe(tmp_path, c)
    assert list(tmp_path.iterdir()) == []
