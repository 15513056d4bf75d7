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
    CertificateRequest,
    FormKind,
    IdentityDocument,
    Item,
    RequesterKind,
    build_document,
    decide,
    rules,
)
from tests.printing import households as H

TODAY = date(2026, 11, 26)
K = RequesterKind

# The subject of the table: one person for whom every item exists.
SUBJECT = "P0001"


def _table_household():
    # Not a realistic person (a foreign resident has no 本籍), but every item exists for them.
    h = H.foreign(H.household(4), 1)
    return H.with_member(
        h,
        1,
        former_name="阮",
        alias="北見　花子",
        honseki="北海道網走市南六条東一丁目1番地",
        hittosha="北見　太郎",
    )


# How each kind of requester identifies itself (documents, requester person, extras).
SETUP: dict[RequesterKind, dict] = {
    K.SELF: {"docs": (IdentityDocument.MY_NUMBER_CARD,), "requester": SUBJECT},
    K.HOUSEHOLD_MEMBER: {"docs": (IdentityDocument.DRIVERS_LICENSE,), "requester": "P0000"},
    K.PROXY: {"docs": (IdentityDocument.DRIVERS_LICENSE,), "requester": None, "poa": True},
    K.PUBLIC_BODY: {
        "docs": (IdentityDocument.STAFF_ID,),
        "requester": None,
        "purpose": "国税徴収法第141条",
    },
    K.THIRD_PARTY: {
        "docs": (IdentityDocument.PASSPORT,),
        "requester": None,
        "purpose": "債権回収のため",
    },
    K.WIDE_AREA: {"docs": (IdentityDocument.MY_NUMBER_CARD,), "requester": "P0000"},
}

T, F = True, False
OWN = {
    Item.RELATIONSHIP: (F, T, T),
    Item.HEAD_NAME: (T, T, T),
    Item.HONSEKI: (F, T, T),
    Item.JUMINHYO_CODE: (F, T, T),
    Item.MY_NUMBER: (F, T, T),
    Item.PREVIOUS_ADDRESS: (T, T, T),
    Item.DATES: (T, T, T),
    Item.FORMER_NAME: (T, T, T),
    Item.ALIAS: (T, T, T),
    Item.FOREIGN_STATUS: (T, T, T),
    Item.RESIDENCE_CARD_NUMBER: (F, T, T),
    Item.HISTORY: (T, T, T),
}
OTHERS = {
    Item.RELATIONSHIP: (F, F, T),
    Item.HEAD_NAME: (F, F, T),
    Item.HONSEKI: (F, F, T),
    Item.JUMINHYO_CODE: (F, F, F),
    Item.MY_NUMBER: (F, F, F),
    Item.PREVIOUS_ADDRESS: (F, F, T),
    Item.DATES: (F, F, T),
    Item.FORMER_NAME: (T, T, T),
    Item.ALIAS: (T, T, T),
    Item.FOREIGN_STATUS: (F, F, T),
    Item.RESIDENCE_CARD_NUMBER: (F, F, T),
    Item.HISTORY: (F, F, T),
}
# (not asked, asked without a purpose that needs it, asked and needed) → printed?
EXPECTED: dict[RequesterKind, dict[Item, tuple[bool, bool, bool]]] = {
    K.SELF: OWN,
    K.HOUSEHOLD_MEMBER: OWN,
    K.PROXY: OWN,
    K.PUBLIC_BODY: OTHERS,
    K.THIRD_PARTY: OTHERS,
    K.WIDE_AREA: {**OWN, Item.HONSEKI: (F, F, F), Item.HISTORY: (F, F, F)},
}


# What each item puts on paper for the subject: the value must appear in the printed text
# exactly when the item is printed.
def _printed_values(h) -> dict[Item, str]:
    p = h.member(SUBJECT)
    return {
        Item.RELATIONSHIP: f"cell\t続柄\t{p.relationship}",
        Item.HEAD_NAME: f"\t世帯主\t{h.head.name}",
        Item.HONSEKI: p.honseki or "",
        Item.JUMINHYO_CODE: p.juminhyo_code,
        Item.MY_NUMBER: p.my_number or "",
        Item.PREVIOUS_ADDRESS: p.previous_address or "",
        Item.DATES: "住民となった年月日",
        Item.FORMER_NAME: f"旧氏\t{p.former_name}",
        Item.ALIAS: f"通称\t{p.alias}",
        Item.FOREIGN_STATUS: p.residence_status or "",
        Item.RESIDENCE_CARD_NUMBER: p.residence_card_number or "",
        Item.HISTORY: "札幌市中央区から転入",
    }


def _request(
    kind: RequesterKind, items=frozenset(), justified=frozenset(), **kw
) -> CertificateRequest:
    s = SETUP[kind]
    return CertificateRequest(
        requester_kind=kind,
        identity_documents=s["docs"],
        person_ids=(SUBJECT,),
        items=frozenset(items),
        justified_items=frozenset(justified),
        purpose=s.get("purpose"),
        has_power_of_attorney=s.get("poa", False),
        **kw,
    )


CASES = [(k, i, mode) for k in RequesterKind for i in Item for mode in range(3)]


@pytest.mark.parametrize(("kind", "item", "mode"), CASES, ids=[f"{k}-{i}-{m}" for k, i, m in CASES])
def test_legal_table(kind: RequesterKind, item: Item, mode: int) -> None:
    h = _table_household()
    asked = {item} if mode >= 1 else set()
    justified = {item} if mode == 2 else set()
    request = _request(kind, asked, justified)
    decision = decide(request, h, TODAY, SETUP[kind]["requester"])
    assert decision.allowed, decision.reasons
    expected = EXPECTED[kind][item][mode]
    assert (item in decision.items[SUBJECT]) is expected
    # The print model follows the decision.
    doc = build_document(
        request, decision, h, issuance_no="T01-20261126-1", terminal_no="T01", issued_on=TODAY
    )
    text = C.canonical_text(doc)
    assert (_printed_values(h)[item] in text) is expected
    if mode >= 1 and not expected:
        # Asked for but refused: the resident is told why.
        assert any(C.ITEM_LABELS[item] in r for r in decision.reasons)


def test_basic_items_always_printed() -> None:
    h = _table_household()
    for kind in RequesterKind:
        d = decide(_request(kind), h, TODAY, SETUP[kind]["requester"])
        doc = build_document(
            _request(kind), d, h, issuance_no="T01-20261126-1", terminal_no="T01", issued_on=TODAY
        )
        text = C.canonical_text(doc)
        p = h.member(SUBJECT)
        for value in (p.name, C.format_wareki(p.birth_date), "性別\t女", h.address):
            assert value in text, (kind, value)


def test_identity_documents() -> None:
    h = H.household(2)
    for kind in RequesterKind:
        r = replace(_request(kind), identity_documents=())
        d = decide(r, h, TODAY, SETUP[kind]["requester"])
        assert not d.allowed and "提示" in d.reasons[0]
    two = (IdentityDocument.HEALTH_INSURANCE, IdentityDocument.PENSION_BOOK)
    assert decide(replace(_request(K.SELF), identity_documents=two), h, TODAY, SUBJECT).allowed
    one = (IdentityDocument.HEALTH_INSURANCE,)
    assert not decide(replace(_request(K.SELF), identity_documents=one), h, TODAY, SUBJECT).allowed
    # 広域交付 needs a photo document; two without a photo are not enough.
    lic = (IdentityDocument.DRIVERS_LICENSE,)
    assert decide(replace(_request(K.WIDE_AREA), identity_documents=lic), h, TODAY, "P0000").allowed
    assert not decide(
        replace(_request(K.WIDE_AREA), identity_documents=two), h, TODAY, "P0000"
    ).allowed
    # 公用請求 needs the staff card.
    assert not decide(replace(_request(K.PUBLIC_BODY), identity_documents=lic), h, TODAY).allowed


def test_purpose_and_power_of_attorney_required() -> None:
    h = H.household(2)
    d = decide(replace(_request(K.THIRD_PARTY), purpose="  "), h, TODAY)
    assert not d.allowed and "請求事由" in d.reasons[0]
    d = decide(replace(_request(K.PUBLIC_BODY), purpose=None), h, TODAY)
    assert not d.allowed and "法令上の根拠" in d.reasons[0]
    d = decide(replace(_request(K.PROXY), has_power_of_attorney=False), h, TODAY)
    assert not d.allowed and "委任状" in d.reasons[0]


def test_requester_must_belong_to_household() -> None:
    h = H.household(3)
    for kind in (K.SELF, K.HOUSEHOLD_MEMBER, K.WIDE_AREA):
        assert not decide(_request(kind), h, TODAY, "P9999").allowed
        assert not decide(_request(kind), h, TODAY, None).allowed
    # 本人 asking only for someone else is a 同一世帯員 request.
    d = decide(_request(K.SELF), h, TODAY, "P0002")
    assert not d.allowed and "同一世帯員" in d.reasons[0]
    assert decide(_request(K.HOUSEHOLD_MEMBER), h, TODAY, "P0002").allowed


def test_unknown_or_empty_scope_refused() -> None:
    h = H.household(2)
    assert not decide(
        replace(_request(K.SELF), person_ids=("P0001", "PX")), h, TODAY, SUBJECT
    ).allowed
    assert not decide(replace(_request(K.SELF), person_ids=()), h, TODAY, SUBJECT).allowed


def test_support_measure_needs_supervisor() -> None:
    h = H.protected(H.household(3), 1)
    r = replace(_request(K.HOUSEHOLD_MEMBER), person_ids=None)
    d = decide(r, h, TODAY, "P0000")
    assert d.allowed and d.needs_supervisor
    assert d.protected_person_ids == ("P0001",)
    assert "支援措置" in d.screen_text and "監督者" in d.screen_text
    # The resident is not told about the measure.
    assert not any("支援措置" in reason for reason in d.reasons)
    # Asking only about unprotected members needs no approval.
    d = decide(replace(r, person_ids=("P0002",)), h, TODAY, "P0000")
    assert d.allowed and not d.needs_supervisor
    # An expired measure no longer applies.
    assert not decide(r, h, date(2028, 1, 1), "P0000").needs_supervisor


def test_support_measure_perpetrator_refused() -> None:
    h = H.protected(H.household(3), 1, perpetrators=("P0002",))
    for kind in (K.HOUSEHOLD_MEMBER, K.THIRD_PARTY, K.PROXY):
        r = replace(_request(kind), person_ids=None)
        d = decide(r, h, TODAY, "P0002")
        assert not d.allowed and not d.needs_supervisor
        assert not any("支援措置" in reason or "加害" in reason for reason in d.reasons)
        assert "加害者" in d.screen_text


def test_removed_person_individual_form() -> None:
    h = H.removed(H.household(3), 2)
    # The person who moved out asks for their own 除票 (e.g. for the 転入 elsewhere).
    own = replace(_request(K.SELF), person_ids=("P0002",), items=frozenset({Item.MY_NUMBER}))
    d = decide(own, h, TODAY, "P0002")
    assert d.allowed and d.form is FormKind.REMOVED
    assert Item.MY_NUMBER in d.items["P0002"] and Item.HISTORY in d.items["P0002"]
    doc = build_document(
        own, d, h, issuance_no="T01-20261126-2", terminal_no="T01", issued_on=TODAY
    )
    assert doc.title == "住民票の除票の写し"
    assert "住民票の除票の原本" in doc.certification
    text = C.canonical_text(doc)
    assert "消除年月日" in text and "転出" in text and "東京都千代田区" in text
    # 世帯全員 lists only the current members.
    d = decide(replace(_request(K.HOUSEHOLD_MEMBER), person_ids=None), h, TODAY, "P0000")
    assert d.person_ids == ("P0000", "P0001") and d.form is FormKind.HOUSEHOLD
    # A 除票 cannot share a certificate with current members.
    d = decide(
        replace(_request(K.HOUSEHOLD_MEMBER), person_ids=("P0001", "P0002")), h, TODAY, "P0000"
    )
    assert not d.allowed and "除票" in d.reasons[0]


def test_removed_person_asked_by_former_household_member() -> None:
    """§15の4: anyone but the person (or their 代理人) needs a purpose, as a third party."""
    h = H.removed(H.household(3), 2)
    asked = frozenset({Item.MY_NUMBER, Item.HISTORY, Item.PREVIOUS_ADDRESS})
    r = replace(_request(K.HOUSEHOLD_MEMBER), person_ids=("P0002",), items=asked)
    d = decide(r, h, TODAY, "P0000")
    assert not d.allowed and "請求事由" in d.reasons[0]
    r = replace(r, purpose="相続手続のため", justified_items=frozenset({Item.PREVIOUS_ADDRESS}))
    d = decide(r, h, TODAY, "P0000")
    assert d.allowed and d.form is FormKind.REMOVED
    assert d.items["P0002"] == {Item.FORMER_NAME, Item.ALIAS, Item.PREVIOUS_ADDRESS}
    assert any("個人番号" in reason for reason in d.reasons)
    # No 広域交付 of a 除票.
    w = replace(_request(K.WIDE_AREA), person_ids=("P0002",))
    d = decide(w, h, TODAY, "P0000")
    assert not d.allowed and "広域交付" in d.reasons[0]


def test_deceased_person() -> None:
    h = H.with_member(H.removed(H.household(2), 1), 1, removal_reason="死亡", moved_out_to=None)
    # A 委任 ends with death: no 代理人 for a deceased person.
    r = replace(_request(K.PROXY), person_ids=("P0001",), items=frozenset(C.NUMBER_ITEMS))
    d = decide(r, h, TODAY)
    assert not d.allowed and "亡くなった方" in d.reasons[0]
    # An heir asks as a third party.
    r = replace(_request(K.THIRD_PARTY), person_ids=("P0001",))
    d = decide(r, h, TODAY)
    assert d.allowed and d.form is FormKind.REMOVED
    # Whatever the requester, the numbers of a deceased person are never printed.
    person = h.member("P0001")
    for kind in (K.SELF, K.PROXY, K.HOUSEHOLD_MEMBER):
        granted, notes = rules._items_for(_request(kind, C.NUMBER_ITEMS), person, kind)
        assert not granted & C.NUMBER_ITEMS and any("亡くなった方" in n for n in notes)


def test_fees_copies_and_mail() -> None:
    h = H.household(3)
    d = decide(replace(_request(K.HOUSEHOLD_MEMBER), person_ids=None, copies=2), h, TODAY, "P0000")
    assert (d.certificates, d.fee_yen) == (1, 600)
    r = replace(_request(K.HOUSEHOLD_MEMBER), person_ids=None, copies=2, form=FormKind.INDIVIDUAL)
    d = decide(r, h, TODAY, "P0000")
    assert (d.certificates, d.fee_yen) == (3, 1800)
    assert decide(_request(K.PUBLIC_BODY), h, TODAY).fee_yen == 0
    for copies in (0, C.MAX_COPIES + 1):
        assert not decide(replace(_request(K.SELF), copies=copies), h, TODAY, SUBJECT).allowed
    d = decide(_request(K.PROXY, {Item.MY_NUMBER}), h, TODAY)
    assert d.deliver_by_mail and any("郵送" in r for r in d.reasons)
    assert not decide(_request(K.PROXY), h, TODAY).deliver_by_mail


def _doc(n: int, form: FormKind = FormKind.HOUSEHOLD, h=None):
    h = h or H.household(n)
    r = CertificateRequest(K.HOUSEHOLD_MEMBER, (IdentityDocument.PASSPORT,), form=form)
    d = decide(r, h, TODAY, "P0000")
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
    d = decide(replace(_request(K.THIRD_PARTY), purpose=None), h, TODAY)
    with pytest.raises(C.CertificateError):
        build_document(
            _request(K.THIRD_PARTY),
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
    r = CertificateRequest(K.HOUSEHOLD_MEMBER, (IdentityDocument.PASSPORT,), items=frozenset(Item))
    d = decide(r, h, TODAY, "P0000")
    doc = build_document(r, d, h, issuance_no="T01-20261126-7", terminal_no="T01", issued_on=TODAY)
    sizes = [len(s.blocks) for s in doc.sheets]
    assert sum(sizes) == 6 and max(sizes) < 4
    for sheet in doc.sheets:
        assert sum(C.block_rows(b) for b in sheet.blocks) <= C.SHEET_ROW_BUDGET
    # Everybody in order, each person once.
    ids = [b.person_id for s in doc.sheets for b in s.blocks]
    assert ids == [m.person_id for m in h.members]
