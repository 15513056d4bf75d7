"""住民票の写し: the legal table (every requester kind × item), 支援措置, 除票, fees, print
model, digest and QR payload."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import certificates as C
from app.domain.certificates import (
    CertificateContext,
    CertificateRequest,
    FormKind,
    IdentityDocument,
    Item,
    PersonRef,
    Purpose,
    Representation,
    Requester,
    RequesterKind,
    ThirdPartyGround,
    build_document,
    decide,
    rules,
)
from tests.printing import households as H

TODAY = date(2026, 11, 26)
K = RequesterKind
ELSEWHERE = CertificateContext(municipality_code="011002")  # a terminal of another city

# The subjects of the table: a Japanese resident with every item of §7, and a 外国人住民 with
# every item of §30の45 (both in household H0001 of 北見市).
SUBJECT = "P0001"
FOREIGN_SUBJECT = "P0002"


def _table_household():
    h = H.foreign(H.household(4), 2)
    h = H.with_member(h, 2, alias="北見　花子")
    return H.with_member(h, 1, former_name="阮")


def _counter_person(name: str = "窓口　来人") -> PersonRef:
    return PersonRef(name, "北海道網走市南六条東一丁目1番地", date(1980, 5, 5))


def _registered(h, pid: str) -> PersonRef:
    p = h.member(pid)
    return PersonRef(p.name, h.address, p.birth_date, p.person_id)


def requester_for(kind: RequesterKind, h, subject: str = SUBJECT) -> Requester:
    """How each kind of requester identifies itself for a request about `subject`."""
    if kind is K.SELF:
        return Requester(kind, _registered(h, subject))
    if kind in (K.HOUSEHOLD_MEMBER, K.WIDE_AREA):
        return Requester(kind, _registered(h, "P0000"))
    if kind is K.PROXY:
        return Requester(kind, _counter_person(), principal_id=subject, has_power_of_attorney=True)
    if kind is K.LEGAL_REPRESENTATIVE:
        return Requester(
            kind,
            _counter_person("後見　守"),
            principal_id=subject,
            representation=Representation.ADULT_GUARDIAN,
        )
    if kind is K.PUBLIC_BODY:
        return Requester(
            kind, PersonRef("税務　職員"), organization="北見税務署", staff_title="徴収官"
        )
    return Requester(kind, _counter_person("債権　者"), ground=ThirdPartyGround.OWN_RIGHTS)


DOCS: dict[RequesterKind, tuple[IdentityDocument, ...]] = {
    K.SELF: (IdentityDocument.MY_NUMBER_CARD,),
    K.HOUSEHOLD_MEMBER: (IdentityDocument.DRIVERS_LICENSE,),
    K.PROXY: (IdentityDocument.DRIVERS_LICENSE,),
    K.LEGAL_REPRESENTATIVE: (
        IdentityDocument.DRIVERS_LICENSE,
        IdentityDocument.GUARDIANSHIP_REGISTRY,
    ),
    K.PUBLIC_BODY: (IdentityDocument.STAFF_ID,),
    K.THIRD_PARTY: (IdentityDocument.PASSPORT,),
    K.WIDE_AREA: (IdentityDocument.MY_NUMBER_CARD,),
}
PURPOSES: dict[RequesterKind, Purpose] = {
    K.PUBLIC_BODY: Purpose(reason="国税徴収法第141条に基づく滞納処分の調査のため"),
    K.THIRD_PARTY: Purpose(
        ThirdPartyGround.OWN_RIGHTS, "貸金返還請求訴訟の提起のため", "札幌地方裁判所北見支部"
    ),
}
CONTEXT = {K.WIDE_AREA: ELSEWHERE}

T, F = True, False
# §12 (and its 代理人, 法定代理人): 第4号, 第5号, 第8号の2, 第13号 and the §30の45 items only when
# asked for (§12⑤ and the 施行令); everything else always.
OWN = {
    Item.HEAD_AND_RELATIONSHIP: (F, T, T),
    Item.HONSEKI: (F, T, T),
    Item.BECAME_RESIDENT: (T, T, T),
    Item.ADDRESS_SET: (T, T, T),
    Item.PREVIOUS_ADDRESS: (T, T, T),
    Item.MY_NUMBER: (F, T, T),
    Item.JUMINHYO_CODE: (F, T, T),
    Item.FORMER_NAME: (T, T, T),
    Item.ALIAS: (T, T, T),
    Item.NATIONALITY: (F, T, T),
    Item.FOREIGN_STATUS: (F, T, T),
    Item.RESIDENCE_CARD_NUMBER: (F, T, T),
    Item.HISTORY: (T, T, T),
}
# §12の2: never 第8号の2 and 第13号; 第4号・第5号 (and the 外国人住民 items) when asked.
PUBLIC = {**OWN, Item.MY_NUMBER: (F, F, F), Item.JUMINHYO_CODE: (F, F, F)}
# §12の3: the 基礎証明事項 (第1〜3号, 第7号 with 住所を定めた年月日, 旧氏・通称); anything else
# but the numbers when asked for and needed by the purpose (§12の3⑦).
THIRD = {item: (F, F, T) for item in Item} | {
    Item.ADDRESS_SET: (T, T, T),
    Item.FORMER_NAME: (T, T, T),
    Item.ALIAS: (T, T, T),
    Item.MY_NUMBER: (F, F, F),
    Item.JUMINHYO_CODE: (F, F, F),
}
# (not asked, asked without a purpose that needs it, asked and needed) → printed?
EXPECTED: dict[RequesterKind, dict[Item, tuple[bool, bool, bool]]] = {
    K.SELF: OWN,
    K.HOUSEHOLD_MEMBER: OWN,
    K.PROXY: OWN,
    K.LEGAL_REPRESENTATIVE: OWN,
    K.PUBLIC_BODY: PUBLIC,
    K.THIRD_PARTY: THIRD,
    # §12の4: 第5号 never (nor the 記事); 第4号, 第8号の2, 第13号 only on request.
    K.WIDE_AREA: {**OWN, Item.HONSEKI: (F, F, F), Item.HISTORY: (F, F, F)},
}


def _subject_of(item: Item) -> str:
    return FOREIGN_SUBJECT if item in C.FOREIGN_ITEMS or item is Item.ALIAS else SUBJECT


# What each item puts on paper: the text must appear in the print exactly when it is printed.
def _printed_values(h, item: Item) -> str:
    p = h.member(_subject_of(item))
    return {
        Item.HEAD_AND_RELATIONSHIP: f"cell\t続柄\t{p.relationship}",
        Item.HONSEKI: p.honseki or "",
        Item.BECAME_RESIDENT: "cell\t住民となった年月日",
        Item.ADDRESS_SET: "cell\t住所を定めた年月日",
        Item.PREVIOUS_ADDRESS: p.previous_address or "",
        Item.MY_NUMBER: p.my_number or "",
        Item.JUMINHYO_CODE: p.juminhyo_code,
        Item.FORMER_NAME: f"旧氏\t{p.former_name}",
        Item.ALIAS: f"通称\t{p.alias}",
        Item.NATIONALITY: f"国籍・地域\t{p.nationality}",
        Item.FOREIGN_STATUS: f"在留資格\t{p.residence_status}",
        Item.RESIDENCE_CARD_NUMBER: p.residence_card_number or "",
        Item.HISTORY: "札幌市中央区から転入",
    }[item]


def _request(
    kind: RequesterKind, items=frozenset(), justified=frozenset(), *, h=None, subject=SUBJECT, **kw
) -> CertificateRequest:
    h = h or _table_household()
    return CertificateRequest(
        requester=requester_for(kind, h, subject),
        identity_documents=DOCS[kind],
        person_ids=(subject,),
        items=frozenset(items),
        justified_items=frozenset(justified),
        purpose=PURPOSES.get(kind, Purpose()),
        **kw,
    )


def _decide(request: CertificateRequest, h, today: date = TODAY):
    return decide(request, h, today, CONTEXT.get(request.requester_kind))


def _text(request, decision, h) -> str:
    doc = build_document(
        request, decision, h, issuance_no="T01-20261126-1", terminal_no="T01", issued_on=TODAY
    )
    return C.canonical_text(doc)


CASES = [(k, i, mode) for k in RequesterKind for i in Item for mode in range(3)]


@pytest.mark.parametrize(("kind", "item", "mode"), CASES, ids=[f"{k}-{i}-{m}" for k, i, m in CASES])
def test_legal_table(kind: RequesterKind, item: Item, mode: int) -> None:
    h = _table_household()
    subject = _subject_of(item)
    asked = {item} if mode >= 1 else set()
    justified = {item} if mode == 2 else set()
    request = _request(kind, asked, justified, h=h, subject=subject)
    decision = _decide(request, h)
    assert decision.allowed, decision.reasons
    expected = EXPECTED[kind][item][mode]
    assert (item in decision.items[subject]) is expected
    # The print model follows the decision.
    assert (_printed_values(h, item) in _text(request, decision, h)) is expected
    if mode >= 1 and not expected:
        # Asked for but refused: the resident is told why.
        assert any(C.ITEM_LABELS[item] in r for r in decision.reasons)


def test_item_options_match_the_table() -> None:
    """The dialog's ticked-and-disabled items are exactly what the table prints unasked."""
    for kind in RequesterKind:
        options = C.item_options(kind)
        always = {i for i, modes in EXPECTED[kind].items() if modes[0]}
        assert options.always == always, kind
        choices = options.on_request | options.with_reason
        assert choices == {i for i, m in EXPECTED[kind].items() if not m[0] and m[2]}, kind
        assert options.never == {i for i, m in EXPECTED[kind].items() if not any(m)}, kind


def test_basic_items_always_printed() -> None:
    h = _table_household()
    for kind in RequesterKind:
        request = _request(kind, h=h)
        text = _text(request, _decide(request, h), h)
        p = h.member(SUBJECT)
        for value in (p.name, C.format_wareki(p.birth_date), "性別\t女", h.address):
            assert value in text, (kind, value)


def test_identity_documents() -> None:
    h = H.household(2)
    for kind in RequesterKind:
        r = replace(_request(kind, h=h), identity_documents=())
        d = decide(r, h, TODAY, CONTEXT.get(kind))
        assert not d.allowed and "提示" in d.reasons[0]
    two = (IdentityDocument.HEALTH_INSURANCE, IdentityDocument.PENSION_BOOK)
    assert _decide(replace(_request(K.SELF, h=h), identity_documents=two), h).allowed
    one = (IdentityDocument.HEALTH_INSURANCE,)
    assert not _decide(replace(_request(K.SELF, h=h), identity_documents=one), h).allowed
    # An authority document is no 本人確認.
    proof_only = (IdentityDocument.HEALTH_INSURANCE, IdentityDocument.FAMILY_REGISTER)
    assert not _decide(replace(_request(K.SELF, h=h), identity_documents=proof_only), h).allowed
    # 広域交付 needs a photo document; two without a photo are not enough.
    lic = (IdentityDocument.DRIVERS_LICENSE,)
    assert _decide(replace(_request(K.WIDE_AREA, h=h), identity_documents=lic), h).allowed
    assert not _decide(replace(_request(K.WIDE_AREA, h=h), identity_documents=two), h).allowed
    # 公用請求 needs the staff card.
    assert not _decide(replace(_request(K.PUBLIC_BODY, h=h), identity_documents=lic), h).allowed


def test_purpose_and_power_of_attorney_required() -> None:
    h = H.household(2)
    d = _decide(replace(_request(K.THIRD_PARTY, h=h), purpose=Purpose(reason="  ")), h)
    assert not d.allowed and "請求事由" in d.reasons[0]
    d = _decide(replace(_request(K.PUBLIC_BODY, h=h), purpose=Purpose()), h)
    assert not d.allowed and "請求事由" in d.reasons[0]
    r = _request(K.PROXY, h=h)
    d = _decide(replace(r, requester=replace(r.requester, has_power_of_attorney=False)), h)
    assert not d.allowed and "委任状" in d.reasons[0]


def test_requester_must_belong_to_household() -> None:
    h = H.household(3)
    stranger = Requester(K.SELF, PersonRef("他人　某", "東京都", date(1970, 1, 1), "P9999"))
    for kind in (K.SELF, K.HOUSEHOLD_MEMBER, K.WIDE_AREA):
        r = replace(_request(kind, h=h), requester=replace(stranger, kind=kind))
        assert not _decide(r, h).allowed
        r = replace(_request(kind, h=h), requester=Requester(kind, _counter_person()))
        assert not _decide(r, h).allowed
    # 本人 asking only for someone else is a 同一世帯員 request.
    r = replace(_request(K.SELF, h=h), requester=Requester(K.SELF, _registered(h, "P0002")))
    d = _decide(r, h)
    assert not d.allowed and "同一世帯員" in d.reasons[0]
    r = replace(r, requester=Requester(K.HOUSEHOLD_MEMBER, _registered(h, "P0002")))
    assert _decide(r, h).allowed


def test_unknown_or_empty_scope_refused() -> None:
    h = H.household(2)
    assert not _decide(replace(_request(K.SELF, h=h), person_ids=("P0001", "PX")), h).allowed
    assert not _decide(replace(_request(K.SELF, h=h), person_ids=()), h).allowed


def test_support_measure_needs_supervisor() -> None:
    h = H.protected(H.household(3), 1)
    r = replace(
        _request(K.HOUSEHOLD_MEMBER, h=h),
        person_ids=None,
        purpose=Purpose(reason="児童手当の申請に添付するため"),
    )
    d = _decide(r, h)
    assert d.allowed and d.needs_supervisor
    assert d.protected_person_ids == ("P0001",)
    assert "支援措置" in d.screen_text and "監督者" in d.screen_text
    # The resident is not told about the measure.
    assert not any("支援措置" in reason for reason in d.reasons)
    # An expired measure no longer applies.
    assert not _decide(r, h, date(2028, 1, 1)).needs_supervisor


def test_support_measure_perpetrator_refused() -> None:
    h = H.protected(H.household(3), 1, perpetrators=("P0002",))
    for kind in (K.HOUSEHOLD_MEMBER, K.THIRD_PARTY, K.PROXY):
        base = _request(kind, h=h, subject="P0001")
        requester = replace(base.requester, person=_registered(h, "P0002"))
        d = _decide(replace(base, person_ids=None, requester=requester), h)
        assert not d.allowed and not d.needs_supervisor
        assert not any("支援措置" in reason or "加害" in reason for reason in d.reasons)
        assert "加害者" in d.screen_text


def test_removed_person_individual_form() -> None:
    h = H.removed(H.household(3), 2)
    # The person who moved out asks for their own 除票 (e.g. for the 転入 elsewhere).
    own = replace(
        _request(K.SELF, h=h, subject="P0002"),
        items=frozenset({Item.MY_NUMBER}),
    )
    d = _decide(own, h)
    assert d.allowed and d.form is FormKind.REMOVED and d.rule is C.Rule.REMOVED_OWN
    assert Item.MY_NUMBER in d.items["P0002"] and Item.HISTORY in d.items["P0002"]
    doc = build_document(
        own, d, h, issuance_no="T01-20261126-2", terminal_no="T01", issued_on=TODAY
    )
    assert doc.title == "住民票の除票の写し"
    assert "住民票の除票の原本" in doc.certification
    text = C.canonical_text(doc)
    assert "消除年月日" in text and "転出" in text and "東京都千代田区" in text
    # 世帯全員 lists only the current members.
    d = _decide(replace(_request(K.HOUSEHOLD_MEMBER, h=h), person_ids=None), h)
    assert d.person_ids == ("P0000", "P0001") and d.form is FormKind.HOUSEHOLD
    # A 除票 cannot share a certificate with current members.
    d = _decide(replace(_request(K.HOUSEHOLD_MEMBER, h=h), person_ids=("P0001", "P0002")), h)
    assert not d.allowed and "除票" in d.reasons[0]


def test_deceased_person() -> None:
    h = H.with_member(H.removed(H.household(2), 1), 1, removal_reason="死亡", moved_out_to=None)
    # Representation ends with death: no 代理人 for a deceased person.
    for kind in (K.PROXY, K.LEGAL_REPRESENTATIVE):
        r = replace(_request(kind, h=h, subject="P0001"), items=frozenset(C.NUMBER_ITEMS))
        d = _decide(r, h)
        assert not d.allowed and "亡くなった方" in d.reasons[0]
    # An heir asks as a third party.
    d = _decide(_request(K.THIRD_PARTY, h=h, subject="P0001"), h)
    assert d.allowed and d.form is FormKind.REMOVED
    # Whatever the requester, the numbers of a deceased person are never printed.
    person = h.member("P0001")
    for rule in (C.Rule.REMOVED_OWN, C.Rule.OWN):
        granted, notes = rules._items_for(_request(K.SELF, C.NUMBER_ITEMS, h=h), person, rule)
        assert not granted & C.NUMBER_ITEMS and any("亡くなった方" in n for n in notes)


def test_fees_copies_and_mail() -> None:
    h = H.household(3)
    d = _decide(replace(_request(K.HOUSEHOLD_MEMBER, h=h), person_ids=None, copies=2), h)
    assert (d.certificates, d.fee_yen) == (1, 600)
    r = replace(
        _request(K.HOUSEHOLD_MEMBER, h=h), person_ids=None, copies=2, form=FormKind.INDIVIDUAL
    )
    d = _decide(r, h)
    assert (d.certificates, d.fee_yen) == (3, 1800)
    assert _decide(_request(K.PUBLIC_BODY, h=h), h).fee_yen == 0
    for copies in (0, C.MAX_COPIES + 1):
        assert not _decide(replace(_request(K.SELF, h=h), copies=copies), h).allowed
    d = _decide(_request(K.PROXY, {Item.MY_NUMBER}, h=h), h)
    assert d.deliver_by_mail and any("郵送" in r for r in d.reasons)
    assert not _decide(_request(K.PROXY, h=h), h).deliver_by_mail


def _doc(n: int, form: FormKind = FormKind.HOUSEHOLD, h=None):
    h = h or H.household(n)
    r = CertificateRequest(
        requester_for(K.HOUSEHOLD_MEMBER, h), (IdentityDocument.PASSPORT,), form=form
    )
    d = decide(r, h, TODAY)
    return build_document(r, d, h, issuance_no="T01-20261126-7", terminal_no="T01", issued_on=TODAY)


def test_sheets_of_household_form() -> None:
    doc = _doc(9)
    assert [len(s.blocks) for s in doc.sheets] == [4, 4, 1]
    assert [s.certified for s in doc.sheets] == [False, False, True]
    assert doc.issued_on_text == "令和8年11月26日"
    ind = _doc(3, FormKind.INDIVIDUAL)
    assert [len(s.blocks) for s in ind.sheets] == [1, 1, 1] and all(s.certified for s in ind.sheets)


def test_refused_decision_cannot_be_printed() -> None:
    h = H.household(2)
    d = decide(replace(_request(K.THIRD_PARTY, h=h), purpose=Purpose()), h, TODAY)
    with pytest.raises(C.CertificateError):
        build_document(
            _request(K.THIRD_PARTY, h=h),
            d,
            h,
            issuance_no="T01-20261126-1",
            terminal_no="T01",
            issued_on=TODAY,
        )


def test_digest_covers_printed_content() -> None:
    doc = _doc(2)
    digest = C.content_digest(doc)
    assert len(digest) == 64 and digest == C.content_digest(_doc(2))
    changed = _doc(2, h=H.with_member(H.household(2), 1, name="北見　二子"))
    assert C.content_digest(changed) != digest
    assert C.content_digest(replace(doc, issuance_no="T01-20261126-8")) != digest


def test_wareki() -> None:
    assert C.format_wareki(date(2019, 5, 1)) == "令和元年5月1日"
    assert C.format_wareki(date(1989, 1, 7)) == "昭和64年1月7日"
    assert C.format_wareki(None) == ""


@settings(max_examples=40, deadline=None)
@given(
    st.binary(min_size=0, max_size=80),
    st.integers(min_value=1, max_value=999_999),
    st.text("0123456789abcdef", min_size=64, max_size=64),
)
def test_qr_payload_round_trip(signature: bytes, seq: int, digest: str) -> None:
    payload = C.qr_payload(f"T01-20261126-{seq}", digest, "T01", signature)
    assert payload.isascii() and payload.startswith("MDG1|")
    parsed = C.parse_qr_payload(payload)
    assert (parsed.issuance_no, parsed.content_digest, parsed.terminal_no, parsed.signature) == (
        f"T01-20261126-{seq}",
        digest,
        "T01",
        signature,
    )
    assert parsed.issued_on == TODAY


@pytest.mark.parametrize(
    "text",
    [
        "",
        "XYZ1|T01-20261126-1|" + "a" * 64 + "|T01|",
        "MDG1|T01-20261126-1|" + "a" * 63 + "|T01|",
        "MDG1|T01-20261126-1|" + "A" * 64 + "|T01|",
        "MDG1|T01-20261126-1|" + "a" * 64 + "|T02|",
        "MDG1|T01-20261332-1|" + "a" * 64 + "|T01|",
        "MDG1|T01-20261126-1|" + "a" * 64 + "|T01|ab$c",
        "MDG1|T01-20261126-1|" + "a" * 64 + "|T01",
    ],
)
def test_qr_payload_rejects_malformed(text: str) -> None:
    with pytest.raises(C.PayloadError):
        C.parse_qr_payload(text)


def test_sheets_break_early_for_long_records() -> None:
    from app.domain.records import HistoryEntry

    history = tuple(HistoryEntry(date(2000 + i, 1, 1), "転居", "北見市内で転居") for i in range(8))
    h = H.household(6)
    for i in range(6):
        h = H.with_member(h, i, history=history)
    r = CertificateRequest(
        requester_for(K.HOUSEHOLD_MEMBER, h), (IdentityDocument.PASSPORT,), items=frozenset(Item)
    )
    d = decide(r, h, TODAY)
    doc = build_document(r, d, h, issuance_no="T01-20261126-7", terminal_no="T01", issued_on=TODAY)
    sizes = [len(s.blocks) for s in doc.sheets]
    assert sum(sizes) == 6 and max(sizes) < 4
    for sheet in doc.sheets:
        assert sum(C.block_rows(b) for b in sheet.blocks) <= C.SHEET_ROW_BUDGET
    # Everybody in order, each person once.
    ids = [b.person_id for s in doc.sheets for b in s.blocks]
    assert ids == [m.person_id for m in h.members]
