"""The terminals' audit chains on the server: ingest with continuity checks, and the report.

`ingest_audit_batch(conn, terminal_no, payload)` takes the payload of an `audit_batch` event
(built by app/store/audit.py `AuditChain.pending_batch`) and stores its entries, checking per
terminal that seq numbers continue, prev_hash links to the last stored entry, hashes match the
content and (when the terminal's certificate is on file) signatures are the terminal key's.

A batch that fails these checks is still stored: the server's copy is the auditor's evidence,
and dropping it would leave the damaged record only on the terminal. It is answered `conflict`
with the problems in the reason, and every report re-verifies the stored chains and lists them.

`report_main(argv)` is `madoguchi-server audit report --from --to [--operator]`.

The chain format (canonical JSON, entry hash, links) is the one of app/store/audit.py; the server
may import only app.domain and app.sync.protocol, so it is implemented again here, and
tests/audit checks that the two agree on real chains.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import logging
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy import Connection, and_, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from app.sync.protocol import Policy
from server.tables import audit_entries

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
JST = timezone(timedelta(hours=9), "JST")  # Japan has no daylight saving time

# Must match app/store/audit.py AuditAction.
ACTIONS: frozenset[str] = frozenset(
    {
        "login",
        "logout",
        "login_failed",
        "search",
        "view_household",
        "view_person",
        "reveal_my_number",
        "issue_certificate",
        "void_certificate",
        "print",
        "export",
        "card_read",
        "card_event",
        "approval",
        "lock",
        "unlock",
        "takeover",
        "password_change",
    }
)

# Japanese labels for the report (the same as app/store/audit.py ACTION_LABELS).
ACTION_LABELS: dict[str, str] = {
    "login": "ログイン",
    "logout": "ログアウト",
    "login_failed": "ログイン失敗",
    "search": "検索",
    "view_household": "世帯の閲覧",
    "view_person": "個人の閲覧",
    "reveal_my_number": "個人番号の表示",
    "issue_certificate": "証明書の交付",
    "void_certificate": "交付の取消",
    "print": "印刷",
    "export": "媒体への出力",
    "card_read": "カードの読み取り",
    "card_event": "カードの事務処理",
    "approval": "監督者承認",
    "lock": "画面ロック",
    "unlock": "ロック解除",
    "takeover": "操作者の引き継ぎ",
    "password_change": "パスワード変更",
}


def _label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


# --- the chain format ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WireEntry:
    seq: int
    entry_id: str
    at: str
    operator_id: str
    terminal_no: str
    action: str
    target_ids: tuple[str, ...]
    reason: str | None
    prev_hash: str
    hash: str
    signature: bytes

    def content(self, seq: int | None = None) -> dict[str, Any]:
        return {
            "seq": self.seq if seq is None else seq,
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
        raw = json.dumps(
            self.content(seq), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()

    @property
    def at_datetime(self) -> datetime:
        return datetime.fromisoformat(self.at)


def canonical_at(value: datetime) -> str:
    """The `at` string the terminal hashed: UTC, microseconds (what app/store/audit.py writes)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def parse_wire_entry(data: Any) -> WireEntry:
    """One entry of an audit_batch payload; ValueError when malformed."""
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
    # `at` must be canonical so the stored DateTime gives the hashed string back.
    if canonical_at(datetime.fromisoformat(at)) != at:
        raise ValueError("at")
    if fields_["action"] not in ACTIONS:
        raise ValueError("action")
    return WireEntry(
        seq=seq,
        at=at,
        target_ids=tuple(targets),
        reason=reason,
        signature=signature,
        **fields_,
    )


class ProblemKind(StrEnum):
    TAMPERED = "tampered"
    MISSING = "missing"
    REORDERED = "reordered"
    BROKEN_LINK = "broken_link"
    BAD_SIGNATURE = "bad_signature"
    FOREIGN = "foreign"
    DIVERGED = "diverged"  # a different entry was already stored at this seq


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
class ChainProblem:
    terminal_no: str
    kind: ProblemKind
    seq: int
    message: str  # Japanese, ids and positions only

    def __str__(self) -> str:
        return f"端末 {self.terminal_no} [{PROBLEM_LABELS[self.kind]}] {self.message}"


Verifier = Callable[[bytes, bytes], bool]


def verifier_for(public_key: Any) -> Verifier:
    if isinstance(public_key, ed25519.Ed25519PublicKey):

        def _ed(data: bytes, sig: bytes) -> bool:
            try:
                public_key.verify(sig, data)
            except InvalidSignature:
                return False
            return True

        return _ed
    if isinstance(public_key, ec.EllipticCurvePublicKey):

        def _ec(data: bytes, sig: bytes) -> bool:
            try:
                public_key.verify(sig, data, ec.ECDSA(hashes.SHA256()))
            except (InvalidSignature, ValueError):
                return False
            return True

        return _ec
    raise TypeError("unsupported terminal key")


def verify_chain(
    terminal_no: str,
    entries: Sequence[WireEntry],
    verifier: Verifier | None,
    *,
    first_seq: int = 1,
    prev_hash: str = GENESIS_HASH,
    signatures_from: datetime | None = None,
) -> list[ChainProblem]:
    """Continuity of one terminal's entries (sorted by seq) after the anchor (first_seq-1).

    Signatures are checked for every entry, or only for those at or after `signatures_from`
    (a report checks hashes and links of the whole history, signatures of its period: the
    expensive part stays proportional to the period).
    """
    problems: list[ChainProblem] = []

    def add(kind: ProblemKind, seq: int, message: str) -> None:
        problems.append(ChainProblem(terminal_no, kind, seq, message))

    intact_ids = {e.entry_id for e in entries if e.computed_hash() == e.hash}
    bad = [e for e in entries if e.entry_id not in intact_ids]
    moved: dict[str, int] = {}
    if len(bad) <= 200:
        seqs = {e.seq for e in bad}
        for e in bad:
            for s in sorted(seqs | set(range(e.seq + 1, e.seq + 6))):
                if s != e.seq and e.computed_hash(s) == e.hash:
                    moved[e.entry_id] = s
                    break
    # All moved entries sit below their written number: a deletion with the numbers closed up.
    closed_up = bool(moved) and all(
        orig > e.seq for e in entries if (orig := moved.get(e.entry_id)) is not None
    )
    reported_closed_up = False
    by_hash = {e.hash: e for e in entries}
    last_seq = first_seq - 1
    last_hash = prev_hash
    for e in entries:
        intact = e.entry_id in intact_ids
        if e.terminal_no != terminal_no:
            add(ProblemKind.FOREIGN, e.seq, f"連番 {e.seq} は端末 {e.terminal_no} の記録です")
        if e.entry_id in moved and closed_up:
            if not reported_closed_up:
                reported_closed_up = True
                add(
                    ProblemKind.MISSING,
                    e.seq,
                    f"連番 {e.seq} 以降の番号が詰められています(元は連番 {moved[e.entry_id]})",
                )
        elif e.entry_id in moved:
            add(
                ProblemKind.REORDERED,
                e.seq,
                f"連番 {moved[e.entry_id]} の記録が連番 {e.seq} の位置にあります",
            )
        elif not intact:
            add(ProblemKind.TAMPERED, e.seq, f"連番 {e.seq} の内容がハッシュと一致しません")
        gap = e.seq > last_seq + 1
        if gap:
            span = f"{last_seq + 1}" if e.seq == last_seq + 2 else f"{last_seq + 1}〜{e.seq - 1}"
            add(ProblemKind.MISSING, last_seq + 1, f"連番 {span} の記録が届いていません(欠落)")
        elif e.seq <= last_seq:
            add(ProblemKind.REORDERED, e.seq, f"連番 {e.seq} が連番 {last_seq} の後にあります")
        if e.prev_hash != last_hash and not gap and e.entry_id not in moved:
            if e.prev_hash in by_hash and by_hash[e.prev_hash].seq != last_seq:
                add(
                    ProblemKind.REORDERED,
                    e.seq,
                    f"連番 {e.seq} は連番 {by_hash[e.prev_hash].seq} の次に書かれた記録です",
                )
            elif intact:
                add(ProblemKind.MISSING, e.seq, f"連番 {e.seq} の直前の記録が見つかりません")
            else:
                add(ProblemKind.BROKEN_LINK, e.seq, f"連番 {e.seq} で連鎖が切れています")
        if (
            verifier is not None
            and _is_hash(e.hash)
            and (signatures_from is None or e.at_datetime >= signatures_from)
            and not verifier(bytes.fromhex(e.hash), e.signature)
        ):
            add(ProblemKind.BAD_SIGNATURE, e.seq, f"連番 {e.seq} の署名が端末鍵と一致しません")
        last_seq = max(last_seq, e.seq)
        last_hash = e.hash
    return problems


def _is_hash(value: str) -> bool:
    try:
        return len(bytes.fromhex(value)) == 32
    except ValueError:
        return False


# --- storage ------------------------------------------------------------------------------------


def _row_entry(row: Any) -> WireEntry:
    try:
        signature = base64.b64decode(row.signature, validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    return WireEntry(
        seq=int(row.seq),
        entry_id=row.entry_id,
        at=canonical_at(row.at),
        operator_id=row.operator_id or "",
        terminal_no=row.terminal_no,
        action=row.action,
        target_ids=tuple(json.loads(row.target_ids)),
        reason=row.reason,
        prev_hash=row.prev_hash,
        hash=row.hash,
        signature=signature,
    )


def terminal_public_key(conn: Connection, terminal_no: str) -> Any | None:
    """The public key of the terminal's certificate on file (None for an unknown terminal)."""
    from server.tables import terminals

    row = conn.execute(
        select(terminals.c.certificate_pem).where(terminals.c.terminal_no == terminal_no)
    ).first()
    if row is None or not row[0]:
        return None
    try:
        return x509.load_pem_x509_certificate(row[0].encode("ascii")).public_key()
    except ValueError:
        log.warning("terminal %s: stored certificate does not parse", terminal_no)
        return None


def _verifier(conn: Connection, terminal_no: str) -> Verifier | None:
    key = terminal_public_key(conn, terminal_no)
    return verifier_for(key) if key is not None else None


def ingest_audit_batch(
    conn: Connection, terminal_no: str, payload: dict[str, Any]
) -> tuple[str, str | None]:
    """Store one audit_batch; returns (status, reason) for the event's EventResult.

    - ("accepted", None): all new entries continue the terminal's chain;
    - ("duplicate", None): every entry was already stored (a resent batch);
    - ("conflict", reason): stored, but the chain has problems (listed in Japanese);
    - ("rejected", reason): malformed, or entries of another terminal; nothing stored.
    """
    raw = payload.get("entries") if isinstance(payload, dict) else None
    if not isinstance(raw, list) or not raw:
        return "rejected", "監査ログの形式が不正です(entries がありません)。"
    try:
        entries = sorted((parse_wire_entry(d) for d in raw), key=lambda e: e.seq)
    except ValueError as exc:
        return "rejected", f"監査ログの形式が不正です({exc})。"
    if any(e.terminal_no != terminal_no for e in entries):
        return "rejected", "他の端末の監査ログは受け付けません。"

    ids = [e.entry_id for e in entries]
    seqs = [e.seq for e in entries]
    stored_by_id = {
        r.entry_id: r.hash
        for r in conn.execute(
            select(audit_entries.c.entry_id, audit_entries.c.hash).where(
                audit_entries.c.entry_id.in_(ids)
            )
        )
    }
    stored_by_seq = {
        int(r.seq): r.entry_id
        for r in conn.execute(
            select(audit_entries.c.seq, audit_entries.c.entry_id).where(
                and_(audit_entries.c.terminal_no == terminal_no, audit_entries.c.seq.in_(seqs))
            )
        )
    }
    problems: list[ChainProblem] = []
    new: list[WireEntry] = []
    for e in entries:
        if e.entry_id in stored_by_id:
            if stored_by_id[e.entry_id] != e.hash:
                problems.append(
                    ChainProblem(
                        terminal_no,
                        ProblemKind.DIVERGED,
                        e.seq,
                        f"連番 {e.seq} の記録が以前に受信した内容と異なります",
                    )
                )
        elif e.seq in stored_by_seq:
            problems.append(
                ChainProblem(
                    terminal_no,
                    ProblemKind.DIVERGED,
                    e.seq,
                    f"連番 {e.seq} には別の記録が既に登録されています",
                )
            )
        else:
            new.append(e)
    if not new and not problems:
        return "duplicate", None

    if new:
        anchor = conn.execute(
            select(audit_entries.c.seq, audit_entries.c.hash)
            .where(
                and_(
                    audit_entries.c.terminal_no == terminal_no,
                    audit_entries.c.seq < new[0].seq,
                )
            )
            .order_by(audit_entries.c.seq.desc())
            .limit(1)
        ).first()
        first_seq, prev_hash = (
            (1, GENESIS_HASH) if anchor is None else (anchor.seq + 1, anchor.hash)
        )
        problems += verify_chain(
            terminal_no, new, _verifier(conn, terminal_no), first_seq=first_seq, prev_hash=prev_hash
        )
        # A late batch that fills a gap must also link to what already follows it.
        after = conn.execute(
            select(audit_entries.c.seq, audit_entries.c.prev_hash).where(
                and_(
                    audit_entries.c.terminal_no == terminal_no,
                    audit_entries.c.seq == new[-1].seq + 1,
                )
            )
        ).first()
        if after is not None and after.prev_hash != new[-1].hash:
            problems.append(
                ChainProblem(
                    terminal_no,
                    ProblemKind.BROKEN_LINK,
                    int(after.seq),
                    f"連番 {after.seq} の記録がこのバッチの最後の記録につながりません",
                )
            )
        conn.execute(
            audit_entries.insert(),
            [
                {
                    "entry_id": e.entry_id,
                    "terminal_no": terminal_no,
                    "seq": e.seq,
                    "at": e.at_datetime,
                    "operator_id": e.operator_id,
                    "action": e.action,
                    "target_ids": json.dumps(list(e.target_ids), ensure_ascii=False),
                    "reason": e.reason,
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                    "signature": base64.b64encode(e.signature).decode("ascii"),
                }
                for e in new
            ],
        )
    if problems:
        log.warning(
            "audit chain problems on terminal %s: %s",
            terminal_no,
            ", ".join(f"{p.kind.value}@{p.seq}" for p in problems),
        )
        return "conflict", "監査ログの連続性に問題があります: " + " / ".join(
            str(p) for p in problems[:10]
        )
    return "accepted", None


def stored_entries(
    conn: Connection,
    *,
    terminal_no: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    operator_id: str | None = None,
) -> list[WireEntry]:
    """Stored entries by terminal then seq; optionally in [start, end) and of one operator."""
    q = select(audit_entries)
    if terminal_no is not None:
        q = q.where(audit_entries.c.terminal_no == terminal_no)
    if start is not None:
        q = q.where(audit_entries.c.at >= start)
    if end is not None:
        q = q.where(audit_entries.c.at < end)
    if operator_id is not None:
        q = q.where(audit_entries.c.operator_id == operator_id)
    q = q.order_by(audit_entries.c.terminal_no, audit_entries.c.seq)
    return [_row_entry(r) for r in conn.execute(q)]


def verify_stored(
    conn: Connection,
    terminal_no: str | None = None,
    *,
    terminals: Iterable[str] | None = None,
    upto: datetime | None = None,
    signatures_from: datetime | None = None,
) -> list[ChainProblem]:
    """Re-verify stored chains from their first entry: all, one terminal's, or `terminals`'.

    `upto` ends the walk (entries at or after it are left out: a report checks its period and
    everything before it); `signatures_from` limits the signature checks (see verify_chain).
    One terminal is held in memory at a time.
    """
    if terminals is None:
        if terminal_no is not None:
            names = [terminal_no]
        else:
            q = select(audit_entries.c.terminal_no).distinct()
            names = sorted(r[0] for r in conn.execute(q))
    else:
        names = sorted(set(terminals))
    problems: list[ChainProblem] = []
    for t in names:
        entries = stored_entries(conn, terminal_no=t, end=upto)
        problems += verify_chain(t, entries, _verifier(conn, t), signatures_from=signatures_from)
    return problems


# --- the report ---------------------------------------------------------------------------------

FOLLOW_UP_ACTIONS = frozenset(
    {"view_household", "view_person", "issue_certificate", "reveal_my_number", "card_read", "print"}
)
# Actions that show or output a person's record: what counts as a "view" for the auditor.
VIEW_ACTIONS = frozenset(
    {"view_household", "view_person", "issue_certificate", "reveal_my_number", "print", "export"}
)
VOLUME_ACTIONS = frozenset({"search", "view_household", "view_person", "reveal_my_number"})


class AnomalyKind(StrEnum):
    NO_FOLLOW_UP = "no_follow_up"
    PROTECTED_VIEW = "protected_view"
    OWN_HOUSEHOLD = "own_household"
    HIGH_VOLUME = "high_volume"
    OUTSIDE_HOURS = "outside_hours"


ANOMALY_LABELS: dict[AnomalyKind, str] = {
    AnomalyKind.NO_FOLLOW_UP: "閲覧・交付につながらない検索",
    AnomalyKind.PROTECTED_VIEW: "支援措置対象者の閲覧",
    AnomalyKind.OWN_HOUSEHOLD: "本人・自世帯の照会",
    AnomalyKind.HIGH_VOLUME: "操作件数が通常より多い",
    AnomalyKind.OUTSIDE_HOURS: "執務時間外の操作",
}


@dataclass(frozen=True)
class ReportConfig:
    follow_up_minutes: int = 10
    # An operator is flagged when this many searches (and this share of them) lead nowhere.
    no_follow_up_min: int = 5
    no_follow_up_ratio: float = 0.3
    # Flagged when a day's searches+views exceed factor × the median of all operators that day.
    volume_factor: float = 3.0
    volume_min: int = 50
    approval_minutes: int = 30


@dataclass(frozen=True, slots=True)
class Anomaly:
    kind: AnomalyKind
    operator_id: str
    at: datetime | None  # JST; None for a per-day figure
    detail: str  # Japanese; ids only
    entry_ids: tuple[str, ...] = ()


@dataclass
class RegisterFacts:
    """What the report needs from the register; ids only."""

    # person_id → household_id
    household_of: dict[str, str] = field(default_factory=dict)
    # person ids under 支援措置 (with the measure's end date, or None when open-ended)
    protected: dict[str, date | None] = field(default_factory=dict)
    # operator_id → the operator's own person_id, when known
    operator_person: dict[str, str] = field(default_factory=dict)
    operator_person_known: bool = False

    def persons_of(self, target: str) -> set[str]:
        """Person ids a target id names: a person, or every member of a household."""
        if target in self.household_of:
            return {target}
        return {p for p, h in self.household_of.items() if h == target}

    def households_of(self, targets: Iterable[str]) -> set[str]:
        out = set()
        for t in targets:
            if t in self.household_of:
                out.add(self.household_of[t])
            elif t in self.household_of.values():
                out.add(t)
        return out


@dataclass
class OperatorSummary:
    operator_id: str
    counts: dict[str, int] = field(default_factory=dict)
    anomalies: list[Anomaly] = field(default_factory=list)


@dataclass
class AuditReport:
    start: date
    end: date
    operator_id: str | None
    operators: dict[str, OperatorSummary]
    chain_problems: list[ChainProblem]
    notes: list[str]

    def anomalies(self, kind: AnomalyKind | None = None) -> list[Anomaly]:
        return [
            a
            for s in self.operators.values()
            for a in s.anomalies
            if kind is None or a.kind is kind
        ]


def analyse(
    entries: Sequence[WireEntry],
    facts: RegisterFacts,
    *,
    policy: Policy,
    config: ReportConfig = ReportConfig(),
) -> dict[str, OperatorSummary]:
    """Anomalies per operator in `entries` (any order). Pure: the tests feed it directly."""
    ordered = sorted(entries, key=lambda e: (e.at_datetime, e.terminal_no, e.seq))
    summaries: dict[str, OperatorSummary] = {}
    by_operator: dict[str, list[WireEntry]] = defaultdict(list)
    for e in ordered:
        by_operator[e.operator_id].append(e)
        s = summaries.setdefault(e.operator_id, OperatorSummary(e.operator_id))
        s.counts[e.action] = s.counts.get(e.action, 0) + 1

    open_h, close_h = policy.office_hours
    follow = timedelta(minutes=config.follow_up_minutes)
    approval_window = timedelta(minutes=config.approval_minutes)
    daily_volume: dict[tuple[str, date], int] = defaultdict(int)
    approvals: dict[str, list[tuple[datetime, set[str]]]] = defaultdict(list)
    for e in ordered:
        if e.action == "approval":
            persons_approved: set[str] = set()
            for t in e.target_ids:
                persons_approved |= facts.persons_of(t) or {t}
            approvals[e.terminal_no].append((e.at_datetime, persons_approved))

    for op, ops_entries in by_operator.items():
        s = summaries[op]
        searches = 0
        unfollowed: list[WireEntry] = []
        own_person = facts.operator_person.get(op)
        own_household = facts.household_of.get(own_person) if own_person else None
        for i, e in enumerate(ops_entries):
            local = e.at_datetime.astimezone(JST)
            if e.action in VOLUME_ACTIONS:
                daily_volume[(op, local.date())] += 1
            if not (open_h <= local.hour < close_h):
                s.anomalies.append(
                    Anomaly(
                        AnomalyKind.OUTSIDE_HOURS,
                        op,
                        local,
                        f"{local:%m/%d %H:%M} {_label(e.action)}(端末 {e.terminal_no})",
                        (e.entry_id,),
                    )
                )
            if e.action == "search":
                searches += 1
                followed = False
                for nxt in ops_entries[i + 1 :]:
                    if nxt.action == "search" or nxt.at_datetime - e.at_datetime > follow:
                        break
                    if nxt.action in FOLLOW_UP_ACTIONS:
                        followed = True
                        break
                if not followed:
                    unfollowed.append(e)
            if e.action in VIEW_ACTIONS | {"card_read"}:
                persons = set().union(*(facts.persons_of(t) for t in e.target_ids))
                if e.action in VIEW_ACTIONS:
                    hit = sorted(
                        p
                        for p in persons
                        if p in facts.protected
                        and (facts.protected[p] is None or facts.protected[p] >= local.date())
                    )
                    if hit:
                        # The supervisor's entry is theirs, on the same terminal, just before.
                        approved = any(
                            timedelta(0) <= e.at_datetime - a_at <= approval_window
                            and (not a_persons or a_persons & set(hit))
                            for a_at, a_persons in approvals.get(e.terminal_no, [])
                        )
                        s.anomalies.append(
                            Anomaly(
                                AnomalyKind.PROTECTED_VIEW,
                                op,
                                local,
                                f"{local:%m/%d %H:%M} {_label(e.action)} 個人ID {', '.join(hit)}"
                                + ("(監督者承認あり)" if approved else "(監督者承認なし)"),
                                (e.entry_id,),
                            )
                        )
                if own_household and own_household in (
                    {facts.household_of.get(p) for p in persons} | set(e.target_ids)
                ):
                    s.anomalies.append(
                        Anomaly(
                            AnomalyKind.OWN_HOUSEHOLD,
                            op,
                            local,
                            f"{local:%m/%d %H:%M} {_label(e.action)} 世帯ID {own_household}",
                            (e.entry_id,),
                        )
                    )
        if (
            len(unfollowed) >= config.no_follow_up_min
            and searches
            and len(unfollowed) / searches >= config.no_follow_up_ratio
        ):
            times = ", ".join(f"{u.at_datetime.astimezone(JST):%H:%M}" for u in unfollowed[:10])
            more = " ほか" if len(unfollowed) > 10 else ""
            s.anomalies.append(
                Anomaly(
                    AnomalyKind.NO_FOLLOW_UP,
                    op,
                    None,
                    f"検索 {searches} 件のうち {len(unfollowed)} 件が閲覧・交付につながっていません"
                    f"({times}{more})",
                    tuple(u.entry_id for u in unfollowed),
                )
            )

    days: dict[date, list[int]] = defaultdict(list)
    for (_op, day), n in daily_volume.items():
        days[day].append(n)
    for (op, day), n in sorted(daily_volume.items()):
        median = statistics.median(days[day])
        if n >= config.volume_min and n > config.volume_factor * median:
            summaries[op].anomalies.append(
                Anomaly(
                    AnomalyKind.HIGH_VOLUME,
                    op,
                    None,
                    f"{day:%m/%d} 検索・閲覧 {n} 件(同日の操作者の中央値 {median:g} 件)",
                )
            )
    for s in summaries.values():
        s.anomalies.sort(key=lambda a: (a.kind.value, a.at or datetime.min.replace(tzinfo=JST)))
    return summaries


def register_facts(
    conn: Connection, entries: Sequence[WireEntry]
) -> tuple[RegisterFacts, list[str]]:
    """Read from the server's register what the report needs for these entries."""
    from server.tables import households, operators, persons

    notes: list[str] = []
    facts = RegisterFacts()
    targets = {t for e in entries for t in e.target_ids}
    ops = {e.operator_id for e in entries}
    facts.operator_person_known = True
    rows = conn.execute(
        select(operators.c.operator_id, operators.c.person_id).where(
            operators.c.operator_id.in_(sorted(ops))
        )
    )
    facts.operator_person = {r[0]: r[1] for r in rows if r[1]}
    targets |= set(facts.operator_person.values())
    unknown = sorted(ops - set(facts.operator_person))
    if unknown:
        notes.append(
            f"個人IDが登録されていない操作者 {len(unknown)} 名は、"
            "本人・自世帯の照会を確認できません"
            f"({', '.join(unknown[:10])}{' ほか' if len(unknown) > 10 else ''})。"
            "住民である職員は operator add --person-id で登録してください。"
        )
    household_ids: set[str] = set()
    target_list = sorted(targets)
    for i in range(0, len(target_list), 500):
        chunk = target_list[i : i + 500]
        for r in conn.execute(
            select(persons.c.person_id, persons.c.household_id).where(
                persons.c.person_id.in_(chunk)
            )
        ):
            household_ids.add(r.household_id)
        household_ids |= {
            r[0]
            for r in conn.execute(
                select(households.c.household_id).where(households.c.household_id.in_(chunk))
            )
        }
    hh_list = sorted(household_ids)
    for i in range(0, len(hh_list), 200):
        for r in conn.execute(
            select(households.c.data).where(households.c.household_id.in_(hh_list[i : i + 200]))
        ):
            _add_household(facts, json.loads(r[0]))
    return facts, notes


def _add_household(facts: RegisterFacts, household: dict[str, Any]) -> None:
    hid = household["household_id"]
    for m in household.get("members", []):
        facts.household_of[m["person_id"]] = hid
        measure = m.get("support_measure")
        if measure:
            until = measure.get("until")
            facts.protected[m["person_id"]] = date.fromisoformat(until) if until else None


def _policy(conn: Connection) -> Policy:
    from server.tables import policy

    if not inspect(conn).has_table("policy"):  # a bare database: the defaults apply
        return Policy()
    row = conn.execute(select(policy.c.data)).first()
    return Policy() if row is None else Policy.model_validate_json(row[0])


def build_report(
    conn: Connection,
    start: date,
    end: date,
    operator_id: str | None = None,
    *,
    config: ReportConfig = ReportConfig(),
    facts: RegisterFacts | None = None,
    policy: Policy | None = None,
) -> AuditReport:
    """The report for the JST days start..end (inclusive)."""
    t0 = datetime.combine(start, datetime.min.time(), JST).astimezone(UTC)
    t1 = datetime.combine(end + timedelta(days=1), datetime.min.time(), JST).astimezone(UTC)
    # Volume is judged against every operator, so read them all and filter afterwards.
    entries = stored_entries(conn, start=t0, end=t1)
    notes: list[str] = []
    if facts is None:
        facts, notes = register_facts(conn, entries)
    summaries = analyse(entries, facts, policy=policy or _policy(conn), config=config)
    if operator_id is not None:
        summaries = {k: v for k, v in summaries.items() if k == operator_id}
    terminals = {e.terminal_no for e in entries}
    # Hashes and links of every terminal's whole history (cheap, and a deletion shows in the
    # entries after it, even those of later days); signatures from the period's start on.
    problems = verify_stored(conn, signatures_from=t0)
    if any(terminal_public_key(conn, t) is None for t in terminals):
        notes.append(
            "端末証明書が登録されていない端末は、署名を検証せずハッシュと連鎖のみ確認しました。"
        )
    return AuditReport(start, end, operator_id, summaries, problems, notes)


def format_report(report: AuditReport) -> str:
    lines = [
        f"監査レポート {report.start.isoformat()} 〜 {report.end.isoformat()}"
        f"(対象: {report.operator_id or '全操作者'})",
        "",
    ]
    if report.chain_problems:
        lines.append(f"■ 監査ログの連続性: 問題 {len(report.chain_problems)} 件")
        lines += [f"  ・{p}" for p in report.chain_problems]
    else:
        lines.append("■ 監査ログの連続性: 問題なし")
    lines.append("")
    if not report.operators:
        lines.append("対象期間の操作記録はありません。")
    for op in sorted(report.operators):
        s = report.operators[op]
        total = sum(s.counts.values())
        lines.append(
            f"■ 操作者 {op}: 操作 {total} 件(検索 {s.counts.get('search', 0)}、"
            f"閲覧 {s.counts.get('view_household', 0) + s.counts.get('view_person', 0)}、"
            f"交付 {s.counts.get('issue_certificate', 0)})"
        )
        if not s.anomalies:
            lines.append("  異常なし")
        for kind in AnomalyKind:
            found = [a for a in s.anomalies if a.kind is kind]
            if not found:
                continue
            lines.append(f"  ◆ {ANOMALY_LABELS[kind]}: {len(found)} 件")
            lines += [f"    ・{a.detail}" for a in found[:50]]
            if len(found) > 50:
                lines.append(f"    ・ほか {len(found) - 50} 件")
        lines.append("")
    lines += [f"※ {n}" for n in report.notes]
    return "\n".join(lines).rstrip() + "\n"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"日付は YYYY-MM-DD で指定してください: {text}") from exc


def report_main(argv: Sequence[str] | None = None) -> int:
    """`madoguchi-server audit report --from YYYY-MM-DD --to YYYY-MM-DD [--operator ID]`."""
    p = argparse.ArgumentParser(
        prog="madoguchi-server audit report",
        description="操作者ごと・期間ごとに、監査で確認すべき操作(異常)を一覧にします。",
    )
    p.add_argument("--from", dest="start", type=_date, required=True, help="開始日(YYYY-MM-DD)")
    p.add_argument("--to", dest="end", type=_date, required=True, help="終了日(YYYY-MM-DD、含む)")
    p.add_argument("--operator", help="操作者ID(省略時は全員)")
    p.add_argument("--data-dir", help="サーバのデータフォルダ")
    p.add_argument("--config", help="設定ファイル(server.toml)")
    p.add_argument("--database-url", help="データベースURL(設定より優先)")
    args = p.parse_args(list(argv) if argv is not None else None)
    if args.end < args.start:
        print("終了日が開始日より前です。", file=sys.stderr)
        return 2

    from server.config import load_config
    from server.db import Database

    cfg = load_config(args.data_dir, args.config, database_url=args.database_url)
    db = Database(cfg.db_url)
    try:
        with db.read() as conn:
            if not inspect(conn).has_table("audit_entries"):
                print(
                    "監査ログのデータベースが見つかりません(madoguchi-server init が必要です)。",
                    file=sys.stderr,
                )
                return 1
            report = build_report(conn, args.start, args.end, args.operator)
    except SQLAlchemyError as exc:
        # The URL may carry a password: name only the kind of failure.
        print(f"データベースに接続できません({type(exc).__name__})。", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    sys.stdout.write(format_report(report))
    return 0
