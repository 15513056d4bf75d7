"""The terminal's append-only audit chain (DESIGN.md §8: operation logs, every output recorded).

The chain's format (content, hash, links, signature, verification) is app.domain.audit_chain,
the one the server uses too. This module keeps the terminal's chain in the store's
`audit_entries` table of any DB-API connection of the sqlite3 family (sqlcipher3 in production,
plain sqlite3 in tests). It writes only that table and does no other I/O. Entries carry ids,
never names or numbers (the 個人番号 is never an entry field).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from app.domain.audit_chain import (
    ACTION_LABELS,
    ACTIONS_NEEDING_REASON,
    GENESIS_HASH,
    AuditAction,
    ChainEntry,
    Problem,
    ProblemKind,
    PublicKey,
    Verifier,
    canonical_at,
    entry_hash,
    verifier_for,
    verify_chain,
)
from app.sync.protocol import AuditHead

# The terminal's entries are the chain's entries (the names the store's callers use).
AuditEntry = ChainEntry

__all__ = [
    "ACTION_LABELS",
    "AUDIT_TABLE_DDL",
    "GENESIS_HASH",
    "AuditAction",
    "AuditChain",
    "AuditEntry",
    "Problem",
    "ProblemKind",
    "Signer",
    "Verifier",
    "public_key_from_pem",
    "signer_for",
    "verifier_for",
]

# Schema of the store's table; the store's migrations own it, tests and tools may create it here.
AUDIT_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS audit_entries (
    seq INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL UNIQUE,
    at TEXT NOT NULL,
    operator_id TEXT NOT NULL,
    terminal_no TEXT NOT NULL,
    action TEXT NOT NULL,
    target_ids TEXT NOT NULL,
    reason TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    signature BLOB NOT NULL,
    pushed INTEGER NOT NULL DEFAULT 0
)
"""


class Signer(Protocol):
    def __call__(self, data: bytes, /) -> bytes: ...


PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def signer_for(private_key: PrivateKey) -> Signer:
    """A signer over the terminal key: ECDSA P-256/SHA-256 or Ed25519."""
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return lambda data: private_key.sign(data, ec.ECDSA(hashes.SHA256()))
    raise TypeError("端末鍵は ECDSA P-256 または Ed25519 である必要があります")


def public_key_from_pem(pem: bytes | str) -> PublicKey:
    """Public key from a PEM certificate (the terminal's) or a PEM public key."""
    from cryptography import x509

    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key: object
    if b"BEGIN CERTIFICATE" in data:
        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise TypeError("端末証明書の鍵の種類に対応していません")
    return key


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("監査記録の時刻にはタイムゾーンが必要です")
    return canonical_at(at)


_COLUMNS = (
    "seq, entry_id, at, operator_id, terminal_no, action, target_ids, reason, prev_hash, "
    "hash, signature"
)


def _row_to_entry(row: Sequence[Any]) -> AuditEntry:
    return AuditEntry(
        seq=int(row[0]),
        entry_id=row[1],
        at=row[2],
        operator_id=row[3],
        terminal_no=row[4],
        action=row[5],
        target_ids=tuple(json.loads(row[6])),
        reason=row[7],
        prev_hash=row[8],
        hash=row[9],
        signature=bytes(row[10]),
    )


class AuditChain:
    """The terminal's chain in the `audit_entries` table of `connection`.

    `connection` is a sqlite3-family connection (or an object with a `.connection` attribute
    holding one, such as the store). `signer(data) -> signature` signs with the terminal key;
    use `signer_for(private_key)`.
    """

    def __init__(self, connection: Any, terminal_no: str, signer: Signer) -> None:
        # The store (app/store Cache) brings its own lock and re-entrant transaction(); a bare
        # connection gets ours.
        self._cache = connection if hasattr(connection, "transaction") else None
        self._bare = None if self._cache is not None else connection
        self.terminal_no = terminal_no
        self._sign = signer
        # One writer at a time in this process; BEGIN IMMEDIATE orders writers across processes.
        # Over a store, the store's own lock: a second lock would be taken in either order
        # (store transaction then chain, chain then store transaction) and could deadlock.
        self._lock = self._cache.lock if self._cache is not None else threading.RLock()

    @property
    def _conn(self) -> Any:
        # Asked each time: the store's connection changes when it takes the initial sync's
        # snapshot (Cache.adopt_snapshot reopens the new file).
        return self._cache.connection if self._cache is not None else self._bare

    @contextmanager
    def _write(self) -> Iterator[None]:
        if self._cache is not None:
            with self._cache.transaction():
                yield
            return
        conn = self._conn
        if conn.in_transaction:
            # The caller's transaction (e.g. an issuance and its audit entry) decides.
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Read under the store's lock (its re-entrant transaction) or ours."""
        if self._cache is not None:
            with self._cache.transaction() as conn:
                return list(conn.execute(sql, params).fetchall())
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    def head(self) -> tuple[int, str]:
        rows = self._fetch("SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1")
        if not rows:
            return 0, GENESIS_HASH
        return int(rows[0][0]), str(rows[0][1])

    def append(
        self,
        operator_id: str,
        action: AuditAction | str,
        target_ids: Sequence[str] = (),
        reason: str | None = None,
        at: datetime | None = None,
    ) -> AuditEntry:
        action = AuditAction(action)  # an unknown action is a programming error: ValueError
        if isinstance(target_ids, str):
            raise TypeError("target_ids must be a sequence of ids, not a string")
        if action in ACTIONS_NEEDING_REASON and not (reason and reason.strip()):
            raise ValueError(f"audit action {action.value} needs a reason")
        with self._lock, self._write():
            last_seq, last_hash = self.head()
            unsigned = AuditEntry(
                seq=last_seq + 1,
                entry_id=str(uuid.uuid4()),
                at=_iso(at) if at is not None else _now_iso(),
                operator_id=operator_id,
                terminal_no=self.terminal_no,
                action=action.value,
                target_ids=tuple(str(t) for t in target_ids),
                reason=reason.strip() if reason else None,
                prev_hash=last_hash,
                hash="",
                signature=b"",
            )
            digest = entry_hash(unsigned.hashed_content())
            signature = self._sign(bytes.fromhex(digest))
            entry = dataclasses.replace(unsigned, hash=digest, signature=signature)
            self._conn.execute(
                f"INSERT INTO audit_entries ({_COLUMNS}, pushed) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    entry.seq,
                    entry.entry_id,
                    entry.at,
                    entry.operator_id,
                    entry.terminal_no,
                    entry.action,
                    json.dumps(list(entry.target_ids), ensure_ascii=False),
                    entry.reason,
                    entry.prev_hash,
                    entry.hash,
                    entry.signature,
                ),
            )
        return entry

    def entries(self, after_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
        sql = f"SELECT {_COLUMNS} FROM audit_entries WHERE seq > ? ORDER BY seq"
        params: tuple[Any, ...] = (after_seq,)
        if limit is not None:
            sql += " LIMIT ?"
            params += (limit,)
        return [_row_to_entry(r) for r in self._fetch(sql, params)]

    def query(
        self,
        *,
        operator_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        actions: Sequence[str] | None = None,
        limit: int = 5000,
    ) -> list[AuditEntry]:
        """Entries for the audit viewer, newest first; `end` is exclusive."""
        clauses: list[str] = []
        params: list[Any] = []
        if operator_id:
            clauses.append("operator_id = ?")
            params.append(operator_id)
        if start is not None:
            clauses.append("at >= ?")
            params.append(_iso(start))
        if end is not None:
            clauses.append("at < ?")
            params.append(_iso(end))
        if actions:
            clauses.append(f"action IN ({', '.join('?' for _ in actions)})")
            params.extend(str(a) for a in actions)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {_COLUMNS} FROM audit_entries {where} ORDER BY seq DESC LIMIT ?"
        params.append(limit)
        return [_row_to_entry(r) for r in self._fetch(sql, params)]

    def verify(self, public_key: PublicKey | Verifier | None) -> list[Problem]:
        """Check the whole local chain; an empty list means intact.

        Limitation: deleting the newest unpushed entries leaves a shorter chain that is still
        consistent; the server's copy (and its seq continuity check) covers pushed entries.
        """
        verifier = verifier_for(public_key) if public_key is not None else None
        return verify_chain(self.entries(), verifier, terminal_no=self.terminal_no)

    def signed_head(self, at: datetime | None = None) -> AuditHead:
        """Where the chain ends now (last seq and hash; seq 0 and the genesis hash when empty),
        signed with the terminal key: sent to the server after every sync round."""
        last_seq, last_hash = self.head()
        head = AuditHead(
            terminal_no=self.terminal_no,
            last_seq=last_seq,
            last_hash=last_hash,
            at=_iso(at) if at is not None else _now_iso(),
        )
        signature = base64.b64encode(self._sign(head.signed_bytes())).decode("ascii")
        return head.model_copy(update={"signature_b64": signature})

    def pending_count(self) -> int:
        rows = self._fetch("SELECT COUNT(*) FROM audit_entries WHERE pushed = 0")
        return int(rows[0][0])

    def pending_batch(self, n: int = 500) -> dict[str, Any] | None:
        """Payload of an `audit_batch` event with the oldest `n` unpushed entries, or None.

        Batches are contiguous runs in seq order, so the server can check continuity.
        """
        rows = self._fetch(
            f"SELECT {_COLUMNS} FROM audit_entries WHERE pushed = 0 ORDER BY seq LIMIT ?",
            (n,),
        )
        if not rows:
            return None
        entries = [_row_to_entry(r) for r in rows]
        return {
            "terminal_no": self.terminal_no,
            "first_seq": entries[0].seq,
            "last_seq": entries[-1].seq,
            "entries": [e.to_wire() for e in entries],
        }

    def mark_pushed(self, upto_seq: int) -> int:
        """Mark entries up to `upto_seq` as accepted by the server; returns how many changed."""
        with self._lock, self._write():
            cur = self._conn.execute(
                "UPDATE audit_entries SET pushed = 1 WHERE seq <= ? AND pushed = 0", (upto_seq,)
            )
            return int(cur.rowcount)
