"""The signed heads of the terminals' audit chains (issue 21 item 8), and what they reveal.

After every sync round a terminal sends where its chain ends (`protocol.AuditHead`: last seq and
hash, signed with the terminal key). The server keeps the last head and the highest one it has
seen per terminal. A chain must never end lower than a head the server has seen, nor end at
the same seq with another hash: either is recorded as a finding at once (the entries between
were deleted on the terminal, its cache replaced by an older copy, or the chain rewritten).

The report (server/audit_report.py) adds what only the server's own tables show: entries the
server acknowledged (accepted `audit_batch` events) that are no longer stored — the tail of a
chain or a whole chain deleted on the server.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Connection, func, insert, select, update

from app.domain.audit_chain import Verifier
from app.sync.protocol import AuditHead, AuditHeadAnswer
from server.tables import audit_entries, audit_findings, audit_heads, events


class HeadFindingKind(StrEnum):
    REWOUND = "chain_rewound"  # the chain now ends below a head seen before
    REWRITTEN = "chain_rewritten"  # same last seq, another hash (or unlike the stored entry)
    BAD_SIGNATURE = "head_bad_signature"  # a head the terminal key did not sign
    DELETED_ON_SERVER = "deleted_on_server"  # acknowledged entries missing on the server


HEAD_FINDING_LABELS: dict[HeadFindingKind, str] = {
    HeadFindingKind.REWOUND: "端末の監査ログが短くなった",
    HeadFindingKind.REWRITTEN: "端末の監査ログが書き換えられた",
    HeadFindingKind.BAD_SIGNATURE: "監査ログの末尾情報の署名不正",
    HeadFindingKind.DELETED_ON_SERVER: "サーバーの監査ログの欠落",
}


@dataclass(frozen=True, slots=True)
class HeadFinding:
    terminal_no: str
    kind: HeadFindingKind
    detail: str  # Japanese, seqs only
    found_at: datetime

    def __str__(self) -> str:
        return f"端末 {self.terminal_no} [{HEAD_FINDING_LABELS[self.kind]}] {self.detail}"


def _now() -> datetime:
    return datetime.now(UTC)


def _record(conn: Connection, terminal_no: str, kind: HeadFindingKind, detail: str) -> None:
    conn.execute(
        insert(audit_findings).values(
            terminal_no=terminal_no, kind=kind.value, detail=detail, found_at=_now()
        )
    )


def signed_by(head: AuditHead, verifier: Verifier | None) -> bool:
    if verifier is None:
        return False
    try:
        signature = base64.b64decode(head.signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    return verifier(head.signed_bytes(), signature)


def record_head(
    conn: Connection, terminal_no: str, head: AuditHead, verifier: Verifier | None
) -> AuditHeadAnswer:
    """Judge and keep one head of `terminal_no` (the calling terminal), in the caller's
    transaction. A head of another terminal or with a bad signature is a finding and changes
    nothing else."""
    if head.terminal_no != terminal_no or not signed_by(head, verifier):
        detail = f"seq {head.last_seq} の末尾情報が端末 {terminal_no} の鍵で署名されていません。"
        _record(conn, terminal_no, HeadFindingKind.BAD_SIGNATURE, detail)
        return AuditHeadAnswer(status="finding", message=detail)
    row = conn.execute(select(audit_heads).where(audit_heads.c.terminal_no == terminal_no)).first()
    found: list[tuple[HeadFindingKind, str]] = []
    if row is not None:
        if head.last_seq < row.max_seq:
            found.append(
                (
                    HeadFindingKind.REWOUND,
                    f"監査ログが seq {row.max_seq} まであったのに、seq {head.last_seq} で"
                    "終わっています(削除、または古い写しへの置き換え)。",
                )
            )
        elif head.last_seq == row.max_seq and head.last_hash != row.max_hash:
            found.append(
                (
                    HeadFindingKind.REWRITTEN,
                    f"seq {head.last_seq} の記録が、以前に受け取った末尾と異なります。",
                )
            )
    stored = conn.execute(
        select(audit_entries.c.hash).where(
            audit_entries.c.terminal_no == terminal_no, audit_entries.c.seq == head.last_seq
        )
    ).first()
    if stored is not None and stored.hash != head.last_hash and not found:
        found.append(
            (
                HeadFindingKind.REWRITTEN,
                f"seq {head.last_seq} の記録が、サーバーに保存済みの記録と異なります。",
            )
        )
    for kind, detail in found:
        _record(conn, terminal_no, kind, detail)
    values = {
        "last_seq": head.last_seq,
        "last_hash": head.last_hash,
        "last_at": datetime.fromisoformat(head.at),
        "signature": head.signature_b64,
        "received_at": _now(),
    }
    if row is None:
        conn.execute(
            insert(audit_heads).values(
                terminal_no=terminal_no, max_seq=head.last_seq, max_hash=head.last_hash, **values
            )
        )
    else:
        if head.last_seq > row.max_seq:
            values.update(max_seq=head.last_seq, max_hash=head.last_hash)
        conn.execute(
            update(audit_heads).where(audit_heads.c.terminal_no == terminal_no).values(**values)
        )
    if found:
        return AuditHeadAnswer(status="finding", message=" ".join(d for _, d in found))
    return AuditHeadAnswer()


def recorded_findings(
    conn: Connection, start: datetime | None = None, end: datetime | None = None
) -> list[HeadFinding]:
    q = select(audit_findings).order_by(audit_findings.c.found_at, audit_findings.c.id)
    if start is not None:
        q = q.where(audit_findings.c.found_at >= start)
    if end is not None:
        q = q.where(audit_findings.c.found_at < end)
    return [
        HeadFinding(r.terminal_no, HeadFindingKind(r.kind), r.detail, r.found_at)
        for r in conn.execute(q)
    ]


def acknowledged(conn: Connection) -> dict[str, int]:
    """Per terminal, the highest seq the server has acknowledged: the accepted (or conflict)
    audit_batch events' last_seq, and the highest head whose entries were all stored once."""
    upto: dict[str, int] = {}
    q = select(events.c.terminal_no, events.c.payload).where(
        events.c.type == "audit_batch", events.c.status.in_(("accepted", "conflict"))
    )
    for terminal_no, payload in conn.execute(q):
        try:
            last = int(json.loads(payload).get("last_seq", 0))
        except (ValueError, TypeError, AttributeError):
            continue
        upto[terminal_no] = max(upto.get(terminal_no, 0), last)
    return upto


def deleted_on_server(conn: Connection) -> list[HeadFinding]:
    """Terminals whose stored chain ends below what the server acknowledged: entries deleted on
    the server (the tail, or the whole chain). A gap in the middle is verify_chain's."""
    stored = {
        r[0]: int(r[1])
        for r in conn.execute(
            select(audit_entries.c.terminal_no, func.max(audit_entries.c.seq)).group_by(
                audit_entries.c.terminal_no
            )
        )
    }
    now = _now()
    out = []
    for terminal_no, upto in sorted(acknowledged(conn).items()):
        have = stored.get(terminal_no, 0)
        if have < upto:
            what = f"seq {have + 1}〜{upto}" if have else f"全件(seq 1〜{upto})"
            out.append(
                HeadFinding(
                    terminal_no,
                    HeadFindingKind.DELETED_ON_SERVER,
                    f"受け付け済みの監査ログ {what} がサーバーにありません。",
                    now,
                )
            )
    return out
