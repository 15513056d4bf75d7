"""The cases of issue 19, each written from the article it applies (docs/certificates.md maps
article → rule → test). The printed text is judged through the print model's canonical text,
which is what the PDF draws (tests/printing checks that)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from msgspec.structs import replace as replace_record

from app.domain import certificates as C
from app.domain.certificates import (
    CertificateContext,
    CertificateRequest,
    IdentityDocument,
    Item,
    KnownPerpetrator,
    PersonRef,
    Profession,
    ProtectedResident,
    Purpose,
    Representation,
    Requester,
    RequesterKind,
    ThirdPartyGround,
    build_document,
    decide,
)
from app.domain.records import PerpetratorRecord
from tests.printing import households as H

TODAY = date(2026, 11, 26)
K = RequesterKind
LICENSE = (IdentityDocument.DRIVERS_LICENSE,)
CONCRETE = Purpose(
    ThirdPartyGround.OWN_RIGHTS, "貸金返還請求訴訟の提起のため", "札幌地方裁判所北見支部"
)


def registered(h, pid: str) -> PersonRef:
    p = h.member(pid)
    return PersonRef(p.name, h.address, p.birth_date, p.person_id)


def by_hand(name: str = "窓口　来人", born: date = date(1980, 5, 5)) -> PersonRef:
    return PersonRef(name, "北海道網走市南六条東一丁目1番地", born)


def text_of(request: CertificateRequest, decision, h) -> str:
    doc = build_document(
        request, decision, h, issuance_no="T01-20261126-1", terminal_no="T01", issued_on=TODAY
    )
    return C.canonical_text(doc)


def third_party(person: PersonRef | None = None, **kw) -> Requester:
    return Requester(K.THIRD_PARTY, person or by_hand(), ground=ThirdPartyGround.OWN_RIGHTS, **kw)


# --- 1. §12①: 同一世帯員 is a CURRENT member ------------------------------------------------


def test_L19_01_removed_member_is_not_a_household_member() -> None:
    """§12① 「自己と同一の世帯に属する者」: a person whose record is removed (転出) no longer
    belongs to the household; asking for the current members they are a third party."""
    h = H.removed(H.household(3), 2)
    former = registered(h, "P0002")
    for kind in (K.HOUSEHOLD_MEMBER, K.SELF):
        r = CertificateRequest(
            Requester(kind, former), LICENSE, person_ids=("P0001",), items=frozenset(C.NUMBER_ITEMS)
        )
        d = decide(r, h, TODAY)
        assert not d.allowed, kind
        assert "第三者" in d.reasons[0] or "世帯員" in d.reasons[0]
    # As a third party with a concrete purpose: no numbers, no 本籍.
    r = CertificateRequest(
        third_party(former),
        LICENSE,
        person_ids=("P0001",),
        items=frozenset({*C.NUMBER_ITEMS, Item.HONSEKI}),
        purpose=CONCRETE,
    )
    d = decide(r, h, TODAY)
    text = text_of(r, d, h)
    p = h.member("P0001")
    assert d.allowed and p.my_number not in text and p.honseki not in text


# --- 2. 支援措置 covers the protected ADDRESS ----------------------------------------------------


def test_L19_02_perpetrator_refused_for_unnamed_member_of_victims_household() -> None:
    """支援措置 (事務処理要領 第6-10, §12⑥, §12の3 相当性): the 加害者 asking for the copy of the
    victim's child, who is not named in the measure but lives at the protected address, is
    refused; the resident hears no reason, the clerk sees it."""
    h = H.protected(H.household(3), 1, perpetrators=("PX-PERP",))
    perp = PersonRef("加害　太郎", "北見市常盤町1丁目", date(1975, 1, 1), "PX-PERP")
    for requester in (
        third_party(perp),
        Requester(K.PROXY, perp, principal_id="P0002", has_power_of_attorney=True),
    ):
        r = CertificateRequest(requester, LICENSE, person_ids=("P0002",), purpose=CONCRETE)
        d = decide(r, h, TODAY)
        assert not d.allowed and not d.needs_supervisor, requester.kind
        assert d.reasons == (C.REFUSAL_TO_PERPETRATOR,)
        assert "加害者" in d.screen_text and "支援措置" in d.screen_text


def test_L19_02b_same_address_other_household_and_katagaki() -> None:
    """The copy of anyone registered at the protected address reveals it, 方書 aside: the
    加害者 is refused; anyone else needs a supervisor and a 請求事由 (省令第4条②一)."""
    victim = H.protected(H.household(2), 1, perpetrators=("PX-PERP",))
    neighbour = H.neighbour(victim, katagaki="コーポ北見102号")  # other room, same 住所
    context = CertificateContext(protections=tuple(C.protections_of(victim, TODAY)))
    perp = PersonRef("加害　太郎", "北見市常盤町1丁目", date(1975, 1, 1), "PX-PERP")
    r = CertificateRequest(third_party(perp), LICENSE, person_ids=("N0001",), purpose=CONCRETE)
    d = decide(r, neighbour, TODAY, context)
    assert not d.allowed and "加害者" in d.screen_text
    # The neighbour asking for their own copy: a supervisor, and the purpose must be stated.
    own = CertificateRequest(Requester(K.SELF, registered(neighbour, "N0001")), LICENSE)
    d = decide(own, neighbour, TODAY, context)
    assert not d.allowed and "請求事由" in d.reasons[0]
    d = decide(
        replace(own, purpose=Purpose(reason="勤務先への通勤届に添付するため")),
        neighbour,
        TODAY,
        context,
    )
    assert d.allowed and d.needs_supervisor and d.protected_person_ids == ("P0001",)
    assert "同じ住所" in d.screen_text and "支援措置" not in " ".join(d.reasons)
    # Elsewhere in town: nothing to protect.
    away = replace_record(neighbour, address="北海道北見市常盤町3丁目5番地")
    assert not decide(own, away, TODAY, context).needs_supervisor


def test_L19_02c_printed_previous_address_and_removed_record() -> None:
    """A copy whose 前住所 or 記事 prints the protected address reveals it; so does the 除票 of
    a protected person (its 転出先 is where they went)."""
    victim = H.protected(H.household(2), 1, perpetrators=("PX-PERP",))
    context = CertificateContext(protections=tuple(C.protections_of(victim, TODAY)))
    moved = H.with_member(
        H.household(1, household_id="H0009"),
        0,
        previous_address=victim.address + "　コーポ北見101号",
    )
    moved = replace_record(moved, address="北海道北見市常盤町3丁目5番地")
    perp = PersonRef("加害　太郎", "北見市常盤町1丁目", date(1975, 1, 1), "PX-PERP")
    asked = frozenset({Item.PREVIOUS_ADDRESS})
    r = CertificateRequest(
        third_party(perp), LICENSE, items=asked, justified_items=asked, purpose=CONCRETE
    )
    assert not decide(r, moved, TODAY, context).allowed
    # Without the 前住所 the copy reveals nothing of the victim.
    r = replace(r, items=frozenset(), justified_items=frozenset())
    assert decide(r, moved, TODAY, context).allowed
    # The victim fled and is a 除票 here: their 除票 goes to no 加害者.
    fled = H.protected(H.removed(H.household(3), 2), 2, perpetrators=("PX-PERP",))
    r = CertificateRequest(third_party(perp), LICENSE, person_ids=("P0002",), purpose=CONCRETE)
    d = decide(r, fled, TODAY)
    assert not d.allowed and "加害者" in d.screen_text


# --- 3. the requester is a person: the 加害者 check on a hand-entered identity ---------------


def test_L19_03_perpetrator_matched_by_4_information() -> None:
    """A requester not found in the register is matched by 氏名 and 生年月日 against the
    registered 加害者 (by id in this register, or named in the measure)."""
    known = (PerpetratorRecord("加害　太郎", date(1975, 1, 1)),)
    h = H.protected(H.household(3), 1, known=known)
    same = by_hand("加害 太郎", date(1975, 1, 1))  # half-width space: the same name folded
    for requester in (
        third_party(same),
        Requester(K.PROXY, same, principal_id="P0001", has_power_of_attorney=True),
    ):
        r = CertificateRequest(requester, LICENSE, person_ids=("P0001",), purpose=CONCRETE)
        d = decide(r, h, TODAY)
        assert not d.allowed and "加害者" in d.screen_text, requester.kind
    # Same birth date and the same 名 (the 氏 changed): possible, the supervisor decides.
    maybe = by_hand("別姓　太郎", date(1975, 1, 1))
    r = CertificateRequest(third_party(maybe), LICENSE, person_ids=("P0001",), purpose=CONCRETE)
    d = decide(r, h, TODAY)
    assert d.allowed and d.needs_supervisor and "一部が一致" in d.screen_text
    # Another birth date: not the 加害者.
    other = by_hand("加害　太郎", date(1975, 1, 2))
    d = decide(replace(r, requester=third_party(other)), h, TODAY)
    assert d.allowed and "一部が一致" not in d.screen_text
    # A 加害者 registered here is matched by 4情報 even when entered by hand.
    context = CertificateContext(
        protections=(
            ProtectedResident(
                "P0001",
                h.household_id,
                h.address,
                h.katagaki,
                date(2027, 12, 31),
                (KnownPerpetrator("加害　次郎", date(1977, 7, 7), "PX-2"),),
            ),
        )
    )
    r = replace(r, requester=third_party(by_hand("加害　次郎", date(1977, 7, 7))))
    assert not decide(r, h, TODAY, context).allowed


def test_L19_03b_requester_must_be_identified() -> None:
    """§12②一・二, §12の3④一・二: the request names the person who asks; a person not in the
    register is entered with 氏名・住所・生年月日 as on the document shown."""
    h = H.household(2)
    for person in (None, PersonRef("窓口　来人"), PersonRef("窓口　来人", "北見市")):
        r = CertificateRequest(third_party(person) if person else Requester(K.THIRD_PARTY), LICENSE)
        if person is None:
            r = replace(r, requester=Requester(K.THIRD_PARTY, ground=ThirdPartyGround.OWN_RIGHTS))
        d = decide(replace(r, purpose=CONCRETE), h, TODAY)
        assert not d.allowed and "請求者" in d.reasons[0]


# --- 4. 任意代理人 + 個人番号: by mail only -----------------------------------------------------


def test_L19_04_proxy_with_my_number_is_mailed_to_the_subject() -> None:
    """事務処理要領 (番号法): a 任意代理人 who asks for the 個人番号 does not receive it at the
    counter; the copy goes to the address of the person who asked through them. A 法定代理人
    receives it at the counter; 住民票コード alone is not mailed."""
    h = H.household(3)
    proxy = Requester(K.PROXY, by_hand(), principal_id="P0001", has_power_of_attorney=True)
    r = CertificateRequest(proxy, LICENSE, items=frozenset({Item.MY_NUMBER}))
    d = decide(r, h, TODAY)
    assert d.allowed and d.deliver_by_mail and d.delivery is C.Delivery.MAIL
    assert d.mail_to is not None and d.mail_to.person_id == "P0001"
    assert d.mail_to.lines() == [
        "〒090-0024",
        h.address,
        h.katagaki,
        f"{h.member('P0001').name}　様",
    ]
    doc = build_document(r, d, h, issuance_no="T01-20261126-1", terminal_no="T01", issued_on=TODAY)
    assert doc.mail_to == d.mail_to
    assert not decide(replace(r, items=frozenset({Item.JUMINHYO_CODE})), h, TODAY).deliver_by_mail
    guardian = Requester(
        K.LEGAL_REPRESENTATIVE,
        by_hand(),
        principal_id="P0001",
        representation=Representation.ADULT_GUARDIAN,
    )
    docs = (*LICENSE, IdentityDocument.GUARDIANSHIP_REGISTRY)
    d = decide(replace(r, requester=guardian, identity_documents=docs), h, TODAY)
    assert d.allowed and not d.deliver_by_mail


# --- 5. 第7条第4号 is one item --------------------------------------------------------------


def test_L19_05_head_and_relationship_is_one_item() -> None:
    """§7④ 「世帯主の氏名及び世帯主との続柄」 is one item, left out unless asked (§12⑤): no
    世帯主 name, and no 続柄 label over an empty cell."""
    h = H.household(3)
    r = CertificateRequest(Requester(K.SELF, registered(h, "P0000")), LICENSE, person_ids=None)
    text = text_of(r, decide(r, h, TODAY), h)
    assert "世帯主" not in text and "続柄" not in text
    asked = replace(r, items=frozenset({Item.HEAD_AND_RELATIONSHIP}))
    text = text_of(asked, decide(asked, h, TODAY), h)
    assert "header\t世帯主\t北見　太郎" in text and "cell\t続柄\t妻" in text
    # 個人票: the 世帯主 row goes with the 続柄.
    one = replace(r, person_ids=("P0000",), form=C.FormKind.INDIVIDUAL)
    assert "世帯主" not in text_of(one, decide(one, h, TODAY), h)


# --- 6. 外国人住民 (§30の45) -----------------------------------------------------------------


def test_L19_06_foreign_items_only_when_asked() -> None:
    """§30の45 and the 施行令 reading of §12⑤: 国籍等 and the items of the table (区分,
    在留資格, 在留期間, 満了の日, 在留カードの番号) are left out unless asked; the date row is
    外国人住民となった年月日."""
    h = H.foreign(H.household(2), 1)
    base = CertificateRequest(
        Requester(K.SELF, registered(h, "P0001")), (IdentityDocument.RESIDENCE_CARD,), ("P0001",)
    )
    text = text_of(base, decide(base, h, TODAY), h)
    for absent in ("ベトナム", "在留資格", "中長期在留者", "在留期間", "AB12345678CD"):
        assert absent not in text, absent
    assert "cell\t外国人住民となった年月日" in text and "cell\t住民となった年月日" not in text
    asked = replace(base, items=frozenset(C.FOREIGN_ITEMS))
    text = text_of(asked, decide(asked, h, TODAY), h)
    for line in (
        "cell\t国籍・地域\tベトナム",
        "cell\t法第30条の45に規定する区分\t中長期在留者",
        "cell\t在留資格\t技術・人文知識・国際業務",
        "cell\t在留期間\t5年",
        "cell\t在留期間の満了の日\t令和10年4月1日",
        "cell\t在留カードの番号\tAB12345678CD",
    ):
        assert line in text, line


def test_L19_06b_special_permanent_resident() -> None:
    """§30の45 表: a 特別永住者 has the 区分 and the 特別永住者証明書の番号 — no 在留資格 row."""
    h = H.special_permanent(H.household(2), 1)
    r = CertificateRequest(
        Requester(K.SELF, registered(h, "P0001")),
        (IdentityDocument.RESIDENCE_CARD,),
        ("P0001",),
        items=frozenset(C.FOREIGN_ITEMS),
    )
    text = text_of(r, decide(r, h, TODAY), h)
    assert "cell\t法第30条の45に規定する区分\t特別永住者" in text
    assert "cell\t特別永住者証明書の番号\tCD87654321EF" in text
    assert "在留資格" not in text and "在留期間" not in text and "在留カード" not in text


# --- 7. §15の4③ 除票基礎証明事項 ----------------------------------------------------------------


def test_L19_07_third_party_removed_record_prints_items_6_to_8() -> None:
    """§15の4③: a third party's 除票の写し shows the 除票基礎証明事項, 第7条第1〜3号 and 第6〜8号
    (住民となった年月日, 住所を定めた年月日・届出日, 従前の住所), with the 消除; no numbers."""
    h = H.removed(H.household(3), 2)
    asked = frozenset({Item.MY_NUMBER, Item.HONSEKI})
    r = CertificateRequest(
        third_party(), LICENSE, person_ids=("P0002",), items=asked, purpose=CONCRETE
    )
    d = decide(r, h, TODAY)
    assert d.allowed and d.rule is C.Rule.REMOVED_THIRD
    text = text_of(r, d, h)
    p = h.member("P0002")
    for present in (
        "cell\t住民となった年月日\t平成2年4月1日",
        "cell\t住所を定めた年月日\t平成27年6月1日（平成27年6月10日届出）",
        f"cell\t転入前住所\t{p.previous_address}",
        "cell\t消除年月日",
        "cell\t転出先",
    ):
        assert present in text, present
    assert p.my_number not in text and p.honseki not in text and "記事" not in text


# --- 8. §12の2 and §12の3 exactly ------------------------------------------------------------


def test_L19_08a_public_body_under_article_12_2() -> None:
    """§12の2①④: a 国・地方公共団体 request gets every item but 第8号の2 and 第13号; 第4号 and
    第5号 only when asked — no judgement of each item against a purpose, as for third parties."""
    h = H.household(2)
    staff = Requester(
        K.PUBLIC_BODY, PersonRef("税務　職員"), organization="北見税務署", staff_title="徴収官"
    )
    r = CertificateRequest(
        staff,
        (IdentityDocument.STAFF_ID,),
        ("P0001",),
        items=frozenset({Item.HONSEKI, Item.MY_NUMBER, Item.JUMINHYO_CODE}),
        purpose=Purpose(reason="国税徴収法第141条に基づく滞納処分の調査のため"),
    )
    d = decide(r, h, TODAY)
    assert d.allowed and d.rule is C.Rule.PUBLIC and d.fee_yen == 0
    text = text_of(r, d, h)
    p = h.member("P0001")
    assert p.honseki in text and "札幌市中央区から転入" in text and "転入前住所" in text
    assert p.my_number not in text and p.juminhyo_code not in text and "続柄" not in text
    # The request names the body and the staff member (§12の2②一・二).
    d = decide(replace(r, requester=replace(staff, organization="")), h, TODAY)
    assert not d.allowed and "機関の名称" in d.reasons[0]


def test_L19_08b_third_party_gets_exactly_the_basic_items() -> None:
    """§12の3①: 基礎証明事項 = 第7条第1〜3号 and 第7号 (住所 and 住所を定めた年月日) and the
    施行令's 第14号 items (旧氏): exactly those, nothing else unless asked and needed (⑦)."""
    h = H.with_member(H.household(2), 1, former_name="南")
    r = CertificateRequest(third_party(), LICENSE, ("P0001",), purpose=CONCRETE)
    d = decide(r, h, TODAY)
    assert d.rule is C.Rule.THIRD
    text = text_of(r, d, h)
    cells = {line.split("\t")[1] for line in text.splitlines() if line.startswith("cell\t")}
    assert cells == {"フリガナ", "氏名", "生年月日", "性別", "旧氏", "住所を定めた年月日"}
    assert "cell\t住所を定めた年月日\t平成27年6月1日\n" in text  # 第8号's 届出日 is not 第7号
    assert "header\t住所\t" in text


# --- 9. 請求事由 ---------------------------------------------------------------------------------


def test_L19_09_purpose_judged() -> None:
    """§12の3④四 利用の目的: empty or meaningless reasons are refused; 二号 needs the 提出先;
    a 特定事務受任者 (§12の3②③) names the client (④五) and uses the 職務上請求書."""
    h = H.household(2)
    base = CertificateRequest(third_party(), LICENSE, ("P0001",), purpose=CONCRETE)
    assert decide(base, h, TODAY).allowed
    for vague in ("", "必要なため", "手続きのため", "提出用", "確認のため", "住所確認", "念のため"):
        d = decide(replace(base, purpose=replace(CONCRETE, reason=vague)), h, TODAY)
        assert not d.allowed and "請求事由" in d.reasons[0], vague
    submission = replace(
        base, requester=replace(base.requester, ground=ThirdPartyGround.SUBMISSION)
    )
    d = decide(
        replace(submission, purpose=Purpose(reason="相続税の申告書に添付するため")), h, TODAY
    )
    assert not d.allowed and "提出先" in d.reasons[0]
    d = decide(
        replace(
            submission,
            purpose=Purpose(reason="相続税の申告書に添付するため", submit_to="北見税務署"),
        ),
        h,
        TODAY,
    )
    assert d.allowed
    agent = replace(base.requester, profession=Profession.JUDICIAL_SCRIVENER)
    d = decide(replace(base, requester=agent), h, TODAY)
    assert not d.allowed and "職務上請求書" in d.reasons[0]
    docs = (*LICENSE, IdentityDocument.WORK_REQUEST_FORM)
    d = decide(replace(base, requester=agent, identity_documents=docs), h, TODAY)
    assert not d.allowed and "依頼者" in d.reasons[0]
    agent = replace(agent, client_name="株式会社北見不動産")
    assert decide(replace(base, requester=agent, identity_documents=docs), h, TODAY).allowed
    # §12: no 請求事由 needed from the household itself (省令第4条②: only in DV cases).
    own = CertificateRequest(Requester(K.SELF, registered(h, "P0001")), LICENSE)
    assert decide(own, h, TODAY).allowed
    assert not C.vague_reason("貸金返還請求訴訟の提起のため")


# --- 10. §12の4 is for another municipality's residents -------------------------------------


def test_L19_10_wide_area_refused_for_own_residents() -> None:
    """§12の4①: 広域交付 is asked of a 市町村長 「以外の」 the resident's own; this city's own
    residents ask under §12."""
    h = H.household(2)  # 北見市 (012084)
    r = CertificateRequest(
        Requester(K.WIDE_AREA, registered(h, "P0000")), (IdentityDocument.MY_NUMBER_CARD,)
    )
    d = decide(r, h, TODAY, CertificateContext(municipality_code="012084"))
    assert not d.allowed and "広域交付ではありません" in d.reasons[0]
    assert decide(r, h, TODAY, CertificateContext(municipality_code="011002")).allowed


# --- 11. no 個人番号 --------------------------------------------------------------------------


def test_L19_11_missing_my_number_is_a_visible_decision() -> None:
    """A person without a 個人番号 asked for it: the resident is told, and the row prints
    「記録なし」 instead of silently disappearing."""
    h = H.with_member(H.household(2), 1, my_number=None)
    r = CertificateRequest(
        Requester(K.HOUSEHOLD_MEMBER, registered(h, "P0000")),
        LICENSE,
        items=frozenset({Item.MY_NUMBER}),
    )
    d = decide(r, h, TODAY)
    assert d.allowed and any("個人番号の記録がありません" in x for x in d.reasons)
    text = text_of(r, d, h)
    assert "cell\t個人番号\t記録なし" in text and h.member("P0000").my_number in text


# --- 12. 法定代理人 ---------------------------------------------------------------------------


def test_L19_12_legal_representative_with_proof() -> None:
    """§12④: a 法定代理人 shows the document that proves the representation (戸籍謄本 for a
    親権者 or 未成年後見人, the 登記事項証明書 for a 成年後見人, 保佐人, 補助人); no 委任状."""
    h = H.household(3)
    parent = Requester(
        K.LEGAL_REPRESENTATIVE,
        by_hand(),
        principal_id="P0002",
        representation=Representation.PARENT,
    )
    r = CertificateRequest(parent, LICENSE, ("P0002",), items=frozenset({Item.MY_NUMBER}))
    d = decide(r, h, TODAY)
    assert not d.allowed and "戸籍謄本" in d.reasons[0]
    d = decide(
        replace(r, identity_documents=(*LICENSE, IdentityDocument.FAMILY_REGISTER)), h, TODAY
    )
    assert d.allowed and d.rule is C.Rule.OWN and not d.deliver_by_mail
    guardian = replace(parent, representation=Representation.ADULT_GUARDIAN)
    d = decide(
        replace(
            r, requester=guardian, identity_documents=(*LICENSE, IdentityDocument.FAMILY_REGISTER)
        ),
        h,
        TODAY,
    )
    assert not d.allowed and "登記事項証明書" in d.reasons[0]
    # Only for a current member of the household.
    gone = H.removed(h, 2)
    d = decide(
        replace(
            r,
            identity_documents=(*LICENSE, IdentityDocument.FAMILY_REGISTER),
            person_ids=("P0001",),
        ),
        gone,
        TODAY,
    )
    assert not d.allowed


# --- 13. what always prints, what is a choice -----------------------------------------------


def test_L19_13_item_options_for_the_dialog() -> None:
    """§12⑤ lets go only 第4号, 第5号, 第8号の2, 第13号 (and the 外国人住民 items): 前住所,
    住民となった年月日 and 記事 always print on a §12 copy, so they are no choice; for §12の3
    only the 基礎証明事項 always print and every other item but the numbers is a choice."""
    own = C.item_options(K.SELF)
    assert {Item.PREVIOUS_ADDRESS, Item.BECAME_RESIDENT, Item.HISTORY} <= own.always
    assert own.on_request == {
        Item.HEAD_AND_RELATIONSHIP,
        Item.HONSEKI,
        Item.MY_NUMBER,
        Item.JUMINHYO_CODE,
        *C.FOREIGN_ITEMS,
    }
    third = C.item_options(K.THIRD_PARTY)
    assert third.always == {Item.ADDRESS_SET, Item.FORMER_NAME, Item.ALIAS}
    assert third.never == C.NUMBER_ITEMS and Item.HISTORY in third.with_reason
    removed_third = C.item_options(K.THIRD_PARTY, removed=True)
    assert {Item.BECAME_RESIDENT, Item.PREVIOUS_ADDRESS} <= removed_third.always


# --- second pass (r19): what the first pass still let through ------------------------------


def test_R19_09b_reason_without_content_is_refused() -> None:
    """§12の3④四: 「aaaa」 or a placeholder is no 利用の目的 (it passed, being 4 characters)."""
    h = H.household(2)
    base = CertificateRequest(third_party(), LICENSE, ("P0001",), purpose=CONCRETE)
    for vague in ("aaaa", "ああああ", "abab", "テストです", "test用", "ＸＸＸＸＸ"):
        d = decide(replace(base, purpose=replace(CONCRETE, reason=vague)), h, TODAY)
        assert not d.allowed and "請求事由" in d.reasons[0], vague
    for concrete in ("相続登記の申請", "NHK受信契約の解約手続に添付", "訴訟提起"):
        assert not C.vague_reason(concrete), concrete


def test_R19_03c_client_named_as_the_perpetrator() -> None:
    """要領 第6-10: a request by the 加害者's 代理人 is the 加害者's request. A 特定事務受任者
    names the client (§12の3④五) by name only: a client named as a registered 加害者 is told to
    the clerk and the supervisor (the 職務上請求書 carries no birth date to be sure)."""
    known = (PerpetratorRecord("加害　太郎", date(1975, 1, 1)),)
    h = H.protected(H.household(3), 1, known=known)
    docs = (*LICENSE, IdentityDocument.WORK_REQUEST_FORM)
    lawyer = third_party(
        by_hand("弁護　士郎", date(1960, 3, 3)),
        profession=Profession.LAWYER,
        client_name="加害 太郎",
    )
    r = CertificateRequest(lawyer, docs, person_ids=("P0002",), purpose=CONCRETE)
    d = decide(r, h, TODAY)
    assert d.needs_supervisor and "依頼者" in d.screen_text and "加害者" in d.screen_text
    assert "加害者" not in "".join(d.reasons)  # the resident hears nothing of it
    other = replace(r, requester=replace(lawyer, client_name="株式会社北見不動産"))
    assert "依頼者" not in decide(other, h, TODAY).screen_text


def test_R19_06c_permanent_resident_has_no_period_row() -> None:
    """§30の45 表: a 永住者 (中長期在留者 without a 在留期間) prints 区分 and 在留資格; the
    在留期間 and its 満了の日 labels were printed over empty cells."""
    h = H.with_member(H.foreign(H.household(2), 1), 1, residence_status="永住者")
    h = H.with_member(h, 1, period_of_stay=None, period_of_stay_until=None)
    r = CertificateRequest(
        Requester(K.SELF, registered(h, "P0001")),
        (IdentityDocument.RESIDENCE_CARD,),
        ("P0001",),
        items=frozenset(C.FOREIGN_ITEMS),
    )
    text = text_of(r, decide(r, h, TODAY), h)
    assert "cell\t在留資格\t永住者" in text and "cell\t在留カードの番号\tAB12345678CD" in text
    assert "在留期間" not in text


def test_R19_02d_perpetrator_is_recognised_before_any_other_answer() -> None:
    """要領 第6-10: the registered 加害者 asking for a copy that reveals the protected address is
    refused with the neutral reason and the clerk is told — whatever else is wrong with the
    request. Before, as 本人 or 同一世帯員 of the victim's household, without documents, or with
    a vague 請求事由, the answer coached them ("not a member", "documents", "be concrete") and
    the clerk was never told who asked."""
    h = H.protected(H.household(3), 1, perpetrators=("PX-PERP",))
    perp = PersonRef("加害　太郎", "北見市常盤町1丁目", date(1975, 1, 1), "PX-PERP")
    for r in (
        CertificateRequest(Requester(K.SELF, perp), LICENSE, person_ids=("P0002",)),
        CertificateRequest(Requester(K.HOUSEHOLD_MEMBER, perp), LICENSE, person_ids=("P0002",)),
        CertificateRequest(third_party(perp), (), person_ids=("P0002",), purpose=CONCRETE),
        CertificateRequest(
            third_party(perp),
            LICENSE,
            person_ids=("P0002",),
            purpose=replace(CONCRETE, reason="必要なため"),
        ),
        CertificateRequest(Requester(K.PROXY, perp, principal_id="P0002"), LICENSE),
    ):
        d = decide(r, h, TODAY)
        assert d.reasons == (C.REFUSAL_TO_PERPETRATOR,), (r.requester.kind, d.reasons)
        assert "加害者" in d.screen_text
    # Someone else making the same mistakes hears what is wrong.
    other = PersonRef("窓口　来人", "北見市常盤町2丁目", date(1980, 5, 5), "PX-OTHER")
    d = decide(CertificateRequest(Requester(K.SELF, other), LICENSE, ("P0002",)), h, TODAY)
    assert d.reasons != (C.REFUSAL_TO_PERPETRATOR,) and not d.screen_text
