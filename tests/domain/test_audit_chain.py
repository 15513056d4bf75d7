"""The one audit-chain format (app.domain.audit_chain), which the terminal writes and the server
verifies: its canonical form and hash pinned to a known answer, the wire form, the vocabulary."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from app.domain.audit_chain import (
    ACTION_LABELS,
    ACTIONS,
    GENESIS_HASH,
    AuditAction,
    ChainEntry,
    ProblemKind,
    canonical_at,
    canonical_json,
    entry_hash,
    parse_wire_entry,
    verifier_for,
    verify_chain,
)

CONTENT: dict[str, Any] = {
    "seq": 1,
    "entry_id": "00000000-0000-4000-8000-000000000001",
    "at": "2026-11-26T00:00:00.000000+00:00",
    "operator_id": "op1",
    "terminal_no": "T0001",
    "action": "search",
    "target_ids": ["P00000001"],
    "reason": None,
    "prev_hash": GENESIS_HASH,
}
# sha256sum of the canonical line below, computed outside Python: a change of the format (key
# order, separators, escaping) breaks every chain already written, and this test.
CANONICAL = (
    '{"action":"search","at":"2026-11-26T00:00:00.000000+00:00",'
    '"entry_id":"00000000-0000-4000-8000-000000000001","operator_id":"op1",'
    '"prev_hash":"' + "0" * 64 + '","reason":null,"seq":1,"target_ids":["P00000001"],'
    '"terminal_no":"T0001"}'
)
KNOWN_HASH = "eabc21af4537b1abcfbd8fefadfae42454eeae8be5ad9e83eb376932a7f3e6cf"


def test_canonical_form_and_hash_are_pinned() -> None:
    assert canonical_json(CONTENT).decode("utf-8") == CANONICAL
    assert entry_hash(CONTENT) == KNOWN_HASH
    assert hashlib.sha256(CANONICAL.encode()).hexdigest() == KNOWN_HASH


def test_japanese_reason_is_hashed_as_utf8_not_escaped() -> None:
    content = dict(CONTENT, reason="窓口で確認")
    assert "窓口で確認".encode() in canonical_json(content)


def _signed_entries(n: int) -> tuple[list[ChainEntry], Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    entries: list[ChainEntry] = []
    prev = GENESIS_HASH
    t0 = datetime(2026, 11, 26, tzinfo=UTC)
    for i in range(1, n + 1):
        content = dict(
            CONTENT,
            seq=i,
            entry_id=f"e{i}",
            at=canonical_at(t0 + timedelta(minutes=i)),
            prev_hash=prev,
        )
        digest = entry_hash(content)
        signature = key.sign(bytes.fromhex(digest), ec.ECDSA(hashes.SHA256()))
        entries.append(
            ChainEntry(
                seq=i,
                entry_id=content["entry_id"],
                at=content["at"],
                operator_id="op1",
                terminal_no="T0001",
                action="search",
                target_ids=("P00000001",),
                reason=None,
                prev_hash=prev,
                hash=digest,
                signature=signature,
            )
        )
        prev = digest
    return entries, key.public_key()


def test_wire_round_trip_and_verification() -> None:
    entries, public = _signed_entries(4)
    wire = [e.to_wire() for e in entries]
    assert base64.b64decode(wire[0]["signature"]) == entries[0].signature
    parsed = [parse_wire_entry(w) for w in wire]
    assert parsed == entries
    assert verify_chain(parsed, verifier_for(public), terminal_no="T0001") == []
    # The server checks a continuation against the last entry it holds.
    assert verify_chain(parsed[2:], None, first_seq=3, prev_hash=entries[1].hash) == []
    assert {p.kind for p in verify_chain(parsed[2:], None)} == {ProblemKind.MISSING}


def test_signatures_checked_from_a_time_on() -> None:
    entries, _ = _signed_entries(3)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert {p.seq for p in verify_chain(entries, verifier_for(other))} == {1, 2, 3}
    late = datetime.fromisoformat(entries[2].at)
    assert [p.seq for p in verify_chain(entries, verifier_for(other), signatures_from=late)] == [3]


@pytest.mark.parametrize(
    "change",
    [
        {"action": "no_such_action"},
        {"at": "2026-11-26T09:00:00+09:00"},  # not the canonical UTC form that was hashed
        {"seq": 0},
        {"seq": True},
        {"target_ids": "P00000001"},
        {"reason": 3},
        {"signature": "not base64!"},
    ],
)
def test_malformed_wire_entries_are_refused(change: dict[str, Any]) -> None:
    entries, _ = _signed_entries(1)
    wire = dict(entries[0].to_wire(), **change)
    with pytest.raises(ValueError):
        parse_wire_entry(wire)


def test_vocabulary_is_closed_and_labelled() -> None:
    assert {a.value for a in AuditAction} == ACTIONS
    assert set(ACTION_LABELS) == set(AuditAction)


def test_canonical_at_is_utc_with_microseconds() -> None:
    jst = timezone(timedelta(hours=9))
    assert canonical_at(datetime(2026, 11, 26, 9, 0, tzinfo=jst)) == (
        "2026-11-26T00:00:00.000000+00:00"
    )
