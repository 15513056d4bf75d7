"""The ONE format of the terminals' audit chains, used by the terminal (app/store/audit.py) and
by the server (server/audit_ingest.py, server/audit_report.py).

Every entry is hash-linked to the previous one and signed with the terminal key:

    hash      = SHA-256( canonical_json(entry without hash/signature) )   # includes prev_hash
    signature = terminal_key.sign(bytes.fromhex(hash))   # ECDSA P-256/SHA-256 or Ed25519

`seq` is part of the hashed content, so moving an entry to another position breaks it even when
the attacker also rewrites the links; the signature stops anyone without the terminal key from
re-hashing a rewritten chain. `verify_chain` tells tampering, deletion and reordering apart so
the auditor reads what happened, not just "broken".

Pure: no I/O (signatures are checked with `cryptography`, in memory). Entries carry ids, never
names or numbers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

GENESIS_HASH = "0" * 64


class AuditAction(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    LOGIN_FAILED = "login_failed"
    SEARCH = "search"
    VIEW_HOUSEHOLD = "view_household"
    VIEW_PERSON = "view_person"
    REVEAL_MY_NUMBER = "reveal_my_number"
    REVEAL_ADDRESS = "reveal_address"  # 支援措置: a withheld address shown, with the reason
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
    VIEW_AUDIT_LOG = "view_audit_log"
    # 住民異動届 (docs/notifications.md): ids and the procedure only, never names.
    NOTIFICATION_PREPARED = "notification_prepared"
    NOTIFICATION_PRINTED = "notification_printed"
    NOTIFICATION_FILED = "notification_filed"
    NOTIFICATION_CONFIRMED = "notification_confirmed"
    NOTIFICATION_RETURNED = "notification_returned"
    LOCKOUT = "lockout"
    LOOKUP_MY_NUMBER = "lookup_my_number"
    OUTBOX_REQUEUE = "outbox_requeue"


ACTION_LABELS: dict[AuditAction, str] = {
    AuditAction.LOGIN: "ログイン",
    AuditAction.LOGOUT: "ログアウト",
    AuditAction.LOGIN_FAILED: "ログイン失敗",
    AuditAction.SEARCH: "検索",
    AuditAction.VIEW_HOUSEHOLD: "世帯の閲覧",
    AuditAction.VIEW_PERSON: "個人の閲覧",
    AuditAction.REVEAL_MY_NUMBER: "個人番号の表示",
    AuditAction.REVEAL_ADDRESS: "支援措置対象の住所の表示",
    AuditAction.ISSUE_CERTIFICATE: "証明書の交付",
    AuditAction.VOID_CERTIFICATE: "交付の取消",
    AuditAction.PRINT: "印刷",
    AuditAction.EXPORT: "媒体への出力",
    AuditAction.CARD_READ: "カードの読み取り",
    AuditAction.CARD_EVENT: "カードの事務処理",
    AuditAction.APPROVAL: "監督者承認",
    AuditAction.LOCK: "画面ロック",
    AuditAction.UNLOCK: "ロック解除",
    AuditAction.TAKEOVER: "職員の引き継ぎ",
    AuditAction.PASSWORD_CHANGE: "パスワード変更",
    AuditAction.VIEW_AUDIT_LOG: "監査ログの閲覧",
    AuditAction.NOTIFICATION_PREPARED: "異動届の作成",
    AuditAction.NOTIFICATION_PRINTED: "異動届・転出証明書の印刷",
    AuditAction.NOTIFICATION_FILED: "異動届の届出",
    AuditAction.NOTIFICATION_CONFIRMED: "異動届の確定",
    AuditAction.NOTIFICATION_RETURNED: "異動届の差戻し",
    AuditAction.LOCKOUT: "パスワード誤りによるロック",
    AuditAction.LOOKUP_MY_NUMBER: "個人番号による照会",
    AuditAction.OUTBOX_REQUEUE: "送信保留データの再送",
}

# Actions whose entry must say why (the auditor reads the reason).
ACTIONS_NEEDING_REASON: frozenset[AuditAction] = frozenset(
    {
        AuditAction.REVEAL_MY_NUMBER,
        AuditAction.REVEAL_ADDRESS,
        AuditAction.APPROVAL,
        AuditAction.VOID_CERTIFICATE,
        AuditAction.NOTIFICATION_RETURNED,
        AuditAction.OUTBOX_REQUEUE,
    }
)


ACTIONS: frozenset[str] = frozenset(a.value for a in AuditAction)


class Verifier(Protocol):
    def __call__(self, data: bytes, signature: bytes, /) -> bool: ...


PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


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


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """One entry of a terminal's audit chain, as hashed, signed, stored and sent."""

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
    def from_wire(cls, data: Any) -> ChainEntry:
        """Parse a wire entry (parse_wire_entry); ValueError on a malformed one."""
        return parse_wire_entry(data)


def canonical_json(content: dict[str, Any]) -> bytes:
    """Canonical form: sorted keys, no whitespace, UTF-8 (not ASCII-escaped)."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def entry_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


def canonical_at(value: datetime) -> str:
    """The `at` string a terminal hashes: UTC, microseconds (a naive time is taken as UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def parse_wire_entry(data: Any) -> ChainEntry:
    """One entry as it travels in an `audit_batch` event; ValueError when malformed."""
    if not isinstance(data, dict):
        raise ValueError("entry")
    try:
        seq = data["seq"]
        targets = data["target_ids"]
        reason = data.get("reason")
        at = data["at"]
        fields_ = {
            k: data[k]
            for k in ("entry_id", "operator_id", "terminal_no", "action", "prev_hash", "hash")
        }
        signature = base64.b64decode(str(data["signature"]), validate=True)
    except (KeyError, binascii.Error) as exc:
        raise ValueError("entry") from exc
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError("seq")
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise ValueError("target_ids")
    if reason is not None and not isinstance(reason, str):
        raise ValueError("reason")
    if not all(isinstance(v, str) for v in fields_.values()) or not isinstance(at, str):
        raise ValueError("entry")
    # `at` must be canonical so a stored DateTime gives the hashed string back.
    if canonical_at(datetime.fromisoformat(at)) != at:
        raise ValueError("at")
    if fields_["action"] not in ACTIONS:
        raise ValueError("action")
    return ChainEntry(
        seq=seq,
        at=at,
        target_ids=tuple(targets),
        reason=reason,
        signature=signature,
        **fields_,
    )


class ProblemKind(StrEnum):
    TAMPERED = "tampered"  # content no longer matches its hash
    MISSING = "missing"  # seq numbers or links skip: entries were deleted
    REORDERED = "reordered"  # an intact entry sits at another position
    BROKEN_LINK = "broken_link"  # prev_hash does not name the previous entry
    BAD_SIGNATURE = "bad_signature"  # not signed by this terminal's key
    FOREIGN = "foreign"  # entry names another terminal
    DIVERGED = "diverged"  # a different entry was already stored at this seq (server)


PROBLEM_LABELS: dict[ProblemKind, str] = {
    ProblemKind.TAMPERED: "改ざん",
    ProblemKind.MISSING: "欠落(削除)",
    ProblemKind.REORDERED: "順序の入れ替え",
    ProblemKind.BROKEN_LINK: "連鎖の断絶",
    ProblemKind.BAD_SIGNATURE: "署名不正",
    ProblemKind.FOREIGN: "他端末の記録",
    ProblemKind.DIVERGED: "既存の記録と矛盾",
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
REORDER_SEARCH_LIMIT = 200


def verify_chain(
    entries: Sequence[ChainEntry],
    verifier: Verifier | None,
    *,
    terminal_no: str | None = None,
    first_seq: int = 1,
    prev_hash: str = GENESIS_HASH,
    signatures_from: datetime | None = None,
) -> list[Problem]:
    """Check a run of entries (ordered by seq) for tampering, deletion and reordering.

    `first_seq`/`prev_hash` anchor the run: 1 and the genesis hash for a whole chain, the last
    known entry for a continuation (the server checks batches this way). `verifier=None` skips
    signatures (hashes and links are still checked); `signatures_from` checks them only for
    entries at or after it (a report checks hashes and links of the whole history, signatures of
    its period). `terminal_no`: entries of any other terminal are reported.
    """
    problems: list[Problem] = []
    # One hash per entry (the costly part of a long chain), looked up below.
    intact_ids = {e.entry_id for e in entries if e.computed_hash() == e.hash}
    bad_hash = [e for e in entries if e.entry_id not in intact_ids]
    moved_from: dict[str, int] = {}
    if 0 < len(bad_hash) <= REORDER_SEARCH_LIMIT:
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

    prev_seq = first_seq - 1
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
            and (signatures_from is None or e.at_datetime >= signatures_from)
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
