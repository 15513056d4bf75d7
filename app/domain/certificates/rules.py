"""住民票の写し: who may have which items, decided from the request (the law as a pure function).

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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from app.domain.records import Household, Person


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
