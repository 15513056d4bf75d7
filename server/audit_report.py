"""`madoguchi-server audit report`: what the auditor should look at, per operator and period.

The anomalies of DESIGN.md §8 (searches that lead nowhere, views of protected persons, look-ups
of one's own household, unusual volume, work outside office hours) found in the stored audit
entries, and the problems of the stored chains (server/audit_ingest.py re-verifies them).

`report_main(argv)` is `madoguchi-server audit report --from --to [--operator]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from app.domain.audit_chain import ACTION_LABELS, ChainEntry
from app.sync.protocol import Policy
from server.audit_heads import HeadFinding, deleted_on_server, recorded_findings
from server.audit_ingest import ChainProblem, stored_entries, terminal_public_key, verify_stored
from server.tables import login_events

JST = timezone(timedelta(hours=9), "JST")  # Japan has no daylight saving time

# Exit statuses of `madoguchi-server audit report` (docs/audit.md "The auditor's report").
EXIT_CLEAN = 0
EXIT_ANOMALIES = 1
EXIT_USAGE = 2  # wrong arguments, no database, no schema
EXIT_INTEGRITY = 3


_LABELS: dict[str, str] = {a.value: label for a, label in ACTION_LABELS.items()}


def _label(action: str) -> str:
    return _LABELS.get(action, action)


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
    # Issue 21: chains that ended lower or were rewritten (heads), entries deleted on the
    # server, and the server's own record of failed logins and lockouts in the period.
    head_findings: list[HeadFinding] = field(default_factory=list)
    login_failures: dict[tuple[str, str], int] = field(default_factory=dict)
    lockouts: list[tuple[datetime, str, str]] = field(default_factory=list)

    @property
    def integrity_findings(self) -> int:
        """Problems of the trail itself and lockouts: what must never be waved through."""
        return len(self.chain_problems) + len(self.head_findings) + len(self.lockouts)

    def exit_code(self) -> int:
        """`audit report`'s exit status: 0 nothing to look at, 1 anomalies of operators,
        3 the trail itself (chains, heads, deletions) or lockouts."""
        if self.integrity_findings:
            return EXIT_INTEGRITY
        return EXIT_ANOMALIES if self.anomalies() else EXIT_CLEAN

    def anomalies(self, kind: AnomalyKind | None = None) -> list[Anomaly]:
        return [
            a
            for s in self.operators.values()
            for a in s.anomalies
            if kind is None or a.kind is kind
        ]


def analyse(
    entries: Sequence[ChainEntry],
    facts: RegisterFacts,
    *,
    policy: Policy,
    config: ReportConfig = ReportConfig(),
) -> dict[str, OperatorSummary]:
    """Anomalies per operator in `entries` (any order). Pure: the tests feed it directly."""
    ordered = sorted(entries, key=lambda e: (e.at_datetime, e.terminal_no, e.seq))
    summaries: dict[str, OperatorSummary] = {}
    by_operator: dict[str, list[ChainEntry]] = defaultdict(list)
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
        unfollowed: list[ChainEntry] = []
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
                        and ((until := facts.protected[p]) is None or until >= local.date())
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
                    f"{day:%m/%d} 検索・閲覧 {n} 件(同日の職員の中央値 {median:g} 件)",
                )
            )
    for s in summaries.values():
        s.anomalies.sort(key=lambda a: (a.kind.value, a.at or datetime.min.replace(tzinfo=JST)))
    return summaries


def register_facts(
    conn: Connection, entries: Sequence[ChainEntry]
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
            f"個人IDが登録されていない職員 {len(unknown)} 名は、"
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
    report = AuditReport(start, end, operator_id, summaries, problems, notes)
    inspector = inspect(conn)
    if inspector.has_table("audit_findings"):
        # Whatever the period: a deletion found now is about entries of any time.
        report.head_findings = deleted_on_server(conn) + recorded_findings(conn, t0, t1)
    if inspector.has_table("login_events"):
        _login_events(conn, report, t0, t1)
    return report


def _login_events(conn: Connection, report: AuditReport, t0: datetime, t1: datetime) -> None:
    q = select(login_events).where(login_events.c.at >= t0, login_events.c.at < t1)
    if report.operator_id is not None:
        q = q.where(login_events.c.operator_id == report.operator_id)
    for r in conn.execute(q.order_by(login_events.c.at, login_events.c.id)):
        key = (r.operator_id, r.terminal_no or "—")
        if r.kind == "locked":
            report.lockouts.append((_aware(r.at).astimezone(JST), *key))
        else:
            report.login_failures[key] = report.login_failures.get(key, 0) + 1


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def format_report(report: AuditReport) -> str:
    lines = [
        f"監査レポート {report.start.isoformat()} 〜 {report.end.isoformat()}"
        f"(対象: {report.operator_id or '全職員'})",
        "",
    ]
    if report.chain_problems:
        lines.append(f"■ 監査ログの連続性: 問題 {len(report.chain_problems)} 件")
        lines += [f"  ・{p}" for p in report.chain_problems]
    else:
        lines.append("■ 監査ログの連続性: 問題なし")
    if report.head_findings:
        lines.append(f"■ 監査ログの欠落・巻き戻し: {len(report.head_findings)} 件")
        lines += [f"  ・{f}" for f in report.head_findings]
    else:
        lines.append("■ 監査ログの欠落・巻き戻し: なし")
    if report.lockouts:
        lines.append(f"■ パスワード誤りによるロック: {len(report.lockouts)} 件")
        lines += [f"  ・{at:%m/%d %H:%M} 職員 {op}(端末 {t})" for at, op, t in report.lockouts]
    if report.login_failures:
        total = sum(report.login_failures.values())
        lines.append(f"■ ログイン失敗(サーバーで確認): {total} 件")
        lines += [
            f"  ・職員 {op}(端末 {t}): {n} 回"
            for (op, t), n in sorted(report.login_failures.items())
        ]
    lines.append("")
    if not report.operators:
        lines.append("対象期間の操作記録はありません。")
    for op in sorted(report.operators):
        s = report.operators[op]
        total = sum(s.counts.values())
        lines.append(
            f"■ 職員 {op}: 操作 {total} 件(検索 {s.counts.get('search', 0)}、"
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
        description="職員ごと・期間ごとに、監査で確認すべき操作(異常)を一覧にします。",
    )
    p.add_argument("--from", dest="start", type=_date, required=True, help="開始日(YYYY-MM-DD)")
    p.add_argument("--to", dest="end", type=_date, required=True, help="終了日(YYYY-MM-DD、含む)")
    p.add_argument("--operator", help="職員ID(省略時は全員)")
    p.add_argument("--data-dir", help="サーバのデータフォルダ")
    p.add_argument("--config", help="設定ファイル(server.toml)")
    p.add_argument("--database-url", help="データベースURL(設定より優先)")
    args = p.parse_args(list(argv) if argv is not None else None)
    if args.end < args.start:
        print("終了日が開始日より前です。", file=sys.stderr)
        return EXIT_USAGE

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
                return EXIT_USAGE
            report = build_report(conn, args.start, args.end, args.operator)
    except SQLAlchemyError as exc:
        # The URL may carry a password: name only the kind of failure.
        print(f"データベースに接続できません({type(exc).__name__})。", file=sys.stderr)
        return EXIT_USAGE
    finally:
        db.dispose()
    sys.stdout.write(format_report(report))
    # Non-zero on findings (issue 21): a scheduled run tells the auditor there is something.
    return report.exit_code()
