"""The terminal's append-only audit chain (DESIGN.md §8: operation logs, every output recorded).

Every entry is hash-linked to the previous one and signed with the terminal key:

    hash      = SHA-256( canonical_json(entry without hash/signature) )   # includes prev_hash
    signature = terminal_key.sign(bytes.fromhex(hash))

`seq` is part of the hashed content, so moving an entry to another position breaks it even when
the attacker also rewrites the links; the signature stops anyone without the terminal key from
re-hashing a rewritten chain. `verify()` tells tampering, deletion and reordering apart so the
auditor reads what happened, not just "broken".

The module works on any DB-API connection of the sqlite3 family (sqlcipher3 in production, plain
sqlite3 in tests) that has the store's `audit_entries` table. It writes only that table and does
no other I/O. Entries carry ids, never names or numbers (the 個人番号 is never an entry field).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

GENESIS_HASH = "0" * 64

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


class AuditAction(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    LOGIN_FAILED = "login_failed"
    SEARCH = "search"
    VIEW_HOUSEHOLD = "view_household"
    VIEW_PERSON = "view_person"
    REVEAL_MY_NUMBER = "reveal_my_number"
    ISSUE_CERTIFICATE = "issue_certificate"
    VOID_CERTIFICATE = "void_certificate"
    PRINT = "print"
    EXPORT = "export"
    CARD_READ = "card_read"
    CARD_EVENT = "card_event"
    APPROVAL = "approval"
    LOCK = "lock"
    UNLOCK = "unlock"
    TAKEOVER = "takeover"
    PASSWORD_CHANGE = "password_change"


ACTION_LABELS: dict[AuditAction, str] = {
    AuditAction.LOGIN: "ログイン",
    AuditAction.LOGOUT: "ログアウト",
    AuditAction.LOGIN_FAILED: "ログイン失敗",
    AuditAction.SEARCH: "検索",
    AuditAction.VIEW_HOUSEHOLD: "世帯の閲覧",
    AuditAction.VIEW_PERSON: "個人の閲覧",
    AuditAction.REVEAL_MY_NUMBER: "個人番号の表示",
    AuditAction.ISSUE_CERTIFICATE: "証明書の交付",
    AuditAction.VOID_CERTIFICATE: "交付の取消",
    AuditAction.PRINT: "印刷",
    AuditAction.EXPORT: "媒体への出力",
    AuditAction.CARD_READ: "カードの読み取り",
    AuditAction.CARD_EVENT: "カードの事務処理",
    AuditAction.APPROVAL: "監督者承認",
    AuditAction.LOCK: "画面ロック",
    AuditAction.UNLOCK: "ロック解除",
    AuditAction.TAKEOVER: "操作者の引き継ぎ",
    AuditAction.PASSWORD_CHANGE: "パスワード変更",
}

# Actions whose entry must say why (the auditor reads the reason).
ACTIONS_NEEDING_REASON: frozenset[AuditAction] = frozenset(
    {AuditAction.REVEAL_MY_NUMBER, AuditAction.APPROVAL, AuditAction.VOID_CERTIFICATE}
)


class Signer(Protocol):
    def __call__(self, data: bytes) -> bytes: ...


class Verifier(Protocol):
    def __call__(self, data: bytes, signature: bytes) -> bool: ...


PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


def signer_for(private_key: PrivateKey) -> Signer:
    """A signer over the terminal key: ECDSA P-256/SHA-256 or Ed25519."""
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return lambda data: private_key.sign(data, ec.ECDSA(hashes.SHA256()))
    raise TypeError("端末鍵は ECDSA P-256 または Ed25519 である必要があります")


def verifier_for(public_key: PublicKey | Verifier) -> Verifier:
    """A verifier for a public key (or a verifier callable, passed through)."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        key_ed = public_key

        def _ed(data: bytes, signature: bytes) -> bool:
            try:
                key_ed.verify(signature, data)
            except InvalidSignature:
                return False
            return True

        return _ed
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        key_ec = public_key

        def _ec(data: bytes, signature: bytes) -> bool:
            try:
                key_ec.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            except (InvalidSignature, ValueError):
                return False
            return True

        return _ec
    if callable(public_key):
        return public_key
    raise TypeError("検証に使える公開鍵ではありません")


def public_key_from_pem(pem: bytes | str) -> PublicKey:
    """Public key from a PEM certificate (the terminal's) or a PEM public key."""
    from cryptography import x509

    data = pem.encode("ascii") if isinstance(pem, str) else pem
    if b"BEGIN CERTIFICATE" in data:
        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise TypeError("端末証明書の鍵の種類に対応していません")
    return key


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    entry_id: str
    at: str  # ISO 8601 with offset, UTC
    operator_id: str
    terminal_no: str
    action: str
    target_ids: tuple[str, ...]
    reason: str | None
    prev_hash: str
    hash: str
    signature: bytes

    def hashed_content(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "entry_id": self.entry_id,
            "at": self.at,
            "operator_id": self.operator_id,
            "terminal_no": self.terminal_no,
            "action": self.action,
            "target_ids": list(self.target_ids),
            "reason": self.reason,
            "prev_hash": self.prev_hash,
        }

    def computed_hash(self, seq: int | None = None) -> str:
        content = self.hashed_content()
        if seq is not None:
            content["seq"] = seq
        return entry_hash(content)

    @property
    def at_datetime(self) -> datetime:
        return datetime.fromisoformat(self.at)

    def to_wire(self) -> dict[str, Any]:
        """The entry as it travels in an `audit_batch` event (signature in base64)."""
        wire = self.hashed_content()
        wire["hash"] = self.hash
        wire["signature"] = base64.b64encode(self.signature).decode("ascii")
        return wire

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> AuditEntry:
        """Parse a wire entry; raises ValueError/KeyError/TypeError on a malformed one."""
        targets = data["target_ids"]
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise ValueError("target_ids")
        reason = data.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ValueError("reason")
        seq = data["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError("seq")
        return cls(
            seq=seq,
            entry_id=str(data["entry_id"]),
            at=str(data["at"]),
            operator_id=str(data["operator_id"]),
            terminal_no=str(data["terminal_no"]),
            action=str(data["action"]),
            target_ids=tuple(targets),
            reason=reason,
            prev_hash=str(data["prev_hash"]),
            hash=str(data["hash"]),
            signature=base64.b64decode(str(data["signature"]), validate=True),
        )


def canonical_json(content: dict[str, Any]) -> bytes:
    """Canonical form: sorted keys, no whitespace, UTF-8 (not ASCII-escaped)."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def entry_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


class ProblemKind(StrEnum):
    TAMPERED = "tampered"  # content no longer matches its hash
    MISSING = "missing"  # seq numbers or links skip: entries were deleted
    REORDERED = "reordered"  # an intact entry sits at another position
    BROKEN_LINK = "broken_link"  # prev_hash does not name the previous entry
    BAD_SIGNATURE = "bad_signature"  # not signed by this terminal's key
    FOREIGN = "foreign"  # entry names another terminal


PROBLEM_LABELS: dict[ProblemKind, str] = {
    ProblemKind.TAMPERED: "改ざん",
    ProblemKind.MISSING: "欠落(削除)",
    ProblemKind.REORDERED: "順序の入れ替え",
    ProblemKind.BROKEN_LINK: "連鎖の断絶",
    ProblemKind.BAD_SIGNATURE: "署名不正",
    ProblemKind.FOREIGN: "他端末の記録",
}


@dataclass(frozen=True, slots=True)
class Problem:
    kind: ProblemKind
    seq: int
    entry_id: str | None
    message: str  # Japanese, ids only

    def __str__(self) -> str:
        return f"[{PROBLEM_LABELS[self.kind]}] {self.message}"


# How many suspicious entries we try to re-place when telling a reorder from a rewrite; past
# this the entries are reported as tampered (cost stays linear on huge damaged chains).
_REORDER_SEARCH_LIMIT = 200


def verify_entries(
    entries: Sequence[AuditEntry],
    verifier: Verifier | None,
    *,
    terminal_no: str | None = None,
    expected_first_seq: int = 1,
    expected_prev_hash: str = GENESIS_HASH,
) -> list[Problem]:
    """Check a run of entries (ordered by seq) for tampering, deletion and reordering.

    `expected_first_seq`/`expected_prev_hash` anchor the run: 1 and the genesis hash for a whole
    chain, the last known entry for a continuation (the server checks batches this way).
    `verifier=None` skips signatures (hashes and links are still checked).
    """
    problems: list[Problem] = []
    # One hash per entry (the costly part of a long chain), looked up below.
    intact_ids = {e.entry_id for e in entries if e.computed_hash() == e.hash}
    bad_hash = [e for e in entries if e.entry_id not in intact_ids]
    moved_from: dict[str, int] = {}
    if 0 < len(bad_hash) <= _REORDER_SEARCH_LIMIT:
        # An entry that hashes correctly under another suspicious entry's seq was moved there.
        # (A few numbers above its own too: deleting entries and closing up the numbers moves
        # the last ones to numbers no other entry has.)
        candidate_seqs = {e.seq for e in bad_hash}
        for e in bad_hash:
            for s in sorted(candidate_seqs | set(range(e.seq + 1, e.seq + 6))):
                if s != e.seq and e.computed_hash(s) == e.hash:
                    moved_from[e.entry_id] = s
                    break
    # Every moved entry now sits at a lower number than it was written with: entries before
    # them were deleted and the numbers closed up, nothing was swapped.
    closed_up = bool(moved_from) and all(
        orig > e.seq for e in entries if (orig := moved_from.get(e.entry_id)) is not None
    )
    reported_closed_up = False
    by_hash = {e.hash: e for e in entries}

    prev_seq = expected_first_seq - 1
    prev_hash = expected_prev_hash
    for e in entries:
        if terminal_no is not None and e.terminal_no != terminal_no:
            problems.append(
                Problem(
                    ProblemKind.FOREIGN,
                    e.seq,
                    e.entry_id,
                    f"連番 {e.seq} は端末 {e.terminal_no} の記録です(期待: {terminal_no})",
                )
            )
        if e.entry_id in moved_from and closed_up:
            if not reported_closed_up:
                reported_closed_up = True
                problems.append(
                    Problem(
                        ProblemKind.MISSING,
                        e.seq,
                        e.entry_id,
                        f"連番 {e.seq} 以降の記録の番号が詰められています(元は連番 "
                        f"{moved_from[e.entry_id]}。前の記録が削除された疑い)",
                    )
                )
        elif e.entry_id in moved_from:
            problems.append(
                Problem(
                    ProblemKind.REORDERED,
                    e.seq,
                    e.entry_id,
                    f"連番 {moved_from[e.entry_id]} の記録が連番 {e.seq} の位置に移されています",
                )
            )
        elif e.entry_id not in intact_ids:
            problems.append(
                Problem(
                    ProblemKind.TAMPERED,
                    e.seq,
                    e.entry_id,
                    f"連番 {e.seq} の記録の内容がハッシュと一致しません(改ざん)",
                )
            )
        gap = e.seq > prev_seq + 1
        if gap:
            missing = f"{prev_seq + 1}" if e.seq == prev_seq + 2 else f"{prev_seq + 1}〜{e.seq - 1}"
            problems.append(
                Problem(
                    ProblemKind.MISSING,
                    prev_seq + 1,
                    None,
                    f"連番 {missing} の記録が欠落しています(削除の疑い)",
                )
            )
        elif e.seq <= prev_seq:
            problems.append(
                Problem(
                    ProblemKind.REORDERED,
                    e.seq,
                    e.entry_id,
                    f"連番 {e.seq} が前の記録(連番 {prev_seq})より後に現れます",
                )
            )
        if e.prev_hash != prev_hash and e.entry_id not in moved_from and not gap:
            if e.prev_hash in by_hash and by_hash[e.prev_hash].seq != prev_seq:
                kind, msg = (
                    ProblemKind.REORDERED,
                    f"連番 {e.seq} の記録は連番 {by_hash[e.prev_hash].seq} の記録の次に"
                    "書かれたものです(順序の入れ替え)",
                )
            elif e.entry_id in intact_ids:
                # Intact entry whose predecessor is not the stored one: it was deleted
                # and the seq numbers were closed up, or the predecessor was rewritten.
                kind, msg = (
                    ProblemKind.MISSING,
                    f"連番 {e.seq} の直前の記録が見つかりません(削除または改ざんの疑い)",
                )
            else:
                kind, msg = ProblemKind.BROKEN_LINK, f"連番 {e.seq} で連鎖が切れています"
            if not any(p.seq == e.seq and p.kind == kind for p in problems):
                problems.append(Problem(kind, e.seq, e.entry_id, msg))
        if (
            verifier is not None
            and _safe_hex(e.hash)
            and not verifier(bytes.fromhex(e.hash), e.signature)
        ):
            problems.append(
                Problem(
                    ProblemKind.BAD_SIGNATURE,
                    e.seq,
                    e.entry_id,
                    f"連番 {e.seq} の記録の署名が端末鍵と一致しません",
                )
            )
        prev_seq = max(prev_seq, e.seq)
        prev_hash = e.hash
    return problems


def _safe_hex(value: str) -> bool:
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return len(value) == 64


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("監査記録の時刻にはタイムゾーンが必要です")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


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
        self._lock = threading.RLock()

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
            content = {
                "seq": last_seq + 1,
                "entry_id": str(uuid.uuid4()),
                "at": _iso(at) if at is not None else _now_iso(),
                "operator_id": operator_id,
                "terminal_no": self.terminal_no,
                "action": action.value,
                "target_ids": [str(t) for t in target_ids],
                "reason": reason.strip() if reason else None,
                "prev_hash": last_hash,
            }
            digest = entry_hash(content)
            signature = self._sign(bytes.fromhex(digest))
            entry = AuditEntry(
                seq=content["seq"],
                entry_id=content["entry_id"],
                at=content["at"],
                operator_id=operator_id,
                terminal_no=self.terminal_no,
                action=action.value,
                target_ids=tuple(content["target_ids"]),
                reason=content["reason"],
                prev_hash=last_hash,
                hash=digest,
                signature=signature,
            )
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
        return verify_entries(self.entries(), verifier, terminal_no=self.terminal_no)

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
