"""The terminal's audit chain: append, verify, and the three attacks the auditor must see."""

from __future__ import annotations

import itertools
import json
import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from app.store.audit import (
    GENESIS_HASH,
    AuditAction,
    AuditChain,
    AuditEntry,
    ProblemKind,
    signer_for,
)
from tests.support.poll import poll_until

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _fill(chain: AuditChain, n: int = 8) -> list[AuditEntry]:
    out = []
    for i in range(n):
        action = [AuditAction.SEARCH, AuditAction.VIEW_HOUSEHOLD, AuditAction.PRINT][i % 3]
        out.append(chain.append("op1", action, [f"P{i:04d}"], at=T0 + timedelta(minutes=i)))
    return out


def _kinds(problems: list[Any]) -> set[ProblemKind]:
    return {p.kind for p in problems}


def test_append_links_and_signs(
    chain: AuditChain, terminal_key: ec.EllipticCurvePrivateKey
) -> None:
    entries = _fill(chain)
    assert [e.seq for e in entries] == list(range(1, 9))
    assert entries[0].prev_hash == GENESIS_HASH
    for a, b in itertools.pairwise(entries):
        assert b.prev_hash == a.hash
    assert chain.verify(terminal_key.public_key()) == []
    assert chain.entries() == entries


def test_wrong_key_is_reported(chain: AuditChain) -> None:
    _fill(chain, 3)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert _kinds(chain.verify(other)) == {ProblemKind.BAD_SIGNATURE}


def test_tampered_entry_detected(
    chain: AuditChain, cache: Any, terminal_key: ec.EllipticCurvePrivateKey
) -> None:
    _fill(chain)
    cache.execute("UPDATE audit_entries SET target_ids = ? WHERE seq = 4", (json.dumps(["P9999"]),))
    cache.commit()
    problems = chain.verify(terminal_key.public_key())
    assert [(p.kind, p.seq) for p in problems] == [(ProblemKind.TAMPERED, 4)]
    assert "P9999" not in str(problems[0])  # problems name positions, not content


def test_rehashed_tampering_fails_the_signature(
    chain: AuditChain, cache: Any, terminal_key: ec.EllipticCurvePrivateKey
) -> None:
    entries = _fill(chain)
    forged = entries[3].hashed_content() | {"operator_id": "op2"}
    from app.store.audit import entry_hash

    cache.execute(
        "UPDATE audit_entries SET operator_id = 'op2', hash = ? WHERE seq = 4",
        (entry_hash(forged),),
    )
    cache.commit()
    kinds = _kinds(chain.verify(terminal_key.public_key()))
    assert ProblemKind.BAD_SIGNATURE in kinds
    # Without the key the next entry's link still gives the rewrite away.
    assert chain.verify(None) != []


def test_deleted_entry_detected(
    chain: AuditChain, cache: Any, terminal_key: ec.EllipticCurvePrivateKey
) -> None:
    _fill(chain)
    cache.execute("DELETE FROM audit_entries WHERE seq = 5")
    cache.commit()
    problems = chain.verify(terminal_key.public_key())
    assert [(p.kind, p.seq) for p in problems] == [(ProblemKind.MISSING, 5)]


def test_deleted_and_renumbered_detected(
    chain: AuditChain, cache: Any, terminal_key: ec.EllipticCurvePrivateKey
) -> None:
    _fill(chain)
    cache.execute("DELETE FROM audit_entries WHERE seq = 5")
    cache.execute("UPDATE audit_entries SET seq = seq - 1 WHERE seq > 5")
    cache.commit()
    problems = chain.verify(terminal_key.public_key())
    assert problems, "closing up the numbers must not hide a deletion"
    assert ProblemKind.MISSING in _kinds(problems) or ProblemKind.REORDERED in _kinds(problems)


def test_first_entry_deleted_detected(
    chain: AuditChain, cache: Any, terminal_key: ec.EllipticCurvePrivateKey
) -> None:
    _fill(chain, 3)
    cache.execute("DELETE FROM audit_entries WHERE seq = 1")
    cache.commit()
    assert _kinds(chain.verify(terminal_key.public_key())) == {ProblemKind.MISSING}


def test_reordered_entries_detected(
    chain: AuditChain, cache: Any, terminal_key: ec.EllipticCurvePrivateKey
) -> None:
    _fill(chain)
    cache.execute("UPDATE audit_entries SET seq = -1 WHERE seq = 3")
    cache.execute("UPDATE audit_entries SET seq = 3 WHERE seq = 6")
    cache.execute("UPDATE audit_entries SET seq = 6 WHERE seq = -1")
    cache.commit()
    problems = chain.verify(terminal_key.public_key())
    assert {p.seq for p in problems if p.kind is ProblemKind.REORDERED} >= {3, 6}
    assert ProblemKind.TAMPERED not in _kinds(problems)
    assert ProblemKind.BAD_SIGNATURE not in _kinds(problems)


def test_ed25519_terminal_key(cache: Any) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    chain = AuditChain(cache, "T0002", signer_for(key))
    _fill(chain, 3)
    assert chain.verify(key.public_key()) == []


def test_reason_required_and_vocabulary_closed(chain: AuditChain) -> None:
    with pytest.raises(ValueError):
        chain.append("op1", AuditAction.REVEAL_MY_NUMBER, ["P1"], reason="  ")
    with pytest.raises(ValueError):
        chain.append("op1", "delete_everything", ["P1"])
    with pytest.raises(ValueError):
        chain.append("op1", AuditAction.SEARCH, at=datetime(2026, 1, 1))  # naive time
    assert chain.entries() == []


def test_append_joins_the_callers_transaction(chain: AuditChain, cache: Any) -> None:
    cache.execute("BEGIN IMMEDIATE")
    chain.append("op1", AuditAction.ISSUE_CERTIFICATE, ["P1"])
    cache.rollback()  # the issuance failed: its audit entry goes with it
    assert chain.entries() == []
    chain.append("op1", AuditAction.ISSUE_CERTIFICATE, ["P1"])
    assert [e.seq for e in chain.entries()] == [1]


def test_pending_batch_and_mark_pushed(chain: AuditChain) -> None:
    entries = _fill(chain, 5)
    batch = chain.pending_batch(3)
    assert batch is not None
    assert (batch["first_seq"], batch["last_seq"]) == (1, 3)
    assert [AuditEntry.from_wire(w) for w in batch["entries"]] == entries[:3]
    json.dumps(batch)  # travels as JSON inside an Event payload
    assert chain.mark_pushed(3) == 3
    batch = chain.pending_batch(10)
    assert batch is not None and batch["first_seq"] == 4
    chain.mark_pushed(5)
    assert chain.pending_batch() is None
    assert chain.pending_count() == 0


def test_query_filters(chain: AuditChain) -> None:
    _fill(chain, 6)
    chain.append("op2", AuditAction.EXPORT, [], at=T0 + timedelta(hours=2))
    assert [e.operator_id for e in chain.query(operator_id="op2")] == ["op2"]
    got = chain.query(actions=[AuditAction.SEARCH])
    assert {e.action for e in got} == {"search"} and len(got) == 2
    got = chain.query(start=T0 + timedelta(minutes=2), end=T0 + timedelta(minutes=4))
    assert [e.seq for e in got] == [4, 3]


def test_works_inside_the_store_transaction(tmp_path: Any, terminal_key: Any) -> None:
    """Through the store's Cache: joins `cache.transaction()`, rolled back with it."""
    import os

    import sqlcipher3

    from app.store.audit import AUDIT_TABLE_DDL
    from app.store.base import CacheBase

    conn = sqlcipher3.connect(str(tmp_path / "c.db"), isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA key = \"x'{os.urandom(32).hex()}'\"")
    conn.execute(AUDIT_TABLE_DDL)
    cache = CacheBase(conn, str(tmp_path / "c.db"))
    chain = AuditChain(cache, "T0003", signer_for(terminal_key))
    chain.append("op1", AuditAction.LOGIN)
    with pytest.raises(RuntimeError), cache.transaction():
        chain.append("op1", AuditAction.ISSUE_CERTIFICATE, ["P1"])
        raise RuntimeError("printing failed")
    with cache.transaction():
        chain.append("op1", AuditAction.ISSUE_CERTIFICATE, ["P1"])
        chain.append("op1", AuditAction.PRINT, ["P1"])
    assert [e.action for e in chain.entries()] == ["login", "issue_certificate", "print"]
    assert chain.verify(terminal_key.public_key()) == []
    conn.close()


def test_a_sync_and_a_logout_never_deadlock(tmp_path: Any, terminal_key: Any) -> None:
    """The sync thread queues audit batches inside a store transaction and marks them pushed
    (store, then chain); a logout on another thread appends its entry (chain, then store). With
    a lock of the chain's own, each held what the other waited for: the terminal froze at
    logout (seen in tests/e2e/test_counter_screen.py under load)."""
    import os

    import sqlcipher3

    from app.store.audit import AUDIT_TABLE_DDL
    from app.store.base import CacheBase

    conn = sqlcipher3.connect(str(tmp_path / "c.db"), isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA key = \"x'{os.urandom(32).hex()}'\"")
    conn.execute(AUDIT_TABLE_DDL)
    cache = CacheBase(conn, str(tmp_path / "c.db"))
    chain = AuditChain(cache, "T0004", signer_for(terminal_key))
    _fill(chain, 3)
    logout_done = threading.Event()
    sync_done = threading.Event()

    def logout() -> None:
        chain.append("op1", AuditAction.LOGOUT, [])
        logout_done.set()

    def sync() -> None:
        with cache.transaction():
            appender = threading.Thread(target=logout, daemon=True)
            appender.start()
            # until the logout waits inside append (on whichever lock it needs first)
            poll_until(lambda: _waits_in(appender, "append"), timeout=30, what="the logout")
            chain.mark_pushed(3)
        sync_done.set()

    syncer = threading.Thread(target=sync, daemon=True)
    syncer.start()
    assert sync_done.wait(60), "the sync thread deadlocked with the logout"
    assert logout_done.wait(60), "the logout deadlocked with the sync thread"
    assert [e.action for e in chain.entries()][-1] == AuditAction.LOGOUT
    assert chain.pending_count() == 1  # the three marked pushed, the logout entry waiting


def _waits_in(thread: threading.Thread, function: str) -> bool:
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False
