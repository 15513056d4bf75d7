"""The rules of 住基法 for a 住民異動届, table by table, each row citing its article.

Every row starts from a draft of data.py that passes every check, changes one thing, and
names the finding that the law requires for it (or none)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from msgspec.structs import replace

from app.domain.certificates import IdentityDocument
from app.domain.notifications import (
    Address,
    CheckContext,
    Filer,
    FilerKind,
    NotificationDraft,
    Procedure,
    Severity,
    check,
    may_file,
)
from tests.domain.notifications import data as D

CTX = CheckContext(D.TODAY, D.REGISTER, D.TOWNS)
E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTICE


def codes(d: NotificationDraft, today: date = D.TODAY) -> dict[str, Severity]:
    return {f.code: f.severity for f in check(d, CheckContext(today, D.REGISTER, D.TOWNS))}


@pytest.mark.parametrize("name", sorted(D.VALID))
def test_every_valid_draft_passes(name: str) -> None:
    findings = check(D.VALID[name](), CTX)
    assert findings == (), [f.message for f in findings]


# ---------------------------------------------------------------------------------------------
# Time limits: (article, builder, moved_on, filed_on, expected code or None, severity)

LIMITS = [
    ("§22① 14日目に届出 (民法140 初日不算入)", D.move_in, "2026-04-01", "2026-04-15", None, None),
    (
        "§22① 15日目は期間経過、過料の対象 §52②",
        D.move_in,
        "2026-04-01",
        "2026-04-16",
        "late_filing",
        W,
    ),
    ("§22① 末日が土曜 → 月曜 (自治法4条の2④)", D.move_in, "2026-03-28", "2026-04-13", None, None),
    (
        "§23 転居 末日こどもの日・振替休日 → 5/7",
        D.move_within_part,
        "2026-04-21",
        "2026-05-07",
        None,
        None,
    ),
    ("§23 転居 5/8 は期間経過", D.move_within_part, "2026-04-21", "2026-05-08", "late_filing", W),
    ("§25 世帯主変更 末日が年末年始 → 1/4", D.head_change, "2026-12-17", "2027-01-04", None, None),
    ("§25 世帯分離 1/5 は期間経過", D.separation, "2026-12-17", "2027-01-05", "late_filing", W),
    (
        "§23 異動日が届出日より後 (転居は事後の届出)",
        D.move_within_whole,
        "2026-04-21",
        "2026-04-20",
        "moved_after_filing",
        E,
    ),
    ("§25 異動日が届出日より後", D.merger, "2026-04-21", "2026-04-20", "moved_after_filing", E),
    ("§24 転出 予定日の前の届出 (あらかじめ)", D.move_out, "2026-05-01", "2026-04-20", None, None),
    ("§24 転出 当日の届出", D.move_out, "2026-04-20", "2026-04-20", None, None),
    (
        "§24 転出後14日以内: 受理、転出日を確認",
        D.move_out,
        "2026-04-10",
        "2026-04-20",
        "move_out_after_move",
        W,
    ),
    ("§24 転出後14日を過ぎた届出 §52②", D.move_out, "2026-03-20", "2026-04-20", "late_filing", W),
    (
        "§24の2 特例転出も§24の時期",
        D.special_move_out,
        "2026-04-01",
        "2026-04-20",
        "late_filing",
        W,
    ),
]


@pytest.mark.parametrize(
    ("builder", "moved", "filed", "code", "severity"),
    [row[1:] for row in LIMITS],
    ids=[row[0] for row in LIMITS],
)
def test_time_limits(
    builder: Callable[[], NotificationDraft],
    moved: str,
    filed: str,
    code: str | None,
    severity: Severity | None,
) -> None:
    d = builder()
    d = replace(d, moved_on=date.fromisoformat(moved), filed_on=date.fromisoformat(filed))
    if d.move_out_certificate is not None:  # keep the certificate's planned day with the move
        d = replace(d, move_out_certificate=replace(d.move_out_certificate, planned_on=d.moved_on))
    found = codes(d, today=d.filed_on)
    time_codes = {
        "late_filing",
        "moved_after_filing",
        "move_out_after_move",
        "special_move_in_expired",
    }
    got = {c: s for c, s in found.items() if c in time_codes}
    assert got == ({code: severity} if code else {})


def test_a_late_filing_is_flagged_not_refused() -> None:
    d = replace(D.move_within_part(), moved_on=date(2026, 3, 1))
    findings = check(d, CTX)
    late = next(f for f in findings if f.code == "late_filing")
    assert "令和8年3月16日まで" in late.message
    assert "住基法第52条第2項" in late.article
    assert not may_file(findings)
    assert may_file(findings, acknowledged={"late_filing"})


def test_the_filing_day_is_not_in_the_future() -> None:
    d = replace(D.move_out(), filed_on=date(2026, 4, 21))
    assert codes(d)["filed_in_future"] == E


# ---------------------------------------------------------------------------------------------
# 転入: 転出証明書 (§22②, 令§23) and the 特例 of §24の2


def _special(planned: str, moved: str, filed: str) -> NotificationDraft:
    d = D.move_in(special=True)
    c = replace(d.move_out_certificate, planned_on=date.fromisoformat(planned))
    return replace(
        d,
        move_out_certificate=c,
        moved_on=date.fromisoformat(moved),
        filed_on=date.fromisoformat(filed),
    )


MOVE_IN_ROWS = [
    (
        "§22② 転出証明書なしの転入",
        lambda: replace(D.move_in(), move_out_certificate=None),
        "move_in_no_certificate",
        E,
    ),
    (
        "§22② 住基ネットの情報で通常の転入はできない",
        lambda: replace(D.move_in(), move_out_certificate=D.certificate("jukinet")),
        "move_in_no_certificate",
        E,
    ),
    (
        "§24の2① 特例転入はカードの提出が要る",
        lambda: replace(D.move_in(special=True), card_presented=False),
        "special_move_in_no_card",
        E,
    ),
    (
        "§24の2③ 特例転入は転出証明書情報が要る",
        lambda: replace(D.move_in(special=True), move_out_certificate=D.certificate("paper")),
        "special_move_in_no_certificate",
        E,
    ),
    (
        "§24の2 予定日から30日以内 (3/31)",
        lambda: _special("2026-03-01", "2026-03-25", "2026-03-31"),
        None,
        None,
    ),
    (
        "§24の2 予定日から30日を過ぎた",
        lambda: _special("2026-03-01", "2026-03-25", "2026-04-01"),
        "special_move_in_expired",
        E,
    ),
    (
        "§24の2・§22 転入から14日 (日曜→4/20)",
        lambda: _special("2026-04-01", "2026-04-05", "2026-04-20"),
        None,
        None,
    ),
    (
        "§24の2・§22 転入から14日を過ぎた",
        lambda: _special("2026-04-01", "2026-04-05", "2026-04-21"),
        "special_move_in_expired",
        E,
    ),
    (
        "§22①六 転入前の住民票コード",
        lambda: replace(
            D.move_in(),
            movers=(replace(D.move_in().movers[0], juminhyo_code=None), D.move_in().movers[1]),
        ),
        "mover_no_code",
        E,
    ),
    (
        "§22② 証明書にない人は転入できない",
        lambda: replace(
            D.move_in(), movers=(replace(D.move_in().movers[0], juminhyo_code=D.code(99)),)
        ),
        "mover_not_in_certificate",
        E,
    ),
    (
        "§22② 証明書と氏名が違う",
        lambda: replace(
            D.move_in(),
            movers=(replace(D.move_in().movers[0], name="札幌　建一"), D.move_in().movers[1]),
        ),
        "certificate_mismatch",
        W,
    ),
    (
        "§9① 転入日と転出予定日が違う: 通知",
        lambda: replace(D.move_in(), moved_on=date(2026, 4, 14)),
        "certificate_date_differs",
        N,
    ),
    (
        "§9① 転出先が別の市町村でも受理",
        lambda: replace(
            D.move_in(),
            move_out_certificate=replace(D.certificate(), destination="北海道網走市南6条東1丁目"),
        ),
        "certificate_destination_differs",
        N,
    ),
    (
        "§22①四 従前の住所が証明書と違う",
        lambda: replace(D.move_in(), old_address=Address(text="北海道札幌市北区北10条西1丁目")),
        "old_address_differs",
        W,
    ),
]


@pytest.mark.parametrize(
    ("builder", "code", "severity"), [r[1:] for r in MOVE_IN_ROWS], ids=[r[0] for r in MOVE_IN_ROWS]
)
def test_move_in(
    builder: Callable[[], NotificationDraft], code: str | None, severity: Severity | None
) -> None:
    d = builder()
    found = codes(d, today=d.filed_on)
    if code is None:
        assert not [c for c, s in found.items() if s == E], found
    else:
        assert found.get(code) == severity, found


# ---------------------------------------------------------------------------------------------
# Addresses: 転居 inside (§23), 転入 from outside (§22), 転出 to outside (§24), the 町名一覧

SAPPORO = Address(text="北海道札幌市北区北24条西5丁目1番1号")
ADDRESS_ROWS = [
    (
        "§23/§24 市外への転居は転出届",
        lambda: replace(D.move_within_part(), new_address=SAPPORO),
        "new_address",
        "address_not_in_municipality",
        E,
    ),
    (
        "§23 同じ住所への転居",
        lambda: replace(D.move_within_part(), new_address=D.OLD_H1),
        "new_address",
        "same_address",
        E,
    ),
    (
        "町名一覧にない町名 (三輪)",
        lambda: replace(D.move_within_part(), new_address=Address(text="北海道北見市三輪5番地")),
        "new_address",
        "town_unknown",
        E,
    ),
    (
        "丁目のない町に丁目",
        lambda: replace(
            D.move_within_part(), new_address=Address(text="北海道北見市北進町2丁目3番地")
        ),
        "new_address",
        "address_form",
        W,
    ),
    (
        "郵便番号が町名と合わない",
        lambda: replace(
            D.move_within_part(), new_address=replace(D.NEW_IN_TOWN, postal_code="090-0001")
        ),
        "new_address",
        "postal_code_differs",
        W,
    ),
    (
        "§23 市内からの転入は転居届",
        lambda: replace(D.move_in(), old_address=D.OLD_H1),
        "old_address",
        "address_in_municipality",
        E,
    ),
    (
        "§22① 転入先は市内",
        lambda: replace(D.move_in(), new_address=SAPPORO),
        "new_address",
        "address_not_in_municipality",
        E,
    ),
    (
        "§24 市内への転出は転居届",
        lambda: replace(D.move_out(), new_address=D.NEW_IN_TOWN),
        "new_address",
        "address_in_municipality",
        E,
    ),
    (
        "§24 転出先がない",
        lambda: replace(D.move_out(), new_address=None),
        "new_address",
        "address_missing",
        E,
    ),
    (
        "§25 世帯変更で住所は変わらない",
        lambda: replace(D.head_change(), new_address=D.NEW_IN_TOWN),
        "new_address",
        "address_changes",
        E,
    ),
]


@pytest.mark.parametrize(
    ("builder", "field", "code", "severity"),
    [r[1:] for r in ADDRESS_ROWS],
    ids=[r[0] for r in ADDRESS_ROWS],
)
def test_addresses(
    builder: Callable[[], NotificationDraft], field: str, code: str, severity: Severity
) -> None:
    found = [f for f in check(builder(), CTX) if f.code == code]
    assert found and found[0].field == field and found[0].severity == severity, check(
        builder(), CTX
    )


def test_an_unknown_town_names_candidates() -> None:
    d = replace(D.move_within_part(), new_address=Address(text="北海道北見市三輪5番地"))
    (f,) = [f for f in check(d, CTX) if f.code == "town_unknown"]
    assert (
        f.message
        == "町名「三輪」は北海道北見市の町名一覧にありません（候補: 中央三輪、西三輪、東三輪）。"
    )


# ---------------------------------------------------------------------------------------------
# 届出人 (§26, §27③), 本人確認 (§27②), 支援措置


def _filer(kind: FilerKind, person_id: str | None, **kw: object) -> Callable[[], NotificationDraft]:
    def build() -> NotificationDraft:
        p = D.REGISTER.person(person_id) if person_id else None
        name = p.name if p else "代理　人子"
        return replace(
            D.move_within_part(), filer=Filer(kind=kind, name=name, person_id=person_id, **kw)
        )

    return build


FILER_ROWS = [
    ("§26① 世帯主が世帯員の分を届け出る", _filer(FilerKind.HEAD, "P1"), None),
    (
        "§26① 世帯主でない者は世帯主として届け出られない",
        _filer(FilerKind.HEAD, "P3"),
        "filer_not_head",
    ),
    ("同一世帯員の届出", _filer(FilerKind.MEMBER, "P4"), None),
    (
        "他の世帯の者は世帯員として届け出られない",
        _filer(FilerKind.MEMBER, "P6"),
        "filer_not_member",
    ),
    ("本人として届け出る者は異動者", _filer(FilerKind.SELF, "P4"), "filer_not_self"),
    ("§27③ 代理人は委任状", _filer(FilerKind.PROXY, None), "filer_no_attorney"),
    ("§27③ 委任状のある代理人", _filer(FilerKind.PROXY, None, power_of_attorney=True), None),
    ("§27③ 法定代理人は資格を示す書類", _filer(FilerKind.LEGAL, None), "filer_no_attorney"),
]


@pytest.mark.parametrize(
    ("builder", "code"), [r[1:] for r in FILER_ROWS], ids=[r[0] for r in FILER_ROWS]
)
def test_filer(builder: Callable[[], NotificationDraft], code: str | None) -> None:
    found = {c for c, s in codes(builder()).items() if s == E}
    assert found == ({code} if code else set())


@pytest.mark.parametrize(
    ("documents", "ok"),
    [
        ((IdentityDocument.DRIVERS_LICENSE,), True),  # 顔写真付き1点
        ((IdentityDocument.MY_NUMBER_CARD,), True),
        ((IdentityDocument.HEALTH_INSURANCE,), False),  # 写真なし1点では足りない
        ((IdentityDocument.HEALTH_INSURANCE, IdentityDocument.PENSION_BOOK), True),  # 2点
        ((), False),
    ],
)
def test_identity_documents_article_27_2(documents: tuple[IdentityDocument, ...], ok: bool) -> None:
    d = replace(D.move_within_part(), identity_documents=documents)
    assert ("identity_insufficient" not in codes(d)) is ok


def _protected_register():
    return D.Register.of([D.H1, D.H2, D.H3, D.H4, D.H5])


def test_a_protected_person_is_flagged_on_the_clerk_screen() -> None:
    p7 = D.H4.members[0]
    d = replace(
        D.move_within_whole(),
        filer=D.filer_self(p7),
        movers=(D.mover(p7),),
        households=(
            D.HouseholdPlan(
                household_id="H4",
                roles=(D.Role(key="P7", relationship="世帯主"),),
                at_new_address=True,
            ),
        ),
        old_address=Address(text=D.H4.address),
        source_household_id="H4",
        relied_versions=D.relied(D.H4),
    )
    findings = check(d, CTX)
    (f,) = [f for f in findings if f.code == "support_measure"]
    assert f.severity == W and f.field == "movers[0]" and "寿　春子" in f.message
    assert not [f for f in findings if f.severity == E]


def test_the_registered_perpetrator_is_not_served() -> None:
    p7, p9 = D.H4.members[0], D.H5.members[0]
    d = replace(
        D.move_within_whole(),
        filer=Filer(kind=FilerKind.PROXY, name=p9.name, person_id="P9", power_of_attorney=True),
        movers=(D.mover(p7),),
        households=(
            D.HouseholdPlan(
                household_id="H4",
                roles=(D.Role(key="P7", relationship="世帯主"),),
                at_new_address=True,
            ),
        ),
        old_address=Address(text=D.H4.address),
        source_household_id="H4",
        relied_versions=D.relied(D.H4),
    )
    f = next(f for f in check(d, CTX) if f.code == "filer_perpetrator")
    assert f.severity == E and f.field == "filer"
    # Once the measure has ended the filer is served again.
    later = CheckContext(date(2027, 4, 1), D.REGISTER, D.TOWNS)
    assert "filer_perpetrator" not in {
        f.code
        for f in check(replace(d, filed_on=date(2027, 4, 1), moved_on=date(2027, 3, 30)), later)
    }


# ---------------------------------------------------------------------------------------------
# Movers against the register


def test_a_mover_must_be_a_resident_of_the_chosen_household() -> None:
    p10 = D.H1.members[4]  # a 除票
    d = replace(D.move_within_part(), movers=(*D.move_within_part().movers, D.mover(p10)))
    assert codes(d)["mover_removed"] == E
    p6 = D.H3.members[0]
    d = replace(D.move_within_part(), movers=(*D.move_within_part().movers, D.mover(p6)))
    assert codes(d)["mover_other_household"] == E


def test_the_versions_read_must_be_recorded() -> None:
    d = replace(D.move_within_part(), relied_versions={})
    assert codes(d)["relied_version_missing"] == E


def test_findings_are_sorted_errors_first() -> None:
    d = replace(D.move_in(), move_out_certificate=None, moved_on=date(2026, 4, 1))
    severities = [f.severity for f in check(d, CTX)]
    assert severities == sorted(severities)
    assert d.procedure == Procedure.MOVE_IN
