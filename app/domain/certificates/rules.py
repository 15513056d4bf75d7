"""住民票の写し: who may have which items, decided from the request (the law as a pure function).

Articles of 住民基本台帳法 (docs/certificates.md has the table article → rule → test):
- §7: the items of the 住民票 (`Item`, each with its 号); §30の45 the 外国人住民's items.
- §12 (本人・同一世帯員 and whoever acts for them, 任意代理人 with a 委任状 or 法定代理人):
  every item; §12⑤ leaves out 第4号 (世帯主の氏名及び続柄), 第5号 (本籍), 第8号の2 (個人番号)
  and 第13号 (住民票コード) — and by the 施行令, the 外国人住民's 国籍等 and §30の45 items —
  unless asked for (特別の請求).
- §12の2 (国・地方公共団体の機関): never 第8号の2 and 第13号; 第4号 and 第5号 only if asked.
- §12の3 (本人等以外の者, and 特定事務受任者 for a client): the 基礎証明事項 (第1〜3号, 第7号
  (住所 and 住所を定めた年月日), and 旧氏・通称) only; any other item but the numbers when asked
  for and the purpose needs it (§12の3⑦).
- §12の4 (広域交付, only for a resident of ANOTHER municipality): never 第5号 (and 記事);
  第4号, 第8号の2, 第13号 only if asked.
- §15の4 (除票): ① the person's own (and their 代理人's); ② 国等 as §12の2; ③ third parties get
  the 除票基礎証明事項 (第1〜3号, 第6〜8号, the 消除) and more only as §12の3⑦.
- 支援措置 (app.domain.certificates.protection): a copy that reveals a protected address needs a
  supervisor and a 請求事由; the registered 加害者 gets none.

Pure: no I/O. Everything that reaches the resident or the clerk is Japanese; ids only in errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from app.domain.certificates.protection import (
    Exposure,
    Match,
    ProtectedResident,
    Revealed,
    client_is_perpetrator,
    exposures,
    match_perpetrator,
    protections_of,
)
from app.domain.certificates.requester import (
    ACTING_FOR,
    REQUESTER_LABELS,
    IdentityDocument,
    PersonRef,
    Purpose,
    Requester,
    RequesterKind,
    identity_problem,
    person_problem,
    purpose_problem,
)
from app.domain.records import Household, Person


class Item(StrEnum):
    """The items of §7 (and §30の45) beyond 氏名, 生年月日, 性別 and 住所 (第1〜3号, 第7号)."""

    HEAD_AND_RELATIONSHIP = "head_and_relationship"  # 第4号 世帯主の氏名及び世帯主との続柄
    HONSEKI = "honseki"  # 第5号 戸籍の表示 (本籍・筆頭者)
    BECAME_RESIDENT = "became_resident"  # 第6号 住民となった年月日 (外国人住民となった年月日)
    ADDRESS_SET = "address_set"  # 第7号 住所を定めた年月日
    PREVIOUS_ADDRESS = "previous_address"  # 第8号 届出の年月日及び従前の住所
    MY_NUMBER = "my_number"  # 第8号の2 個人番号
    JUMINHYO_CODE = "juminhyo_code"  # 第13号 住民票コード
    FORMER_NAME = "former_name"  # 第14号 (施行令) 旧氏
    ALIAS = "alias"  # 第14号 (施行令) 通称 (外国人住民)
    NATIONALITY = "nationality"  # §30の45 国籍・地域
    FOREIGN_STATUS = "foreign_status"  # §30の45 表: 区分, 在留資格, 在留期間, 満了の日 ...
    RESIDENCE_CARD_NUMBER = "residence_card_number"  # §30の45 表: 在留カード等の番号
    HISTORY = "history"  # 記事 (異動の事由と年月日)


ITEM_LABELS: dict[Item, str] = {
    Item.HEAD_AND_RELATIONSHIP: "世帯主の氏名及び続柄",
    Item.HONSEKI: "本籍・筆頭者",
    Item.BECAME_RESIDENT: "住民となった年月日",
    Item.ADDRESS_SET: "住所を定めた年月日",
    Item.PREVIOUS_ADDRESS: "届出日・従前の住所",
    Item.MY_NUMBER: "個人番号",
    Item.JUMINHYO_CODE: "住民票コード",
    Item.FORMER_NAME: "旧氏",
    Item.ALIAS: "通称",
    Item.NATIONALITY: "国籍・地域",
    Item.FOREIGN_STATUS: "在留資格・在留期間等（第30条の45区分）",
    Item.RESIDENCE_CARD_NUMBER: "在留カード等の番号",
    Item.HISTORY: "記事",
}

NUMBER_ITEMS: frozenset[Item] = frozenset({Item.JUMINHYO_CODE, Item.MY_NUMBER})
FOREIGN_ITEMS: frozenset[Item] = frozenset(
    {Item.NATIONALITY, Item.FOREIGN_STATUS, Item.RESIDENCE_CARD_NUMBER}
)


class Rule(StrEnum):
    """The article a request is decided under (recorded with the issuance)."""

    OWN = "第12条"
    PUBLIC = "第12条の2"
    THIRD = "第12条の3"
    WIDE_AREA = "第12条の4"
    REMOVED_OWN = "第15条の4第1項"
    REMOVED_PUBLIC = "第15条の4第2項"
    REMOVED_THIRD = "第15条の4第3項"


@dataclass(frozen=True, slots=True)
class ItemOptions:
    """What a rule does with each item (the dialog shows `always` ticked and disabled)."""

    always: frozenset[Item]  # printed whatever is asked (the article does not let it go)
    on_request: frozenset[Item] = frozenset()  # 特別の請求: printed only when asked for
    with_reason: frozenset[Item] = frozenset()  # §12の3⑦: asked for and needed by the purpose
    never: frozenset[Item] = frozenset()


_OWN_ALWAYS = frozenset(
    {
        Item.BECAME_RESIDENT,
        Item.ADDRESS_SET,
        Item.PREVIOUS_ADDRESS,
        Item.FORMER_NAME,
        Item.ALIAS,
        Item.HISTORY,
    }
)
_OWN_ON_REQUEST = frozenset(
    {Item.HEAD_AND_RELATIONSHIP, Item.HONSEKI, *NUMBER_ITEMS, *FOREIGN_ITEMS}
)
# §12の3①: 基礎証明事項 = 第1〜3号, 第7号 (住所 and 住所を定めた年月日), 第14号 of the 施行令.
BASIC_ITEMS: frozenset[Item] = frozenset({Item.ADDRESS_SET, Item.FORMER_NAME, Item.ALIAS})
# §15の4③: 除票基礎証明事項 = 第1〜3号, 第6〜8号 (and the 消除, always printed on a 除票).
REMOVED_BASIC_ITEMS: frozenset[Item] = BASIC_ITEMS | {Item.BECAME_RESIDENT, Item.PREVIOUS_ADDRESS}
_ALL = frozenset(Item)

RULE_ITEMS: dict[Rule, ItemOptions] = {
    Rule.OWN: ItemOptions(always=_OWN_ALWAYS, on_request=_OWN_ON_REQUEST),
    Rule.REMOVED_OWN: ItemOptions(always=_OWN_ALWAYS, on_request=_OWN_ON_REQUEST),
    Rule.PUBLIC: ItemOptions(
        always=_OWN_ALWAYS, on_request=_OWN_ON_REQUEST - NUMBER_ITEMS, never=NUMBER_ITEMS
    ),
    Rule.REMOVED_PUBLIC: ItemOptions(
        always=_OWN_ALWAYS, on_request=_OWN_ON_REQUEST - NUMBER_ITEMS, never=NUMBER_ITEMS
    ),
    Rule.THIRD: ItemOptions(
        always=BASIC_ITEMS, with_reason=_ALL - BASIC_ITEMS - NUMBER_ITEMS, never=NUMBER_ITEMS
    ),
    Rule.REMOVED_THIRD: ItemOptions(
        always=REMOVED_BASIC_ITEMS,
        with_reason=_ALL - REMOVED_BASIC_ITEMS - NUMBER_ITEMS,
        never=NUMBER_ITEMS,
    ),
    # §12の4①: 第5号 is left out (and the 記事 of moves within the town are not transmitted);
    # §12の4④: 第4号, 第8号の2, 第13号 on request. Foreign residents' items as under §12.
    Rule.WIDE_AREA: ItemOptions(
        always=_OWN_ALWAYS - {Item.HISTORY},
        on_request=_OWN_ON_REQUEST - {Item.HONSEKI},
        never=frozenset({Item.HONSEKI, Item.HISTORY}),
    ),
}


def rule_for(kind: RequesterKind, removed: bool) -> Rule:
    if kind is RequesterKind.PUBLIC_BODY:
        return Rule.REMOVED_PUBLIC if removed else Rule.PUBLIC
    if kind is RequesterKind.THIRD_PARTY:
        return Rule.REMOVED_THIRD if removed else Rule.THIRD
    if kind is RequesterKind.WIDE_AREA:
        return Rule.WIDE_AREA
    return Rule.REMOVED_OWN if removed else Rule.OWN


def item_options(kind: RequesterKind, removed: bool = False) -> ItemOptions:
    """For the dialog: which items always print, which are choices, which can never print."""
    return RULE_ITEMS[rule_for(kind, removed)]


class FormKind(StrEnum):
    HOUSEHOLD = "household"  # 世帯連記式
    INDIVIDUAL = "individual"  # 個人票
    REMOVED = "removed"  # 住民票の除票の写し (個人票)


FORM_TITLES: dict[FormKind, str] = {
    FormKind.HOUSEHOLD: "住民票の写し",
    FormKind.INDIVIDUAL: "住民票の写し",
    FormKind.REMOVED: "住民票の除票の写し",
}
# The one home of the forms' names: the layout, for lists and forms ...
FORM_LABELS: dict[FormKind, str] = {
    FormKind.HOUSEHOLD: "世帯連記式",
    FormKind.INDIVIDUAL: "個人票",
    FormKind.REMOVED: "除票（個人票）",
}
# ... and what the 日計表 counts.
REPORT_TITLES: dict[FormKind, str] = {
    FormKind.HOUSEHOLD: "住民票の写し(世帯連記式)",
    FormKind.INDIVIDUAL: "住民票の写し(個人票)",
    FormKind.REMOVED: "住民票の除票の写し",
}
DEFAULT_FEE_YEN = 300
MAX_COPIES = 20


@dataclass(frozen=True, slots=True)
class CertificateRequest:
    requester: Requester
    identity_documents: tuple[IdentityDocument, ...] = ()
    # None = 世帯全員 (the members who are residents); otherwise the chosen persons.
    person_ids: tuple[str, ...] | None = None
    items: frozenset[Item] = frozenset()
    # 第三者 (§12の3⑦): the asked items that the stated purpose needs (the clerk judges).
    justified_items: frozenset[Item] = frozenset()
    purpose: Purpose = field(default_factory=Purpose)
    form: FormKind = FormKind.HOUSEHOLD  # household or individual; 除票 forces REMOVED
    copies: int = 1

    @property
    def requester_kind(self) -> RequesterKind:
        return self.requester.kind


class Delivery(StrEnum):
    COUNTER = "counter"  # 窓口で交付
    MAIL = "mail"  # 郵送 (本人の住所あて)


DELIVERY_LABELS: dict[Delivery, str] = {Delivery.COUNTER: "窓口", Delivery.MAIL: "郵送"}


@dataclass(frozen=True, slots=True)
class MailAddress:
    """Where a mailed copy goes: the subject's address as registered, frozen at issuance."""

    postal_code: str
    address: str
    katagaki: str | None
    addressee: str  # 宛名 (the person whose right was exercised)
    person_id: str

    def lines(self) -> list[str]:
        out = [f"〒{self.postal_code}"] if self.postal_code else []
        out.append(self.address)
        if self.katagaki:
            out.append(self.katagaki)
        out.append(f"{self.addressee}　様")
        return out


@dataclass(frozen=True, slots=True)
class CertificateContext:
    """What the decision needs from beyond the household (the service reads the register)."""

    municipality_code: str | None = None  # this municipality (§12の4 is for others' residents)
    protections: tuple[ProtectedResident, ...] = ()  # every active 支援措置 (and its 加害者)


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
    deliver_by_mail: bool = False  # 任意代理人 + 個人番号: mailed to the subject's address
    mail_to: MailAddress | None = None
    protected_person_ids: tuple[str, ...] = ()
    rule: Rule | None = None

    @property
    def delivery(self) -> Delivery:
        return Delivery.MAIL if self.deliver_by_mail else Delivery.COUNTER


REFUSAL_TO_PERPETRATOR = "この請求には、住民基本台帳法の規定により応じることができません。"


def _refuse(reasons: Iterable[str], screen_text: str = "") -> Decision:
    return Decision(
        allowed=False, needs_supervisor=False, reasons=tuple(reasons), screen_text=screen_text
    )


def _items_for(
    request: CertificateRequest, person: Person, rule: Rule
) -> tuple[frozenset[Item], list[str]]:
    """Items printed for one person under `rule`, and notes on what was asked but left out."""
    options = RULE_ITEMS[rule]
    asked = request.items
    notes: list[str] = []
    granted = set(options.always)
    for item in asked:
        label = ITEM_LABELS[item]
        if item in options.on_request:
            granted.add(item)
        elif item in options.with_reason:
            if item in request.justified_items:
                granted.add(item)
            else:
                notes.append(f"{label}は請求事由から必要と認められないため省略します。")
        elif item in options.never:
            if item in NUMBER_ITEMS:
                notes.append(
                    f"{label}は本人・同一世帯員（その代理人を含む）の請求でなければ記載できません。"
                )
            else:
                notes.append(f"{label}は広域交付の住民票には記載できません。")
    # Items that do not exist for this person are not printed (no label over an empty cell).
    if not person.is_foreign:
        granted -= FOREIGN_ITEMS | {Item.ALIAS}
    else:
        granted.discard(Item.HONSEKI)  # 外国人住民 have no 戸籍 (§30の45: 第5号 excluded)
        if not person.residence_card_number:
            granted.discard(Item.RESIDENCE_CARD_NUMBER)
    if not person.former_name:
        granted.discard(Item.FORMER_NAME)
    if not person.alias:
        granted.discard(Item.ALIAS)
    if not (person.honseki or person.hittosha):
        granted.discard(Item.HONSEKI)
    if person.is_removed and person.removal_reason == "死亡" and granted & NUMBER_ITEMS:
        # The numbers of a deceased person are not certified (番号法; 除票 practice).
        granted -= NUMBER_ITEMS
        notes.append("亡くなった方の個人番号・住民票コードは記載できません。")
    if Item.MY_NUMBER in granted and person.my_number is None:
        # A visible decision, not a lost row: the row prints 「記録なし」.
        notes.append(
            f"{person.name}さんには個人番号の記録がありません"
            "（個人番号の欄に「記録なし」と記載します）。"
        )
    return frozenset(granted), notes


def _printed_address_texts(person: Person, items: frozenset[Item], removed: bool) -> list[str]:
    """Addresses a copy would print beyond the household's: 前住所, 転出先, 記事."""
    texts: list[str] = []
    if Item.PREVIOUS_ADDRESS in items and person.previous_address:
        texts.append(person.previous_address)
    if removed and person.moved_out_to:
        texts.append(person.moved_out_to)
    if Item.HISTORY in items:
        texts.extend(h.note for h in person.history if h.note)
    return texts


def _merge_protections(
    context: CertificateContext, household: Household, today: date
) -> list[ProtectedResident]:
    """The context's measures (with resolved 加害者), plus those recorded in the household."""
    known = {m.person_id: m for m in context.protections if m.until >= today}
    for m in protections_of(household, today):
        if m.person_id not in known:
            known[m.person_id] = m
    return list(known.values())


_REVEALED_TEXT = {
    Revealed.PERSON: "支援措置の対象者の写しです",
    Revealed.ADDRESS: "支援措置の対象者と同じ住所（方書を除く）に登録されている人の写しです",
    Revealed.TEXT: "前住所・転出先・記事に支援措置の対象者の住所が記載される写しです",
}


def _perpetrator_refusal(person: PersonRef, exposed: list[Exposure]) -> Decision | None:
    """The neutral refusal when `person` is the registered 加害者 of a measure the copy exposes;
    the clerk's screen says why."""
    for e in exposed:
        if any(match_perpetrator(person, k) is Match.SAME for k in e.protection.perpetrators):
            return _refuse(
                [REFUSAL_TO_PERPETRATOR],
                screen_text=(
                    "支援措置の対象者の住所が分かる写しを、登録された加害者が請求しています"
                    f"（{_REVEALED_TEXT[e.how]}）。"
                    "交付しないでください。理由は請求者に伝えず、監督者に報告してください。"
                ),
            )
    return None


def decide(
    request: CertificateRequest,
    household: Household,
    today: date,
    context: CertificateContext | None = None,
    *,
    fee_per_copy: int = DEFAULT_FEE_YEN,
) -> Decision:
    """Apply §12, §12の2, §12の3, §12の4, §15の4 and 支援措置 to a request about `household`."""
    context = context or CertificateContext()
    requester = request.requester
    kind = requester.kind
    label = REQUESTER_LABELS[kind]

    if not 1 <= request.copies <= MAX_COPIES:
        return _refuse([f"通数は1通から{MAX_COPIES}通までです。"])
    by_id = {m.person_id: m for m in household.members}
    protections = _merge_protections(context, household, today)
    if requester.person is not None:
        # The 加害者 is recognised before anything else is answered (no coaching, and the
        # clerk is told): a copy that certifies a protected person or their 住所. The printed
        # 前住所・記事 are checked once the items are known.
        asked = (
            [m for m in household.members if not m.is_removed]
            if request.person_ids is None
            else [by_id[pid] for pid in request.person_ids if pid in by_id]
        )
        refusal = _perpetrator_refusal(
            requester.person, exposures(protections, household, asked, [])
        )
        if refusal is not None:
            return refusal
    problem = identity_problem(requester, request.identity_documents)
    if problem:
        return _refuse([problem])
    problem = person_problem(requester)
    if problem:
        return _refuse([problem])

    current_ids = {m.person_id for m in household.members if not m.is_removed}
    if request.person_ids is None:
        persons = [m for m in household.members if not m.is_removed]
        if not persons:
            return _refuse(
                ["この世帯には現在の世帯員がいません。除票の写しは一人ずつ請求してください。"]
            )
    else:
        if not request.person_ids:
            return _refuse(["交付する人が選ばれていません。"])
        if any(pid not in by_id for pid in request.person_ids):
            return _refuse(["選ばれた人がこの世帯に見つかりません。"])
        persons = [by_id[pid] for pid in dict.fromkeys(request.person_ids)]
    removed = [p for p in persons if p.is_removed]
    if removed and len(removed) != len(persons):
        return _refuse(
            ["除票の人と現在の世帯員は同じ写しにできません。除票の写しは別に請求してください。"]
        )
    # 除票 are individual forms only: one certificate per person.
    form = FormKind.REMOVED if removed else request.form
    subject_ids = {p.person_id for p in persons}

    # Who may ask, under which article.
    requester_id = requester.person_id
    if kind is RequesterKind.WIDE_AREA:
        if removed:
            return _refuse(
                ["除票の写しは広域交付できません。住所のあった市区町村に請求してください。"]
            )
        if context.municipality_code and household.municipality_code == (context.municipality_code):
            return _refuse(
                [
                    "この市の住民の方の請求は広域交付ではありません。"
                    "本人または同一世帯員として請求してください。"
                ]
            )
    if removed and kind is RequesterKind.HOUSEHOLD_MEMBER:
        return _refuse(
            [
                "除票の写しは本人（またはその代理人）のほかは、"
                "第三者として請求事由を記載して請求してください（元の同一世帯員も同じです）。"
            ]
        )
    if kind in (RequesterKind.SELF, RequesterKind.HOUSEHOLD_MEMBER, RequesterKind.WIDE_AREA):
        if removed:  # §15の4①: only the person whose 除票 it is
            if requester_id not in subject_ids or len(subject_ids) != 1:
                return _refuse(
                    ["除票の写しは、除票に記載されている本人の分だけ本人として請求できます。"]
                )
        elif requester_id not in current_ids:
            who = by_id.get(requester_id or "")
            if who is not None and who.is_removed:
                return _refuse(
                    [
                        "請求者はこの世帯から除かれているため、同一世帯員ではありません。"
                        "第三者として請求事由を記載して請求してください。"
                    ]
                )
            return _refuse(
                [f"{label}としての請求ですが、請求者がこの世帯の世帯員であることを確認できません。"]
            )
        elif kind is RequesterKind.SELF and requester_id not in subject_ids:
            return _refuse(
                [
                    "本人としての請求では本人の住民票が含まれている必要があります"
                    "（他の世帯員の分は同一世帯員として請求してください）。"
                ]
            )
    if kind in ACTING_FOR:
        principal = by_id.get(requester.principal_id or "")
        if principal is None:
            return _refuse(["代理人が誰の代理として請求するのか（委任者・本人）を選んでください。"])
        if removed:
            if principal.person_id not in subject_ids or len(subject_ids) != 1:
                return _refuse(
                    ["除票の写しは、除票に記載されている本人の代理としてだけ請求できます。"]
                )
            if principal.removal_reason == "死亡":
                return _refuse(
                    [
                        "亡くなった方の代理による請求はできません（代理権は死亡により終わります）。"
                        "第三者として請求事由を記載して請求してください。"
                    ]
                )
        elif principal.person_id not in current_ids:
            return _refuse(
                [
                    "代理を頼んだ人（本人）はこの世帯の現在の世帯員ではありません。"
                    "代理人は本人または同一世帯員の代理としてだけ請求できます。"
                ]
            )
    problem = purpose_problem(requester, request.purpose)
    if problem:
        return _refuse([problem])

    rule = rule_for(kind, bool(removed))
    items: dict[str, frozenset[Item]] = {}
    omitted: list[str] = []
    printed_texts: list[str] = []
    for p in persons:
        granted, notes = _items_for(request, p, rule)
        items[p.person_id] = granted
        printed_texts += _printed_address_texts(p, granted, bool(removed))
        omitted += [n for n in notes if n not in omitted]

    # 支援措置: the copy reveals a protected address → supervisor; the 加害者 → nothing.
    exposed = exposures(protections, household, persons, printed_texts)
    possible: list[Exposure] = []
    client_flagged = False
    if exposed and requester.person is not None:
        refusal = _perpetrator_refusal(requester.person, exposed)
        if refusal is not None:
            return refusal
        for e in exposed:
            client_flagged = client_flagged or any(
                client_is_perpetrator(requester.client_name, k) for k in e.protection.perpetrators
            )
            if any(
                match_perpetrator(requester.person, k) is Match.POSSIBLE
                for k in e.protection.perpetrators
            ):
                possible.append(e)
    if exposed and not request.purpose.given:
        # 省令第4条第2項第1号: for a request concerning a DV victim the 請求事由 is required.
        return _refuse(["この請求には請求事由（何に使うのか）の記載が必要です。"])

    reasons: list[str] = []
    certificates = 1 if form is FormKind.HOUSEHOLD else len(persons)
    title = FORM_TITLES[form]
    whom = "世帯全員" if request.person_ids is None else f"{len(persons)}人"
    layout = FORM_LABELS[FormKind.HOUSEHOLD if form is FormKind.HOUSEHOLD else FormKind.INDIVIDUAL]
    reasons.append(
        f"{label}の請求（住民基本台帳法{rule.value}）として、{whom}の{title}（{layout}）を"
        f"{certificates * request.copies}通交付できます。"
    )
    if removed:
        reasons.append("除票の人は、住民票の除票の写し（個人票）として交付します。")
    reasons.extend(omitted)

    # 任意代理人 + 個人番号: never at the counter; mailed to the subject's registered address.
    mail_to = None
    numbered = [p for p in persons if Item.MY_NUMBER in items[p.person_id] and p.my_number]
    deliver_by_mail = kind is RequesterKind.PROXY and bool(numbered)
    if deliver_by_mail:
        principal = by_id[requester.principal_id or ""]
        if removed:
            if principal.removal_reason != "転出" or not principal.moved_out_to:
                return _refuse(
                    [
                        "個人番号入りの除票の写しは、送り先（転出先）が分からないため"
                        "代理人の請求では交付できません。個人番号を省略するか、本人が請求してください。"
                    ]
                )
            mail_to = MailAddress(
                "", principal.moved_out_to, None, principal.name, principal.person_id
            )
        else:
            mail_to = MailAddress(
                household.postal_code,
                household.address,
                household.katagaki,
                principal.name,
                principal.person_id,
            )
        reasons.append(
            "代理人による請求のため、個人番号の入った写しは窓口では渡せません。"
            f"{principal.name}さんの住民票上の住所あてに郵送します。"
        )

    # 公用請求 is free of charge (手数料条例の例).
    fee = 0 if kind is RequesterKind.PUBLIC_BODY else fee_per_copy * certificates * request.copies
    reasons.append(f"手数料は{fee:,}円です。" if fee else "手数料はかかりません（公用）。")

    screen_text = ""
    if exposed:
        lines = [f"{_REVEALED_TEXT[e.how]}（対象者 {e.protection.person_id}）。" for e in exposed]
        lines.append(
            "監督者の承認と理由の記録がなければ交付できません。"
            "請求者の本人確認と請求の目的を改めて確認してください。"
        )
        if possible:
            lines.append(
                "請求者は、登録された加害者と生年月日が同じで、氏名の一部が一致します。"
                "本人確認書類で別人であることを確かめてください。"
            )
        if client_flagged:
            lines.append(
                "依頼者の氏名が、登録された加害者の氏名と一致します。"
                "加害者の代理人による請求であれば交付しないでください。"
            )
        screen_text = "".join(lines)
        reasons.append("確認に時間がかかりますので、しばらくお待ちください。")

    return Decision(
        allowed=True,
        needs_supervisor=bool(exposed),
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
        mail_to=mail_to,
        protected_person_ids=tuple(e.protection.person_id for e in exposed),
        rule=rule,
    )
