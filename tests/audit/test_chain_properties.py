"""Property: any single tampering, deletion (not of the newest) or reordering is detected by the
one chain format (app.domain.audit_chain.verify_chain), on the terminal's entries and on the
same entries after their trip through an audit_batch (what the server verifies)."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.audit_chain import parse_wire_entry, verifier_for, verify_chain
from app.store.audit import AUDIT_TABLE_DDL, AuditAction, AuditChain, AuditEntry, signer_for

N = 12
_KEY = ec.generate_private_key(ec.SECP256R1())


def _build() -> list[AuditEntry]:
    conn = sqlite3.connect(":memory:")
    conn.execute(AUDIT_TABLE_DDL)
    chain = AuditChain(conn, "T0001", signer_for(_KEY))
    t0 = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    actions = list(AuditAction)
    for i in range(N):
        chain.append(
            f"op{i % 3}",
            actions[i % len(actions)],
            [f"P{i}"],
            reason=f"理由{i}",
            at=t0 + timedelta(minutes=i),
        )
    return chain.entries()


ENTRIES = _build()
VERIFY = verifier_for(_KEY.public_key())


def _both_detect(entries: list[AuditEntry]) -> set[str]:
    """The problem kinds found; found as stored and after the wire, and the same kinds."""
    stored = {p.kind.value for p in verify_chain(entries, VERIFY, terminal_no="T0001")}
    wire = [parse_wire_entry(e.to_wire()) for e in entries]
    sent = {p.kind.value for p in verify_chain(wire, VERIFY, terminal_no="T0001")}
    assert stored, "verify_chain missed it"
    assert sent == stored
    return stored


def test_intact_chain_passes_both() -> None:
    assert verify_chain(ENTRIES, VERIFY, terminal_no="T0001") == []
    wire = [parse_wire_entry(e.to_wire()) for e in ENTRIES]
    assert wire == ENTRIES
    assert verify_chain(wire, VERIFY, terminal_no="T0001") == []


@settings(max_examples=60, deadline=None)
@given(
    i=st.integers(0, N - 1),
    field=st.sampled_from(["operator_id", "target_ids", "reason", "at", "action", "seq"]),
)
def test_any_tampering_detected(i: int, field: str) -> None:
    e = ENTRIES[i]
    changed = {
        "operator_id": "intruder",
        "target_ids": ("P999",),
        "reason": "別の理由",
        "at": "2026-01-01T00:00:00.000000+00:00",
        "action": "export" if e.action != "export" else "print",
        "seq": e.seq + 100,
    }[field]
    entries = list(ENTRIES)
    entries[i] = dataclasses.replace(e, **{field: changed})
    kinds = _both_detect(entries)
    if field != "seq":
        assert kinds == {"tampered"}


@settings(max_examples=40, deadline=None)
@given(i=st.integers(0, N - 2), renumber=st.booleans())
def test_any_deletion_but_the_newest_detected(i: int, renumber: bool) -> None:
    entries = ENTRIES[:i] + ENTRIES[i + 1 :]
    if renumber:  # close up the numbers as well
        entries = [dataclasses.replace(e, seq=n) for n, e in enumerate(entries, start=1)]
    assert _both_detect(entries) == {"missing"}


@settings(max_examples=40, deadline=None)
@given(
    pair=st.tuples(st.integers(0, N - 1), st.integers(0, N - 1)).filter(lambda p: p[0] != p[1]),
    keep_seq=st.booleans(),
)
def test_any_reordering_detected(pair: tuple[int, int], keep_seq: bool) -> None:
    i, j = sorted(pair)
    entries = list(ENTRIES)
    entries[i], entries[j] = entries[j], entries[i]
    if not keep_seq:  # give each its new position's number
        entries = [dataclasses.replace(e, seq=n) for n, e in enumerate(entries, start=1)]
    kinds = _both_detect(entries)
    assert "reordered" in kinds and "tampered" not in kinds
