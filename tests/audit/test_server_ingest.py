"""The server's side of the chain: ingest with continuity checks, and re-verification."""

from __future__ import annotations

import base64
import copy
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Connection, insert, text

from app.domain.audit_chain import ProblemKind
from app.store.audit import AuditAction, AuditChain
from server.audit_ingest import ingest_audit_batch, verify_stored
from server.db import Database
from server.tables import terminals

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def _server_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("server-template") / "server.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    return path


@pytest.fixture
def server_db(_server_template: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "server.db"
    shutil.copy(_server_template, path)
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


def _ingest(db: Database, payload: dict[str, Any], terminal: str = "T0001") -> tuple[str, Any]:
    with db.write() as conn:
        return ingest_audit_batch(conn, terminal, payload)


def _problems(db: Database) -> set[ProblemKind]:
    with db.read() as conn:
        return {p.kind for p in verify_stored(conn)}


def _day(chain: AuditChain, n: int) -> None:
    for i in range(n):
        chain.append("op1", AuditAction.SEARCH, [f"P{i}"], at=T0 + timedelta(minutes=i))


def test_batches_accepted_in_order_and_resend_is_duplicate(
    chain: AuditChain, server_db: Database
) -> None:
    _day(chain, 7)
    first = chain.pending_batch(4)
    assert first is not None
    assert _ingest(server_db, first) == ("accepted", None)
    assert _ingest(server_db, first) == ("duplicate", None)
    chain.mark_pushed(first["last_seq"])
    second = chain.pending_batch(4)
    assert second is not None and second["first_seq"] == 5
    assert _ingest(server_db, second) == ("accepted", None)
    assert _problems(server_db) == set()
    with server_db.read() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM audit_entries")).scalar_one() == 7


def test_unicode_reason_roundtrips(chain: AuditChain, server_db: Database) -> None:
    chain.append("op1", AuditAction.REVEAL_MY_NUMBER, ["P1"], reason="本人からの申請(窓口)")
    assert _ingest(server_db, chain.pending_batch() or {}) == ("accepted", None)
    assert _problems(server_db) == set()


def _tamper(payload: dict[str, Any], fn: Any) -> dict[str, Any]:
    bad = copy.deepcopy(payload)
    fn(bad["entries"])
    return bad


@pytest.mark.parametrize(
    ("attack", "kind"),
    [
        (lambda es: es[3].update(target_ids=["P9999"]), ProblemKind.TAMPERED),
        (lambda es: es.pop(3), ProblemKind.MISSING),
        (
            lambda es: (es[2].update(seq=es[5]["seq"]), es[5].update(seq=3)),
            ProblemKind.REORDERED,
        ),
    ],
    ids=["tampered", "deleted", "reordered"],
)
def test_attacks_on_a_batch_are_detected(
    chain: AuditChain, server_db: Database, attack: Any, kind: ProblemKind
) -> None:
    _day(chain, 8)
    payload = _tamper(chain.pending_batch() or {}, attack)
    status, reason = _ingest(server_db, payload)
    assert status == "conflict"
    assert reason and "監査ログ" in reason and "P9999" not in reason
    assert kind in _problems(server_db)  # kept as evidence, flagged on every report


def test_gap_between_batches_then_late_batch_fills_it(
    chain: AuditChain, server_db: Database
) -> None:
    _day(chain, 9)
    all_entries = (chain.pending_batch() or {})["entries"]
    b1, b2, b3 = ({"terminal_no": "T0001", "entries": all_entries[i : i + 3]} for i in (0, 3, 6))
    assert _ingest(server_db, b1)[0] == "accepted"
    status, reason = _ingest(server_db, b3)
    assert status == "conflict" and "4〜6" in (reason or "")
    assert _problems(server_db) == {ProblemKind.MISSING}
    assert _ingest(server_db, b2) == ("accepted", None)
    assert _problems(server_db) == set()


def test_a_different_history_at_a_known_seq_is_flagged(
    chain: AuditChain, server_db: Database, cache: Any, terminal_key: Any
) -> None:
    _day(chain, 3)
    assert _ingest(server_db, chain.pending_batch() or {})[0] == "accepted"
    # The terminal's cache is replaced and a new history written under the same terminal_no.
    cache.execute("DELETE FROM audit_entries")
    cache.commit()
    _day(chain, 2)
    status, _ = _ingest(server_db, chain.pending_batch() or {})
    assert status == "conflict"


def test_malformed_or_foreign_batches_rejected(chain: AuditChain, server_db: Database) -> None:
    _day(chain, 2)
    payload = chain.pending_batch() or {}
    assert _ingest(server_db, payload, terminal="T0002")[0] == "rejected"
    assert _ingest(server_db, {"entries": []})[0] == "rejected"
    assert _ingest(server_db, _tamper(payload, lambda es: es[0].pop("hash")))[0] == "rejected"
    odd_time = _tamper(payload, lambda es: es[0].update(at="2026-11-26T18:00:00+09:00"))
    assert _ingest(server_db, odd_time)[0] == "rejected"
    bad_action = _tamper(payload, lambda es: es[0].update(action="drop_table"))
    assert _ingest(server_db, bad_action)[0] == "rejected"
    with server_db.read() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM audit_entries")).scalar_one() == 0


def test_tampering_in_the_server_database_is_found(chain: AuditChain, server_db: Database) -> None:
    _day(chain, 5)
    _ingest(server_db, chain.pending_batch() or {})
    with server_db.write() as conn:
        conn.execute(
            text("UPDATE audit_entries SET operator_id = 'op9' WHERE seq = 2"),
        )
    assert _problems(server_db) == {ProblemKind.TAMPERED}
    with server_db.write() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq = 3"))
    assert ProblemKind.MISSING in _problems(server_db)


def _enroll(conn: Connection, terminal: str, key: Any) -> None:
    """A terminals row with a certificate for `key`, as enrollment leaves it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, terminal)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(T0 - timedelta(days=1))
        .not_valid_after(T0 + timedelta(days=800))
        .sign(key, hashes.SHA256())
    )
    conn.execute(
        insert(terminals).values(
            terminal_no=terminal,
            hostname="",
            cert_serial="1",
            fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
            not_after=T0 + timedelta(days=800),
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            revoked=False,
            escrowed_dek=b"x",
            enrolled_at=T0,
        )
    )


def test_signatures_checked_when_the_terminal_key_is_on_file(
    chain: AuditChain, server_db: Database
) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    with server_db.write() as conn:
        _enroll(conn, "T0001", other)
    _day(chain, 2)
    status, reason = _ingest(server_db, chain.pending_batch() or {})
    assert status == "conflict" and "署名" in (reason or "")


def test_signature_of_the_right_key_passes(
    chain: AuditChain, server_db: Database, terminal_key: Any
) -> None:
    with server_db.write() as conn:
        _enroll(conn, "T0001", terminal_key)
    _day(chain, 2)
    payload = chain.pending_batch() or {}
    assert _ingest(server_db, payload) == ("accepted", None)
    # A forged signature on a re-hashed entry: only the key tells.
    forged = _tamper(
        payload,
        lambda es: es.__setitem__(
            1, es[1] | {"signature": base64.b64encode(b"\x00" * 70).decode()}
        ),
    )
    with server_db.write() as conn:
        conn.execute(text("DELETE FROM audit_entries"))
    status, reason = _ingest(server_db, forged)
    assert status == "conflict" and "署名" in (reason or "")
    json.dumps(payload)
