"""The terminals' audit chains on the server: ingest with continuity checks, stored chains.

`ingest_audit_batch(conn, terminal_no, payload)` takes the payload of an `audit_batch` event
(built by app/store/audit.py `AuditChain.pending_batch`) and stores its entries, checking per
terminal that seq numbers continue, prev_hash links to the last stored entry, hashes match the
content and (when the terminal's certificate is on file) signatures are the terminal key's.

A batch that fails these checks is still stored: the server's copy is the auditor's evidence,
and dropping it would leave the damaged record only on the terminal. It is answered `conflict`
with the problems in the reason, and every report (server/audit_report.py) re-verifies the
stored chains and lists them.

The chain format (canonical JSON, entry hash, links, verification) is app.domain.audit_chain,
the one the terminal uses.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy import Connection, and_, select

from app.domain.audit_chain import (
    GENESIS_HASH,
    PROBLEM_LABELS,
    ChainEntry,
    ProblemKind,
    PublicKey,
    Verifier,
    canonical_at,
    parse_wire_entry,
    verifier_for,
    verify_chain,
)
from server.tables import audit_entries

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """A problem of one terminal's stored chain, as the server reports it."""

    terminal_no: str
    kind: ProblemKind
    seq: int
    message: str  # Japanese, ids and positions only

    def __str__(self) -> str:
        return f"端末 {self.terminal_no} [{PROBLEM_LABELS[self.kind]}] {self.message}"


def check_chain(
    terminal_no: str,
    entries: list[ChainEntry],
    verifier: Verifier | None,
    *,
    first_seq: int = 1,
    prev_hash: str = GENESIS_HASH,
    signatures_from: datetime | None = None,
) -> list[ChainProblem]:
    """app.domain.audit_chain.verify_chain over one terminal's entries, located by terminal."""
    return [
        ChainProblem(terminal_no, p.kind, p.seq, p.message)
        for p in verify_chain(
            entries,
            verifier,
            terminal_no=terminal_no,
            first_seq=first_seq,
            prev_hash=prev_hash,
            signatures_from=signatures_from,
        )
    ]


def _row_entry(row: Any) -> ChainEntry:
    try:
        signature = base64.b64decode(row.signature, validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    return ChainEntry(
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


def terminal_public_key(conn: Connection, terminal_no: str) -> PublicKey | None:
    """The public key of the terminal's certificate on file (None for an unknown terminal)."""
    from server.tables import terminals

    row = conn.execute(
        select(terminals.c.certificate_pem).where(terminals.c.terminal_no == terminal_no)
    ).first()
    if row is None or not row[0]:
        return None
    try:
        key = x509.load_pem_x509_certificate(row[0].encode("ascii")).public_key()
    except ValueError:
        log.warning("terminal %s: stored certificate does not parse", terminal_no)
        return None
    if isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        return key
    log.warning("terminal %s: certificate key of a kind the chain does not use", terminal_no)
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
    new: list[ChainEntry] = []
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
        problems += check_chain(
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
) -> list[ChainEntry]:
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
        problems += check_chain(t, entries, _verifier(conn, t), signatures_from=signatures_from)
    return problems
