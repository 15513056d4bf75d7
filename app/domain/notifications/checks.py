"""The rules of 住民基本台帳法 for a 住民異動届, checked while the clerk types.

Each check reads the draft (and the part of the register it touches) and returns Findings:
Japanese messages tied to a field of the draft, with the article they come from.

- Time limits. 転入 (§22①) and 転居 (§23): within 14 days of the move; 世帯変更 (§25): within
  14 days of the change; counted by deadlines.py (民法§140, 地方自治法§4の2④). 転出 (§24):
  "あらかじめ" — before the move. A 転出届 after the move is still received (the register must
  follow the facts; the 事務処理要領 says so) and flagged; past the 14 days after the move it is
  also late. A late 届出 is never refused: it is flagged for the 過料 of §52② (the head office
  notifies the 簡易裁判所), and the clerk notes the reason.
- Dates: the 届出日 is not in the future; 転入・転居・世帯変更 are filed after the fact.
- Addresses: a 転居 stays inside the municipality, a 転入 comes from outside and a 転出 goes
  outside; a new address in the municipality names a town of its 町名一覧.
- 転入 needs the 転出証明書 (§22②, 令§23); the 特例転入 (§24の2①) needs the card and the
  転出証明書情報 of 住基ネット, within 30 days of the 転出予定日 and 14 days of the move.
- The 届出人: 本人, the 世帯主 (§26), a 世帯員, or a 代理人 with a 委任状 (§27③); identified
  by one photo document or two others (§27②). A registered 加害者 is never served.
- 支援措置 persons are flagged on the clerk's screen.
- Households (households.py): one 世帯主 each, nobody in two households, everyone placed.

Pure: the clock and the register come in as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.domain.certificates import PHOTO_DOCUMENTS
from app.domain.notifications.deadlines import filing_deadline, special_move_in_limit
from app.domain.notifications.findings import Finding, Severity, error, notice, warning
from app.domain.notifications.households import check_households
from app.domain.notifications.model import (
    HEAD,
    HOUSEHOLD_CHANGE,
    MOVE_IN,
    MOVE_OUT,
    REGISTERED,
    Address,
    FilerKind,
    NotificationDraft,
    Procedure,
)
from app.domain.notifications.register import Register, touched_person_ids
from app.domain.notifications.towns import TownList, fold_address
from app.domain.wareki import format_date

# The article that sets the time limit of each procedure.
LIMIT_ARTICLES: dict[Procedure, str] = {
    Procedure.MOVE_IN: "住基法第22条第1項",
    Procedure.SPECIAL_MOVE_IN: "住基法第22条第1項",
    Procedure.MOVE_WITHIN: "住基法第23条",
    Procedure.MOVE_OUT: "住基法第24条",
    Procedure.SPECIAL_MOVE_OUT: "住基法第24条",
    Procedure.HEAD_CHANGE: "住基法第25条",
    Procedure.SEPARATION: "住基法第25条",
    Procedure.MERGER: "住基法第25条",
}
FINE = "住基法第52条第2項"


@dataclass(frozen=True, slots=True)
class CheckContext:
    today: date
    register: Register
    towns: TownList


def check(draft: NotificationDraft, ctx: CheckContext) -> tuple[Finding, ...]:
    """Every rule; errors first, then warnings, then notices (stable within each)."""
    found = [
        *check_dates(draft, ctx.today),
        *check_certificate(draft, ctx.towns),
        *check_addresses(draft, ctx.towns, ctx.register),
        *check_movers(draft, ctx.register),
        *check_households(draft, ctx.register),
        *check_filer(draft, ctx.register, ctx.today),
        *check_identity(draft),
        *check_support_measures(draft, ctx.register, ctx.today),
    ]
    return tuple(sorted(found, key=lambda f: f.severity))


def _d(day: date) -> str:
    return format_date(day)


# ---------------------------------------------------------------------------------------------
# Dates and time limits


def check_dates(d: NotificationDraft, today: date) -> list[Finding]:
    out: list[Finding] = []
    article = LIMIT_ARTICLES[d.procedure]
    if d.filed_on > today:
        out.append(error("filed_on", "filed_in_future", "届出日が未来の日付です。"))
    if d.procedure in MOVE_OUT:
        if d.moved_on < d.filed_on:
            last = filing_deadline(d.moved_on)
            if d.filed_on <= last:
                out.append(
                    warning(
                        "moved_on",
                        "move_out_after_move",
                        "転出した後の届出です（転出届は転出の前にするものです）。"
                        f"転出日から14日以内（{_d(last)}まで）のため受理します。"
                        "転出日を本人に確認してください。",
                        article,
                    )
                )
            else:
                out.append(_late(d, last, article))
        return out
    if d.moved_on > d.filed_on:
        what = "世帯の変更" if d.procedure in HOUSEHOLD_CHANGE else "住所の異動"
        out.append(
            error(
                "moved_on",
                "moved_after_filing",
                f"異動日が届出日より後です。{what}の届出は異動の後にします"
                "（未来の日付は入力できません）。",
                article,
            )
        )
        return out
    last = filing_deadline(d.moved_on)
    if d.filed_on > last:
        out.append(_late(d, last, article))
    return out


def _late(d: NotificationDraft, last: date, article: str) -> Finding:
    return warning(
        "filed_on",
        "late_filing",
        f"届出期間（異動日から14日、{_d(last)}まで）を過ぎた届出です。受理しますが、"
        "遅れた理由を聴き取って備考に記入してください（届出期間経過通知の対象です）。",
        f"{article}、{FINE}",
    )


# ---------------------------------------------------------------------------------------------
# 転出証明書 / 転出証明書情報


def check_certificate(d: NotificationDraft, towns: TownList) -> list[Finding]:
    if d.procedure not in MOVE_IN:
        return []
    out: list[Finding] = []
    c = d.move_out_certificate
    if d.procedure == Procedure.MOVE_IN:
        if c is None or c.source != "paper":
            out.append(
                error(
                    "move_out_certificate",
                    "move_in_no_certificate",
                    "転出証明書を確認して入力してください。個人番号カードで転出届をした方は"
                    "「転入（特例）」を選びます。",
                    "住基法第22条第2項、施行令第23条",
                )
            )
    else:
        if not d.card_presented:
            out.append(
                error(
                    "card_presented",
                    "special_move_in_no_card",
                    "特例転入には個人番号カードの提出（暗証番号の入力）が必要です。",
                    "住基法第24条の2第1項",
                )
            )
        if c is None or c.source != "jukinet":
            out.append(
                error(
                    "move_out_certificate",
                    "special_move_in_no_certificate",
                    "住基ネットから転出証明書情報を取得してください。",
                    "住基法第24条の2第3項",
                )
            )
        else:
            limit = special_move_in_limit(c.planned_on, d.moved_on)
            if d.filed_on > limit:
                out.append(
                    error(
                        "filed_on",
                        "special_move_in_expired",
                        f"特例転入ができる期間（{_d(limit)}まで: 転出予定日から30日、"
                        "転入した日から14日のいずれか早い日）を過ぎています。転出地で転出証明書の"
                        "交付を受け、通常の転入届としてください。",
                        "住基法第24条の2第1項ただし書",
                    )
                )
    if c is None:
        return out
    by_code = {p.juminhyo_code: p for p in c.persons}
    for i, m in enumerate(d.movers):
        where = f"movers[{i}]"
        if m.juminhyo_code is None:
            out.append(
                error(
                    f"{where}.juminhyo_code",
                    "mover_no_code",
                    f"{m.name}: 転入前の住民票コードを転出証明書から入力してください。",
                    "住基法第22条第1項第6号",
                )
            )
            continue
        p = by_code.get(m.juminhyo_code)
        if p is None:
            out.append(
                error(
                    where,
                    "mover_not_in_certificate",
                    f"{m.name}は転出証明書に記載されていません。",
                    "住基法第22条第2項",
                )
            )
        elif (p.name, p.birth_date, p.sex) != (m.name, m.birth_date, m.sex):
            out.append(
                warning(
                    where,
                    "certificate_mismatch",
                    f"{m.name}: 氏名・生年月日・性別が転出証明書と異なります。"
                    "証明書の記載どおりか、本人確認書類で確かめてください。",
                )
            )
    if c.planned_on != d.moved_on:
        out.append(
            notice(
                "moved_on",
                "certificate_date_differs",
                f"転入日（{_d(d.moved_on)}）が転出予定日（{_d(c.planned_on)}）と異なります。"
                "転出地には実際の転入日を通知します。",
                "住基法第9条第1項",
            )
        )
    if not towns.in_municipality(c.destination):
        out.append(
            notice(
                "move_out_certificate",
                "certificate_destination_differs",
                f"転出証明書の転出先（{c.destination}）は{towns.municipality_name}ではありません。"
                "転入届は受理できます（転出地への転入通知で転出先が訂正されます）。",
                "住基法第9条第1項",
            )
        )
    if d.old_address is not None and fold_address(d.old_address.text) != fold_address(c.address):
        out.append(
            warning(
                "old_address",
                "old_address_differs",
                "従前の住所が転出証明書の住所と異なります。",
                "住基法第22条第1項第4号",
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Addresses


def _town_findings(field: str, address: Address, towns: TownList) -> list[Finding]:
    match = towns.match(address.text)
    if match.town is None:
        return [error(field, "town_unknown", " ".join(match.problems))]
    out = [warning(field, "address_form", p) for p in match.problems]
    if address.postal_code and address.postal_code != match.town.postal_code:
        out.append(
            warning(
                field,
                "postal_code_differs",
                f"郵便番号が町名と合いません（{match.town.name}は{match.town.postal_code}）。",
            )
        )
    return out


def check_addresses(d: NotificationDraft, towns: TownList, register: Register) -> list[Finding]:
    out: list[Finding] = []
    city = towns.municipality_name
    new, old = d.new_address, d.old_address
    if d.procedure in HOUSEHOLD_CHANGE:
        source = register.household(d.source_household_id)
        if (
            new is not None
            and source is not None
            and fold_address(new.full)
            != fold_address(source.address + (f"　{source.katagaki}" if source.katagaki else ""))
        ):
            out.append(
                error(
                    "new_address",
                    "address_changes",
                    "世帯変更では住所は変わりません。住所が変わるときは転居届です。",
                    "住基法第25条",
                )
            )
        return out
    if new is None or not new.text.strip():
        label = "転出先" if d.procedure in MOVE_OUT else "新住所"
        return [error("new_address", "address_missing", f"{label}を入力してください。")]
    if d.procedure in MOVE_OUT:
        if towns.in_municipality(new.text):
            out.append(
                error(
                    "new_address",
                    "address_in_municipality",
                    f"転出先が{city}内です。市内での住所の変更は転居届です。",
                    "住基法第23条、第24条",
                )
            )
        return out
    if not towns.in_municipality(new.text):
        what = "転居先" if d.procedure == Procedure.MOVE_WITHIN else "新住所"
        other = "市外への住所の変更は転出届です" if what == "転居先" else "転入先は市内の住所です"
        out.append(
            error(
                "new_address",
                "address_not_in_municipality",
                f"{what}が{city}の住所ではありません。{other}。",
                "住基法第23条、第24条" if what == "転居先" else "住基法第22条第1項",
            )
        )
    else:
        out.extend(_town_findings("new_address", new, towns))
    if d.procedure in MOVE_IN:
        if old is None or not old.text.strip():
            out.append(
                error(
                    "old_address",
                    "address_missing",
                    "従前の住所を入力してください。",
                    "住基法第22条第1項第4号",
                )
            )
        elif towns.in_municipality(old.text):
            out.append(
                error(
                    "old_address",
                    "address_in_municipality",
                    f"従前の住所が{city}内です。市内での住所の変更は転居届です。",
                    "住基法第23条",
                )
            )
    elif old is not None and fold_address(old.full) == fold_address(new.full):
        out.append(error("new_address", "same_address", "新住所が現住所と同じです。"))
    return out


# ---------------------------------------------------------------------------------------------
# Movers


def check_movers(d: NotificationDraft, register: Register) -> list[Finding]:
    out: list[Finding] = []
    if d.procedure not in REGISTERED:
        return out
    source = register.household(d.source_household_id)
    if source is None:
        out.append(
            error(
                "source_household_id",
                "household_unknown",
                "異動者の世帯が台帳にありません（最新の台帳で選び直してください）。",
            )
        )
    for i, m in enumerate(d.movers):
        where = f"movers[{i}]"
        p = register.person(m.key)
        if p is None:
            out.append(error(where, "mover_not_registered", f"{m.name}は台帳にいません。"))
            continue
        if p.status != "resident":
            out.append(
                error(where, "mover_removed", f"{p.name}は除票です。異動届の対象になりません。")
            )
        h = register.household_of(m.key)
        if source is not None and h is not None and h.household_id != source.household_id:
            out.append(
                error(
                    where,
                    "mover_other_household",
                    f"{p.name}は選んだ世帯の世帯員ではありません。世帯ごとに届け出ます。",
                )
            )
        if (p.name, p.birth_date, p.sex) != (m.name, m.birth_date, m.sex):
            out.append(
                warning(
                    where,
                    "mover_mismatch",
                    f"{m.name}: 氏名・生年月日・性別が台帳と異なります。台帳を読み直してください。",
                )
            )
    for person_id in sorted(touched_person_ids(d, register)):
        if person_id not in d.relied_versions:
            out.append(
                error(
                    "relied_versions",
                    "relied_version_missing",
                    f"台帳の版数が記録されていません（{person_id}）。台帳を読み直してください。",
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# 届出人, 本人確認


def check_filer(d: NotificationDraft, register: Register, today: date) -> list[Finding]:
    out: list[Finding] = []
    f = d.filer
    if not f.name.strip():
        out.append(error("filer.name", "filer_missing", "届出人の氏名を入力してください。"))
    keys = {m.key for m in d.movers}
    names = {m.name.replace("\u3000", " ").strip() for m in d.movers}
    source = register.household(d.source_household_id)
    if f.kind == FilerKind.SELF:
        is_mover = f.person_id in keys if f.person_id else f.name.replace("\u3000", " ") in names
        if not is_mover:
            out.append(
                error(
                    "filer.kind",
                    "filer_not_self",
                    "「本人」として届け出る方が異動者の中にいません。",
                    "住基法第22条〜第25条",
                )
            )
    elif f.kind == FilerKind.HEAD:
        # The head of the movers' household, before (source) or after (their plan).
        heads = {
            r.key
            for p in d.households
            if keys & {r.key for r in p.roles}
            for r in p.roles
            if r.relationship == HEAD
        }
        if source is not None:
            heads.add(source.head_person_id)
        if f.person_id is None or f.person_id not in heads:
            out.append(
                error(
                    "filer.kind",
                    "filer_not_head",
                    "「世帯主」として届け出る方が、異動者の世帯の世帯主ではありません。",
                    "住基法第26条第1項",
                )
            )
    elif f.kind == FilerKind.MEMBER:
        members = (
            {p.person_id for p in source.members if p.status == "resident"} if source else set()
        )
        if f.person_id is None or f.person_id not in members:
            out.append(
                error(
                    "filer.kind",
                    "filer_not_member",
                    "「世帯員」として届け出る方が、異動者の世帯の世帯員ではありません。"
                    "それ以外の方は委任状を持つ代理人として受け付けます。",
                    "住基法第27条第3項",
                )
            )
    elif not f.power_of_attorney:
        what = "委任状" if f.kind == FilerKind.PROXY else "法定代理人であることを示す書類"
        out.append(
            error(
                "filer.power_of_attorney",
                "filer_no_attorney",
                f"{what}を確認してください。",
                "住基法第27条第3項",
            )
        )
    if f.person_id is not None:
        for person_id in sorted(touched_person_ids(d, register)):
            p = register.person(person_id)
            sm = p.support_measure if p else None
            if sm is not None and sm.active_on(today) and f.person_id in sm.perpetrator_person_ids:
                out.append(
                    error(
                        "filer",
                        "filer_perpetrator",
                        "この届出人は支援措置の加害者として登録されています。"
                        "届出を受け付けず、上長に連絡してください（理由は伝えません）。",
                        "住民基本台帳事務における支援措置",
                    )
                )
                break
    return out


def check_identity(d: NotificationDraft) -> list[Finding]:
    docs = set(d.identity_documents)
    if docs & PHOTO_DOCUMENTS or len(docs) >= 2:
        return []
    return [
        error(
            "identity_documents",
            "identity_insufficient",
            "届出人の本人確認書類が足りません（顔写真付きの書類1点、またはそれ以外の書類2点）。",
            "住基法第27条第2項",
        )
    ]


# ---------------------------------------------------------------------------------------------
# 支援措置


def check_support_measures(d: NotificationDraft, register: Register, today: date) -> list[Finding]:
    out: list[Finding] = []
    for person_id in sorted(touched_person_ids(d, register)):
        p = register.person(person_id)
        if p is not None and p.is_protected_on(today):
            where = next(
                (f"movers[{i}]" for i, m in enumerate(d.movers) if m.key == person_id),
                "households",
            )
            out.append(
                warning(
                    where,
                    "support_measure",
                    f"支援措置の対象者です（{p.name}）。新しい住所を口頭で確認しない、"
                    "届書の控えを渡す相手に注意するなど取扱いに注意し、上長に報告してください。",
                    "住民基本台帳事務における支援措置",
                )
            )
    return out


__all__ = [
    "CheckContext",
    "Finding",
    "Severity",
    "check",
    "check_addresses",
    "check_certificate",
    "check_dates",
    "check_filer",
    "check_identity",
    "check_movers",
    "check_support_measures",
]
