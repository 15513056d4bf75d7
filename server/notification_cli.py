"""`madoguchi-server notification list|show|confirm|return`: the head office's 審査 of filed
住民異動届 at the console (the client's 届出審査 tab does the same through the API).

`show` prints the 届出 beside the register as it is now: names and addresses, for the reviewer
at the console (the 個人番号 masked); `list` prints ids, dates and states only.
"""

from __future__ import annotations

import argparse
import sys

from app.domain.identifiers import mask_my_number
from app.domain.notifications import FILER_LABELS, PROCEDURE_LABELS
from app.domain.records import parse_household
from app.domain.wareki import format_date
from app.sync.notification_protocol import NotificationDetail, NotificationSummary
from server import notifications
from server.db import Database
from server.errors import AdminError

STATE_LABELS = {
    "pending": "審査待ち",
    "conflict": "競合(要確認)",
    "confirmed": "確定",
    "returned": "差戻し",
}


def _say(text: str = "") -> None:
    print(text)


def _line(s: NotificationSummary) -> str:
    late = "\t届出期間経過" if s.late else ""
    return (
        f"{s.notification_id}\t{STATE_LABELS.get(s.state, s.state)}\t"
        f"{PROCEDURE_LABELS[s.procedure]}\t届出 {s.filed_on.isoformat()}\t"
        f"異動 {s.moved_on.isoformat()}\t{s.office}\t端末 {s.terminal_no}\t"
        f"職員 {s.operator_id}{late}"
    )


def _show(d: NotificationDetail) -> None:
    s, draft = d.summary, d.draft
    _say(_line(s))
    _say(f"届出人: {draft.filer.name}（{FILER_LABELS[draft.filer.kind]}）")
    _say(f"届出日: {format_date(draft.filed_on)}　異動日: {format_date(draft.moved_on)}")
    if draft.old_address:
        _say(f"旧住所: {draft.old_address.full}")
    if draft.new_address:
        _say(f"新住所: {draft.new_address.full}")
    if d.move_out_certificate_no:
        _say(f"転出証明書: {d.move_out_certificate_no}")
    _say("異動者:")
    for m in draft.movers:
        version = draft.relied_versions.get(m.key)
        seen = f"　参照した版数 {version}" if version is not None else ""
        _say(
            f"  {m.key}\t{m.name}（{m.name_kana}）\t{format_date(m.birth_date)}\t"
            f"{m.relationship}{seen}"
        )
    for i, plan in enumerate(draft.households):
        where = plan.household_id or "(新しい世帯)"
        roles = "、".join(f"{r.key}:{r.relationship}" for r in plan.roles)
        _say(f"異動後の世帯{i + 1}: {where}　{roles}")
    if d.acknowledged:
        _say("窓口で確認済みの注意:")
        for a in d.acknowledged:
            _say(f"  [{a.code}] {a.message}")
    _say("現在の住民票:")
    if not d.households:
        _say("  (該当なし)")
    for raw in d.households:
        h = parse_household(raw)
        _say(f"  世帯 {h.household_id}: {h.address}{'　' + h.katagaki if h.katagaki else ''}")
        for p in h.members:
            number = f"　個人番号 {mask_my_number(p.my_number)}" if p.my_number else ""
            state = "" if p.status == "resident" else "（除票）"
            _say(f"    {p.person_id}\t{p.name}\t{p.relationship}\t版数 {p.version}{state}{number}")
    if d.conflicts:
        _say("競合:")
        for c in d.conflicts:
            _say(f"  [{c.kind}] {c.message}")
    if d.reason:
        _say(f"差戻しの理由: {d.reason}")
    _say("経過:")
    for step in d.steps:
        who = step.operator_id or ""
        where = f"端末 {step.terminal_no}" if step.terminal_no else ""
        _say(f"  {step.at.astimezone():%Y-%m-%d %H:%M}\t{step.step}\t{who}\t{where}".rstrip())


def _relied(pairs: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if not key or not value.isdigit():
            raise AdminError(f"--relied は 個人ID=版数 の形で指定してください（{pair}）。")
        out[key] = int(value)
    return out


def run(db: Database, args: argparse.Namespace) -> int:
    try:
        if args.action == "list":
            states = () if args.all else notifications.OPEN_STATES
            items = notifications.list_notifications(db, states=states)
            if not items:
                _say("審査待ちの届出はありません。")
            for s in items:
                _say(_line(s))
        elif args.action == "show":
            _show(notifications.show(db, args.id))
        elif args.action == "confirm":
            decision = notifications.confirm(
                db, args.id, decided_by=args.by, relied_versions=_relied(args.relied) or None
            )
            households = "、".join(decision.household_ids)
            _say(f"届出 {args.id} を確定しました(世帯 {households})。全端末に配信されます。")
        elif args.action == "return":
            notifications.return_notification(db, args.id, args.reason, decided_by=args.by)
            _say(f"届出 {args.id} を差し戻しました。届け出た端末に理由が届きます。")
    except notifications.NotificationRefused as exc:
        print(f"エラー: {exc.message}", file=sys.stderr)
        return 3 if exc.conflicts else 1
    except notifications.NotificationUnknown as exc:
        raise AdminError(exc.message) from None
    return 0
