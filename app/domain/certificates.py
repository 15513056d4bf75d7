"""住民票の写し: who may have which items, and the print model built from that decision.

The rules are those of 住民基本台帳法 as DESIGN.md §6 states them:

- §12 (本人・同一世帯員, and a 代理人 acting with a 委任状 for them): every item may be asked for.
  続柄, 本籍・筆頭者, 住民票コード, 個人番号 (and 在留カード等の番号) are left out
  unless asked for.
- §12の2 (国・地方公共団体) and §12の3 (第三者, 請求事由 required): never 住民票コード or 個人番号;
  beyond the 基礎証明事項 (氏名, 生年月日, 性別, 住所, and 旧氏・通称) an item is printed only when
  it is asked for and the stated purpose needs it (the clerk marks it `justified_items`).
- §12の4 (広域交付, by 本人 or 同一世帯員 with a 個人番号カード): 本籍・筆頭者 never; 続柄,
  個人番号, 住民票コード only on explicit request.
- 支援措置: a request concerning a protected person stops until a supervisor approves it; a
  request by a registered 加害者 is refused (without telling the requester why).
- 除票 (removed persons) are certified as 住民票の除票の写し, individual form only.

Pure: no I/O. Everything that reaches the resident or the clerk is Japanese; ids only in errors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from app.domain.errors import DomainError
from app.domain.records import Household, Person
from app.domain.wareki import format_date


class RequesterKind(StrEnum):
    SELF = "self"  # 本人 (§12)
    HOUSEHOLD_MEMBER = "household_member"  # 同一世帯員 (§12)
    PROXY = "proxy"  # 代理人, with a 委任状 (§12)
    PUBLIC_BODY = "public_body"  # 国・地方公共団体の機関 (§12の2)
    THIRD_PARTY = "third_party"  # 第三者 with a 請求事由 (§12の3)
    WIDE_AREA = "wide_area"  # 広域交付 (§12の4)


REQUESTER_LABELS: dict[RequesterKind, str] = {
    RequesterKind.SELF: "本人",
    RequesterKind.HOUSEHOLD_MEMBER: "同一世帯員",
    RequesterKind.PROXY: "代理人",
    RequesterKind.PUBLIC_BODY: "国・地方公共団体",
    RequesterKind.THIRD_PARTY: "第三者",
    RequesterKind.WIDE_AREA: "広域交付",
}

# Requests under §12 (the resident's own side): the only ones that may carry the numbers.
OWN_SIDE: frozenset[RequesterKind] = frozenset(
    {RequesterKind.SELF, RequesterKind.HOUSEHOLD_MEMBER, RequesterKind.PROXY}
)


class IdentityDocument(StrEnum):
    """本人確認書類 presented at the counter."""

    MY_NUMBER_CARD = "my_number_card"
    JUKI_CARD = "juki_card"
    DRIVERS_LICENSE = "drivers_license"
    PASSPORT = "passport"
    RESIDENCE_CARD = "residence_card"
    STAFF_ID = "staff_id"  # 職員の身分証明書 (公用請求)
    HEALTH_INSURANCE = "health_insurance"
    PENSION_BOOK = "pension_book"
    OTHER_NON_PHOTO = "other_non_photo"


IDENTITY_LABELS: dict[IdentityDocument, str] = {
    IdentityDocument.MY_NUMBER_CARD: "個人番号カード",
    IdentityDocument.JUKI_CARD: "住民基本台帳カード（写真付き）",
    IdentityDocument.DRIVERS_LICENSE: "運転免許証",
    IdentityDocument.PASSPORT: "旅券",
    IdentityDocument.RESIDENCE_CARD: "在留カード・特別永住者証明書",
    IdentityDocument.STAFF_ID: "職員の身分証明書",
    IdentityDocument.HEALTH_INSURANCE: "健康保険の資格確認書等",
    IdentityDocument.PENSION_BOOK: "年金手帳等",
    IdentityDocument.OTHER_NON_PHOTO: "その他の書類（写真なし）",
}

# One of these suffices; otherwise two documents without a photo are needed.
PHOTO_DOCUMENTS: frozenset[IdentityDocument] = frozenset(
    {
        IdentityDocument.MY_NUMBER_CARD,
        IdentityDocument.JUKI_CARD,
        IdentityDocument.DRIVERS_LICENSE,
        IdentityDocument.PASSPORT,
        IdentityDocument.RESIDENCE_CARD,
        IdentityDocument.STAFF_ID,
    }
)
# §12の4: a photo document of the resident (個人番号カード, 運転免許証, 旅券 ...), never two
# documents without a photo.
WIDE_AREA_DOCUMENTS: frozenset[IdentityDocument] = PHOTO_DOCUMENTS - {IdentityDocument.STAFF_ID}


class Item(StrEnum):
    """Items beyond 氏名・生年月日・性別・住所, which every 写し carries."""

    RELATIONSHIP = "relationship"  # 世帯主との続柄
    HEAD_NAME = "head_name"  # 世帯主の氏名
    HONSEKI = "honseki"  # 本籍・筆頭者
    JUMINHYO_CODE = "juminhyo_code"  # 住民票コード
    MY_NUMBER = "my_number"  # 個人番号
    PREVIOUS_ADDRESS = "previous_address"  # 前住所 (転入前住所)
    DATES = "dates"  # 住民となった年月日, 住所を定めた年月日・届出日
    FORMER_NAME = "former_name"  # 旧氏
    ALIAS = "alias"  # 通称
    FOREIGN_STATUS = "foreign_status"  # 国籍・地域, 法第30条の45区分, 在留資格, 在留期間
    RESIDENCE_CARD_NUMBER = "residence_card_number"  # 在留カード等の番号
    HISTORY = "history"  # 記事


ITEM_LABELS: dict[Item, str] = {
    Item.RELATIONSHIP: "続柄",
    Item.HEAD_NAME: "世帯主氏名",
    Item.HONSEKI: "本籍・筆頭者",
    Item.JUMINHYO_CODE: "住民票コード",
    Item.MY_NUMBER: "個人番号",
    Item.PREVIOUS_ADDRESS: "前住所",
    Item.DATES: "住民となった年月日・住所を定めた年月日",
    Item.FORMER_NAME: "旧氏",
    Item.ALIAS: "通称",
    Item.FOREIGN_STATUS: "国籍・地域・在留資格等",
    Item.RESIDENCE_CARD_NUMBER: "在留カード等の番号",
    Item.HISTORY: "記事",
}

# 基礎証明事項 beyond the four always printed (施行令: 旧氏, 通称): printed for every kind.
BASIC_ITEMS: frozenset[Item] = frozenset({Item.FORMER_NAME, Item.ALIAS})
# §12: left out unless asked for explicitly.
EXPLICIT_ITEMS: frozenset[Item] = frozenset(
    {
        Item.RELATIONSHIP,
        Item.HONSEKI,
        Item.JUMINHYO_CODE,
        Item.MY_NUMBER,
        Item.RESIDENCE_CARD_NUMBER,
    }
)
NUMBER_ITEMS: frozenset[Item] = frozenset({Item.JUMINHYO_CODE, Item.MY_NUMBER})
# §12の4: never on a 広域交付住民票 (本籍・筆頭者, and the 記事 of moves within the town).
WIDE_AREA_NEVER: frozenset[Item] = frozenset({Item.HONSEKI, Item.HISTORY})


class FormKind(StrEnum):
    HOUSEHOLD = "household"  # 世帯連記式
    INDIVIDUAL = "individual"  # 個人票
    REMOVED = "removed"  # 住民票の除票の写し (個人票)


FORM_TITLES: dict[FormKind, str] = {
    FormKind.HOUSEHOLD: "住民票の写し",
    FormKind.INDIVIDUAL: "住民票の写し",
    FormKind.REMOVED: "住民票の除票の写し",
}
CERTIFICATION_TEXT: dict[FormKind, str] = {
    FormKind.HOUSEHOLD: "この写しは、住民票の原本と相違ないことを証明する。",
    FormKind.INDIVIDUAL: "この写しは、住民票の原本と相違ないことを証明する。",
    FormKind.REMOVED: "この写しは、住民票の除票の原本と相違ないことを証明する。",
}
ENDING_TEXT = "以下余白"
PERSONS_PER_SHEET = 4
# How much one sheet holds, in standard rows (a 氏名 row counts 1.5, the gap between persons
# 0.5). Budgeted for a sheet that also carries the 認証文; the renderer shrinks a sheet that
# still does not fit (a single person with a very long 記事) rather than cut anything.
SHEET_ROW_BUDGET = 42.0
DEFAULT_FEE_YEN = 300
MAX_COPIES = 20


@dataclass(frozen=True, slots=True)
class CertificateRequest:
    requester_kind: RequesterKind
    identity_documents: tuple[IdentityDocument, ...] = ()
    # None = 世帯全員 (the members who are residents); otherwise the chosen persons.
    person_ids: tuple[str, ...] | None = None
    items: frozenset[Item] = frozenset()
    # 第三者・国等: the asked items that the stated purpose needs (the clerk judges and marks).
    justified_items: frozenset[Item] = frozenset()
    purpose: str | None = None  # 請求事由 (第三者) / 法令上の根拠・事務 (国・地方公共団体)
    has_power_of_attorney: bool = False  # 委任状 (代理人)
    form: FormKind = FormKind.HOUSEHOLD  # household or individual; 除票 forces REMOVED
    copies: int = 1


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    needs_supervisor: bool
    # Read to the resident, in order. A refusal to a 加害者 never mentions 支援措置.
    reasons: tuple[str, ...]
    # Shown only on the clerk's screen (支援措置 warnings, what to do next).
    screen_text: str = ""
    form: FormKind = FormKind.HOUSEHOLD
    person_ids: tuple[str, ...] = ()
    items: Mapping[str, frozenset[Item]] = field(default_factory=dict)
    omitted: tuple[str, ...] = ()
    copies: int = 1
    certificates: int = 0  # 通数 per copy: 1 for 世帯連記式, one per person for 個人票
    fee_yen: int = 0
    deliver_by_mail: bool = False  # 代理人 + numbers: sent to the resident's address
    protected_person_ids: tuple[str, ...] = ()


def _refuse(reasons: Iterable[str], screen_text: str = "") -> Decision:
    return Decision(
        allowed=False, needs_supervisor=False, reasons=tuple(reasons), screen_text=screen_text
    )


def _identity_problem(request: CertificateRequest) -> str | None:
    docs = set(request.identity_documents)
    kind = request.requester_kind
    if kind is RequesterKind.PUBLIC_BODY:
        if IdentityDocument.STAFF_ID not in docs:
            return "公用請求には、請求する職員の身分証明書の提示が必要です。"
        return None
    if kind is RequesterKind.WIDE_AREA:
        if not docs & WIDE_AREA_DOCUMENTS:
            return (
                "広域交付には、個人番号カードや運転免許証など"
                "写真付きの本人確認書類の提示が必要です。"
            )
        return None
    if docs & PHOTO_DOCUMENTS:
        return None
    if len(docs) >= 2:
        return None
    return (
        "本人確認書類が足りません。写真付きの書類1点、または写真のない書類2点を提示してください。"
    )


def _items_for(
    request: CertificateRequest, person: Person, kind: RequesterKind
) -> tuple[frozenset[Item], list[str]]:
    """Items printed for one person under the rules of `kind`, and notes on what was asked
    for but left out."""
    asked = request.items
    notes: list[str] = []
    granted: set[Item] = set()
    for item in Item:
        label = ITEM_LABELS[item]
        if item in BASIC_ITEMS:
            granted.add(item)
            continue
        if kind in OWN_SIDE:
            if item not in EXPLICIT_ITEMS or item in asked:
                granted.add(item)
        elif kind is RequesterKind.WIDE_AREA:
            if item in WIDE_AREA_NEVER:
                if item in asked:
                    notes.append(f"{label}は広域交付の住民票には記載できません。")
            elif item not in EXPLICIT_ITEMS or item in asked:
                granted.add(item)
        else:  # §12の2, §12の3
            if item in NUMBER_ITEMS:
                if item in asked:
                    notes.append(f"{label}は本人または同一世帯員の請求でなければ記載できません。")
            elif item in asked:
                if item in request.justified_items:
                    granted.add(item)
                else:
                    notes.append(f"{label}は請求事由から必要と認められないため省略します。")
    # Items that do not exist for this person are simply not printed.
    if not person.is_foreign:
        granted -= {Item.FOREIGN_STATUS, Item.RESIDENCE_CARD_NUMBER}
    if person.my_number is None:
        granted.discard(Item.MY_NUMBER)
    if person.is_removed and person.removal_reason == "死亡" and granted & NUMBER_ITEMS:
        # The numbers of a deceased person are not certified (番号法; 除票 practice).
        granted -= NUMBER_ITEMS
        notes.append("亡くなった方の個人番号・住民票コードは記載できません。")
    return frozenset(granted), notes


def decide(
    request: CertificateRequest,
    household: Household,
    today: date,
    requester_person_id: str | None = None,
    *,
    fee_per_copy: int = DEFAULT_FEE_YEN,
) -> Decision:
    """Apply §12, §12の2, §12の3, §12の4 and 支援措置 to a request about `household`."""
    kind = request.requester_kind
    label = REQUESTER_LABELS[kind]

    if not 1 <= request.copies <= MAX_COPIES:
        return _refuse([f"通数は1通から{MAX_COPIES}通までです。"])
    problem = _identity_problem(request)
    if problem:
        return _refuse([problem])

    member_ids = {m.person_id for m in household.members}
    if request.person_ids is None:
        persons = [m for m in household.members if not m.is_removed]
        if not persons:
            return _refuse(
                ["この世帯には現在の世帯員がいません。除票の写しは一人ずつ請求してください。"]
            )
    else:
        if not request.person_ids:
            return _refuse(["交付する人が選ばれていません。"])
        unknown = [pid for pid in request.person_ids if pid not in member_ids]
        if unknown:
            return _refuse(["選ばれた人がこの世帯に見つかりません。"])
        chosen = list(dict.fromkeys(request.person_ids))
        persons = [household.member(pid) for pid in chosen]

    removed = [p for p in persons if p.is_removed]
    if removed and len(removed) != len(persons):
        return _refuse(
            ["除票の人と現在の世帯員は同じ写しにできません。除票の写しは別に請求してください。"]
        )
    # 除票 are individual forms only: one certificate per person.
    form = FormKind.REMOVED if removed else request.form
    # The rules the items follow. §15の4: a 除票 is the removed person's own; anyone else,
    # a former 同一世帯員 included, asks as a third party with a stated purpose.
    rule_kind = kind
    if removed:
        if kind is RequesterKind.WIDE_AREA:
            return _refuse(
                ["除票の写しは広域交付できません。住所のあった市区町村に請求してください。"]
            )
        if kind is RequesterKind.PROXY and any(p.removal_reason == "死亡" for p in removed):
            return _refuse(
                [
                    "亡くなった方の委任状による請求はできません（委任は死亡により終わります）。"
                    "第三者として請求事由を記載して請求してください。"
                ]
            )
        if kind is RequesterKind.HOUSEHOLD_MEMBER:
            if not (request.purpose or "").strip():
                return _refuse(
                    [
                        "除票の写しは、本人（またはその代理人）以外の請求には"
                        "請求事由の記載が必要です（元の同一世帯員も同じです）。"
                    ]
                )
            rule_kind = RequesterKind.THIRD_PARTY

    # Who is asking, under which article.
    if kind in (RequesterKind.SELF, RequesterKind.HOUSEHOLD_MEMBER, RequesterKind.WIDE_AREA):
        if requester_person_id is None or requester_person_id not in member_ids:
            return _refuse(
                [f"{label}としての請求ですが、請求者がこの世帯の世帯員であることを確認できません。"]
            )
        if kind is RequesterKind.SELF and requester_person_id not in {p.person_id for p in persons}:
            return _refuse(
                [
                    "本人としての請求では本人の住民票が含まれている必要があります"
                    "（他の世帯員の分は同一世帯員として請求してください）。"
                ]
            )
    elif kind is RequesterKind.PROXY:
        if not request.has_power_of_attorney:
            return _refuse(["代理人による請求には、本人または同一世帯員からの委任状が必要です。"])
    elif kind is RequesterKind.PUBLIC_BODY:
        if not (request.purpose or "").strip():
            return _refuse(["公用請求には、法令上の根拠と請求の事務を記載してください。"])
    elif kind is RequesterKind.THIRD_PARTY and not (request.purpose or "").strip():
        return _refuse(["第三者による請求には、請求事由（利用の目的）の記載が必要です。"])

    # 支援措置
    protected = [p for p in persons if p.is_protected_on(today)]
    if requester_person_id is not None:
        for p in protected:
            assert p.support_measure is not None
            if requester_person_id in p.support_measure.perpetrator_person_ids:
                return _refuse(
                    ["この請求には、住民基本台帳法の規定により応じることができません。"],
                    screen_text=(
                        "支援措置の対象者について、登録された加害者からの請求です。"
                        "交付しないでください。理由は請求者に伝えず、監督者に報告してください。"
                    ),
                )

    items: dict[str, frozenset[Item]] = {}
    omitted: list[str] = []
    for p in persons:
        granted, notes = _items_for(request, p, rule_kind)
        items[p.person_id] = granted
        for note in notes:
            if note not in omitted:
                omitted.append(note)

    reasons: list[str] = []
    certificates = 1 if form is FormKind.HOUSEHOLD else len(persons)
    title = FORM_TITLES[form]
    who = "世帯全員" if request.person_ids is None else f"{len(persons)}人"
    form_label = "世帯連記式" if form is FormKind.HOUSEHOLD else "個人票"
    reasons.append(
        f"{label}の請求として、{who}の{title}（{form_label}）を"
        f"{certificates * request.copies}通交付できます。"
    )
    if removed:
        reasons.append("除票の人は、住民票の除票の写し（個人票）として交付します。")
    reasons.extend(omitted)

    if rule_kind is not kind:
        reasons.append("除票の写しのため、請求事由に必要な項目だけを記載します。")

    deliver_by_mail = kind is RequesterKind.PROXY and any(
        items[p.person_id] & NUMBER_ITEMS for p in persons
    )
    if deliver_by_mail:
        reasons.append(
            "代理人による請求のため、個人番号または住民票コードの入った写しは"
            "本人の住所あてに郵送します。"
        )

    # 公用請求 is free of charge (手数料条例の例).
    fee = 0 if kind is RequesterKind.PUBLIC_BODY else fee_per_copy * certificates * request.copies
    reasons.append(f"手数料は{fee:,}円です。" if fee else "手数料はかかりません（公用）。")

    screen_text = ""
    needs_supervisor = bool(protected)
    if protected:
        screen_text = (
            f"支援措置の対象者が{len(protected)}人含まれています。"
            "監督者の承認と理由の記録がなければ交付できません。"
            "請求者の本人確認と請求の目的を改めて確認してください。"
        )
        reasons.append("確認に時間がかかりますので、しばらくお待ちください。")

    return Decision(
        allowed=True,
        needs_supervisor=needs_supervisor,
        reasons=tuple(reasons),
        screen_text=screen_text,
        form=form,
        person_ids=tuple(p.person_id for p in persons),
        items=items,
        omitted=tuple(omitted),
        copies=request.copies,
        certificates=certificates,
        fee_yen=fee,
        deliver_by_mail=deliver_by_mail,
        protected_person_ids=tuple(p.person_id for p in protected),
    )


# ---------------------------------------------------------------------------------------------
# The print model


@dataclass(frozen=True, slots=True)
class Municipality:
    name: str
    mayor_title: str
    mayor_name: str


DEMO_MUNICIPALITY = Municipality(name="北見市", mayor_title="北見市長", mayor_name="窓口　太郎")


@dataclass(frozen=True, slots=True)
class Cell:
    """One printed field. `person_id` names whose data it is (for MissingGlyph messages)."""

    label: str
    value: str
    person_id: str | None = None
    name: bool = False  # printed larger (氏名)


@dataclass(frozen=True, slots=True)
class PersonBlock:
    person_id: str
    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True, slots=True)
class Sheet:
    number: int  # 1-based
    header: tuple[Cell, ...]
    blocks: tuple[PersonBlock, ...]
    certified: bool  # carries 以下余白, 認証文, date and mayor


@dataclass(frozen=True, slots=True)
class CertificateDocument:
    title: str
    form: FormKind
    issuance_no: str
    terminal_no: str
    issued_on: date
    issued_on_text: str
    sheets: tuple[Sheet, ...]
    ending: str
    certification: str
    municipality: Municipality
    fee_yen: int
    copies: int
    person_versions: tuple[tuple[str, int], ...]

    @property
    def sheet_count(self) -> int:
        return len(self.sheets)


def format_wareki(day: date | None) -> str:
    """和暦 date (app.domain.wareki.format_date); empty for a missing date."""
    return "" if day is None else format_date(day)


_SEX_LABELS = {"male": "男", "female": "女"}
_HISTORY_WRAP = 38  # characters per 記事 line (full width at the form's size)


def _wrap(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)] or [""]


def _date_with_report(on: date | None, reported: date | None) -> str:
    text = format_wareki(on)
    if reported is not None:
        text += f"（{format_wareki(reported)}届出）"
    return text


def _person_block(
    person: Person, household: Household, items: frozenset[Item], form: FormKind
) -> PersonBlock:
    pid = person.person_id
    rows: list[tuple[Cell, ...]] = []
    rows.append((Cell("フリガナ", person.name_kana, pid),))
    rows.append((Cell("氏名", person.name, pid, name=True),))
    relationship = person.relationship if Item.RELATIONSHIP in items else ""
    rows.append(
        (
            Cell("生年月日", format_wareki(person.birth_date), pid),
            Cell("性別", _SEX_LABELS[person.sex], pid),
            Cell("続柄", relationship, pid),
        )
    )
    extra: list[Cell] = []
    if Item.FORMER_NAME in items and person.former_name:
        extra.append(Cell("旧氏", person.former_name, pid, name=True))
    if Item.ALIAS in items and person.alias:
        extra.append(Cell("通称", person.alias, pid, name=True))
    if extra:
        rows.append(tuple(extra))
    if Item.HEAD_NAME in items and form is not FormKind.HOUSEHOLD:
        # On the 世帯連記式 the 世帯主 is printed once, in the sheet header.
        rows.append((Cell("世帯主", household.head.name, household.head_person_id, name=True),))
    if Item.DATES in items:
        rows.append(
            (
                Cell(
                    "住民となった年月日",
                    _date_with_report(person.became_resident_on, None),
                    pid,
                ),
                Cell(
                    "住所を定めた年月日",
                    _date_with_report(person.address_set_on, person.address_set_reported_on),
                    pid,
                ),
            )
        )
    if Item.PREVIOUS_ADDRESS in items and person.previous_address:
        rows.append((Cell("転入前住所", person.previous_address, pid),))
    if Item.HONSEKI in items and (person.honseki or person.hittosha):
        # Foreign residents have no 本籍: the row is left out rather than printed empty.
        rows.append(
            (
                Cell("本籍", person.honseki or "", pid),
                Cell("筆頭者", person.hittosha or "", pid, name=True),
            )
        )
    numbers: list[Cell] = []
    if Item.JUMINHYO_CODE in items:
        numbers.append(Cell("住民票コード", person.juminhyo_code, pid))
    if Item.MY_NUMBER in items and person.my_number:
        numbers.append(Cell("個人番号", person.my_number, pid))
    if numbers:
        rows.append(tuple(numbers))
    if Item.FOREIGN_STATUS in items and person.is_foreign:
        rows.append(
            (
                Cell("国籍・地域", person.nationality or "", pid),
                Cell("法第30条の45区分", person.article_30_45 or "", pid),
            )
        )
        rows.append(
            (
                Cell("在留資格", person.residence_status or "", pid),
                Cell("在留期間の満了日", format_wareki(person.period_of_stay_until), pid),
            )
        )
    if Item.RESIDENCE_CARD_NUMBER in items and person.residence_card_number:
        rows.append((Cell("在留カード等の番号", person.residence_card_number, pid),))
    if form is FormKind.REMOVED:
        rows.append(
            (
                Cell("消除年月日", format_wareki(person.removed_on), pid),
                Cell("消除事由", person.removal_reason or "", pid),
            )
        )
        if person.moved_out_to:
            rows.append((Cell("転出先", person.moved_out_to, pid),))
    if Item.HISTORY in items:
        for entry in person.history:
            text = f"{format_wareki(entry.date)}　{entry.kind}"
            if entry.note:
                text += f"　{entry.note}"
            for i, line in enumerate(_wrap(text, _HISTORY_WRAP)):
                rows.append((Cell("記事" if i == 0 else "", line, pid),))
    return PersonBlock(person_id=pid, rows=tuple(rows))


def block_rows(block: PersonBlock) -> float:
    """The room a person takes on a sheet, in standard rows (see SHEET_ROW_BUDGET)."""
    units = 0.5
    for row in block.rows:
        units += 1.5 if len(row) == 1 and row[0].name else 1.0
    return units


def paginate(blocks: list[PersonBlock]) -> list[list[PersonBlock]]:
    """世帯連記式 sheets: up to 4 persons each, fewer when their rows would not fit."""
    sheets: list[list[PersonBlock]] = []
    current: list[PersonBlock] = []
    used = 0.0
    for block in blocks:
        need = block_rows(block)
        if current and (len(current) == PERSONS_PER_SHEET or used + need > SHEET_ROW_BUDGET):
            sheets.append(current)
            current, used = [], 0.0
        current.append(block)
        used += need
    if current:
        sheets.append(current)
    return sheets


class CertificateError(DomainError):
    """A print model cannot be built (the decision does not allow it)."""


class MissingGlyph(CertificateError):
    """A character (or variation sequence) that no configured font has: issuance stops.

    `character` is given as code points ("U+9F8D U+E0100"), never as the name it belongs to.
    """

    def __init__(self, character: str, person_id: str | None) -> None:
        who = f"（個人ID: {person_id}）" if person_id else ""
        super().__init__(
            f"文字 {character} を印刷できるフォントがありません{who}。"
            "証明書は交付できません。外字の登録を担当者に依頼してください。"
        )
        self.character = character
        self.person_id = person_id


def build_document(
    request: CertificateRequest,
    decision: Decision,
    household: Household,
    *,
    issuance_no: str,
    terminal_no: str,
    issued_on: date,
    municipality: Municipality = DEMO_MUNICIPALITY,
) -> CertificateDocument:
    """The print model of an allowed decision: sheets, rows, ending, 認証文, 和暦 date, fee."""
    if not decision.allowed:
        raise CertificateError("交付が認められていない請求からは証明書を作れません。")
    persons = [household.member(pid) for pid in decision.person_ids]
    form = decision.form
    address = household.address + (f"　{household.katagaki}" if household.katagaki else "")
    blocks = [_person_block(p, household, decision.items[p.person_id], form) for p in persons]

    header: list[Cell] = [Cell("住所", address)]
    if form is FormKind.HOUSEHOLD and any(
        Item.HEAD_NAME in decision.items[pid] for pid in decision.person_ids
    ):
        header.append(Cell("世帯主", household.head.name, household.head_person_id, name=True))

    sheets: list[Sheet] = []
    if form is FormKind.HOUSEHOLD:
        chunks = paginate(blocks)
        for n, chunk in enumerate(chunks, start=1):
            sheets.append(Sheet(n, tuple(header), tuple(chunk), certified=n == len(chunks)))
    else:
        # 個人票 and 除票: each person is a certificate of its own.
        for n, block in enumerate(blocks, start=1):
            sheets.append(Sheet(n, (Cell("住所", address),), (block,), certified=True))

    return CertificateDocument(
        title=FORM_TITLES[form],
        form=form,
        issuance_no=issuance_no,
        terminal_no=terminal_no,
        issued_on=issued_on,
        issued_on_text=format_wareki(issued_on),
        sheets=tuple(sheets),
        ending=ENDING_TEXT,
        certification=CERTIFICATION_TEXT[form],
        municipality=municipality,
        fee_yen=decision.fee_yen,
        copies=decision.copies,
        person_versions=tuple((p.person_id, p.version) for p in persons),
    )


# ---------------------------------------------------------------------------------------------
# Digest and QR payload


def canonical_text(document: CertificateDocument) -> str:
    """Everything that is printed, one fact per line, in print order (names exactly as stored)."""
    lines = [
        f"title\t{document.title}",
        f"issuance_no\t{document.issuance_no}",
        f"issued_on\t{document.issued_on.isoformat()}",
        f"sheets\t{len(document.sheets)}",
    ]
    for sheet in document.sheets:
        lines.append(f"sheet\t{sheet.number}/{len(document.sheets)}")
        lines.extend(f"header\t{c.label}\t{c.value}" for c in sheet.header)
        for block in sheet.blocks:
            lines.append(f"person\t{block.person_id}")
            for row in block.rows:
                lines.extend(f"cell\t{c.label}\t{c.value}" for c in row)
        if sheet.certified:
            lines.append(f"ending\t{document.ending}")
            lines.append(f"certification\t{document.certification}")
            lines.append(f"date\t{document.issued_on_text}")
            mayor = document.municipality
            lines.append(f"mayor\t{mayor.mayor_title}\t{mayor.mayor_name}")
    return "\n".join(lines) + "\n"


def content_digest(document: CertificateDocument) -> str:
    """SHA-256 (hex) over the canonical text of what is printed."""
    return hashlib.sha256(canonical_text(document).encode("utf-8")).hexdigest()


QR_PREFIX = "MDG1"
_ISSUANCE_RE = re.compile(r"[0-9A-Za-z]{1,16}-[0-9]{8}-[0-9]{1,9}")
_TERMINAL_RE = re.compile(r"[0-9A-Za-z]{1,16}")
_DIGEST_RE = re.compile(r"[0-9a-f]{64}")


class PayloadError(DomainError):
    """A QR payload that is not one of ours or is damaged."""


@dataclass(frozen=True, slots=True)
class QrPayload:
    issuance_no: str
    content_digest: str
    terminal_no: str
    signature: bytes  # empty for samples (見本)

    @property
    def issued_on(self) -> date:
        ymd = self.issuance_no.split("-")[1]
        return date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))

    def signed_bytes(self) -> bytes:
        return signed_bytes(self.issuance_no, self.content_digest, self.terminal_no)


def signed_bytes(issuance_no: str, digest: str, terminal_no: str) -> bytes:
    """What the terminal key signs: the payload without its signature."""
    return f"{QR_PREFIX}|{issuance_no}|{digest}|{terminal_no}".encode("ascii")


def _check_fields(issuance_no: str, digest: str, terminal_no: str) -> None:
    if not _ISSUANCE_RE.fullmatch(issuance_no):
        raise PayloadError("交付番号の形式が正しくありません。")
    if not _DIGEST_RE.fullmatch(digest):
        raise PayloadError("内容の要約値（SHA-256）の形式が正しくありません。")
    if not _TERMINAL_RE.fullmatch(terminal_no):
        raise PayloadError("端末番号の形式が正しくありません。")
    if issuance_no.split("-")[0] != terminal_no:
        raise PayloadError("交付番号と端末番号が一致しません。")
    ymd = issuance_no.split("-")[1]
    try:
        date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
    except ValueError:
        raise PayloadError("交付番号の日付が正しくありません。") from None


def qr_payload(issuance_no: str, content_digest: str, terminal_no: str, signature: bytes) -> str:
    """`MDG1|交付番号|sha256hex|端末番号|base64url(signature)` — ASCII, fits a small QR code."""
    _check_fields(issuance_no, content_digest, terminal_no)
    sig = base64.urlsafe_b64encode(signature).decode("ascii").rstrip("=")
    return f"{signed_bytes(issuance_no, content_digest, terminal_no).decode('ascii')}|{sig}"


def parse_qr_payload(text: str) -> QrPayload:
    parts = text.strip().split("|")
    if len(parts) != 5 or parts[0] != QR_PREFIX:
        raise PayloadError("この証明書のQRコードではありません。")
    _, issuance_no, digest, terminal_no, sig = parts
    _check_fields(issuance_no, digest, terminal_no)
    if not re.fullmatch(r"[A-Za-z0-9_-]*", sig):
        raise PayloadError("署名の形式が正しくありません。")
    try:
        signature = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    except (binascii.Error, ValueError):
        raise PayloadError("署名の形式が正しくありません。") from None
    return QrPayload(issuance_no, digest, terminal_no, signature)
