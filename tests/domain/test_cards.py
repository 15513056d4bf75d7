"""Card lifecycle, matching the card's 4情報 with the register, expiry warnings, 照合番号B."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from app.domain.cards import (
    TRANSITIONS,
    CardAction,
    CardFaceInfo,
    CardState,
    IdentityChecklist,
    IncompleteIdentityCheck,
    InvalidCardTransition,
    InvalidCollationNumber,
    add_months,
    allowed_actions,
    check_collation_number_b,
    check_issue_checklist,
    collation_number_b,
    compare,
    expiry_status,
    normalize_address,
    transition,
    wareki_yymmdd,
)
from app.domain.records import Household, Person


def _person(**kw: object) -> Person:
    base: dict[str, object] = dict(
        person_id="P1",
        juminhyo_code="12345678901",
        my_number="123456789018",
        version=3,
        status="resident",
        name="窓口 花子",
        name_kana="マドグチ ハナコ",
        birth_date=date(1985, 4, 12),
        sex="female",
        relationship="世帯主",
    )
    base.update(kw)
    return Person(**base)  # type: ignore[arg-type]


def _household(person: Person, **kw: object) -> Household:
    base: dict[str, object] = dict(
        household_id="H1",
        municipality_code="012084",
        postal_code="090-0001",
        address="北海道北見市北五条東2丁目1番地",
        katagaki=None,
        head_person_id=person.person_id,
        members=(person,),
    )
    base.update(kw)
    return Household(**base)  # type: ignore[arg-type]


def _card(**kw: object) -> CardFaceInfo:
    base: dict[str, object] = dict(
        name="窓口 花子",
        address="北海道北見市北五条東2丁目1番地",
        birth_date=date(1985, 4, 12),
        sex="female",
        my_number="123456789018",
    )
    base.update(kw)
    return CardFaceInfo(**base)  # type: ignore[arg-type]


# -- lifecycle ---------------------------------------------------------------------------------


def test_the_normal_life_of_a_card() -> None:
    s = CardState.NOT_ISSUED
    for action, expected in [
        (CardAction.ISSUE, CardState.ISSUED),
        (CardAction.SUSPEND, CardState.SUSPENDED),
        (CardAction.RESUME, CardState.ISSUED),
        (CardAction.REVOKE, CardState.REVOKED),
        (CardAction.COLLECT, CardState.COLLECTED),
    ]:
        s = transition(s, action)
        assert s == expected
    assert transition(CardState.SUSPENDED, CardAction.SURRENDER) == CardState.SURRENDERED


def test_every_other_transition_is_rejected_in_japanese() -> None:
    rejected = 0
    for state, action in itertools.product(CardState, CardAction):
        if (state, action) in TRANSITIONS:
            continue
        with pytest.raises(InvalidCardTransition) as exc:
            transition(state, action)
        assert "記録できません" in exc.value.message
        rejected += 1
    assert rejected == len(CardState) * len(CardAction) - len(TRANSITIONS)
    assert allowed_actions(CardState.COLLECTED) == []
    assert allowed_actions(CardState.SURRENDERED) == []
    with pytest.raises(InvalidCardTransition, match="一時停止解除"):
        transition(CardState.ISSUED, CardAction.RESUME)


def test_issue_needs_the_identity_checklist() -> None:
    with pytest.raises(IncompleteIdentityCheck):
        check_issue_checklist(None)
    with pytest.raises(IncompleteIdentityCheck, match="顔写真の照合"):
        check_issue_checklist(IdentityChecklist(False, ("通知書",), True))
    with pytest.raises(IncompleteIdentityCheck, match="本人確認書類"):
        check_issue_checklist(IdentityChecklist(True, (), True))
    check_issue_checklist(IdentityChecklist(True, ("運転免許証",), True))


# -- matching ----------------------------------------------------------------------------------


def test_identical_card_and_register_match() -> None:
    p = _person()
    assert compare(_card(), p, _household(p)) == []


def test_width_spaces_and_address_notation_are_normalised() -> None:
    p = _person()
    h = _household(p, address="北海道北見市北五条東２丁目１番地")
    card = _card(name="窓口\u3000花子", address="北海道北見市北五条東2-1")
    diffs = compare(card, p, h)
    assert [d.field for d in diffs] == ["name"] and diffs[0].kind == "notation"
    a = normalize_address("北見市東三輪1丁目2番3号")
    assert a == normalize_address("北見市東三輪１－２－３")
    assert normalize_address("北見市東三輪1ー2") == "北見市東三輪1-2"
    # Kanji numerals are not converted: different text stays different.
    assert normalize_address("北五条") != normalize_address("北5条")


def test_address_change_needs_endorsement() -> None:
    p = _person(previous_address="北海道網走市南六条東1丁目")
    h = _household(p)
    diffs = compare(_card(address="北海道網走市南六条東1丁目"), p, h)
    assert len(diffs) == 1
    d = diffs[0]
    assert d.field == "address" and d.kind == "needs_endorsement" and "追記" in d.message
    other = compare(_card(address="北海道北見市とん田東町1番地"), p, h)
    assert other[0].kind == "needs_endorsement"


def test_katagaki_missing_on_card_is_a_notation_difference() -> None:
    p = _person()
    h = _household(p, katagaki="北見ハイツ101号室")
    diffs = compare(_card(), p, h)
    assert [(d.field, d.kind) for d in diffs] == [("address", "notation")]


def test_real_mismatches_are_reported_field_by_field() -> None:
    p = _person()
    h = _household(p)
    diffs = compare(
        _card(name="窓口 太郎", birth_date=date(1985, 4, 13), sex="male", my_number="234567890121"),
        p,
        h,
    )
    assert [(d.field, d.kind) for d in diffs] == [
        ("name", "needs_endorsement"),
        ("birth_date", "mismatch"),
        ("sex", "mismatch"),
        ("my_number", "mismatch"),
    ]
    assert all("窓口" not in d.message and "2345" not in d.message for d in diffs)
    assert "234567890121" not in repr(diffs)
    # Read with 照合番号B the card gives no 個人番号: nothing to compare.
    assert compare(_card(my_number=None), p, h) == []


# -- expiry ------------------------------------------------------------------------------------


def test_expiry_warns_three_months_ahead() -> None:
    today = date(2026, 11, 26)
    assert expiry_status("カード", date(2027, 3, 1), today).level == "valid"
    assert expiry_status("カード", date(2027, 2, 26), today).level == "expiring"
    assert expiry_status("カード", date(2026, 11, 26), today).level == "expiring"
    s = expiry_status("カード", date(2026, 11, 25), today)
    assert s.level == "expired" and "切れています" in s.message
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


# -- 照合番号B -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "yymmdd"),
    [
        (date(1985, 4, 12), "600412"),  # 昭和60年
        (date(1989, 1, 7), "640107"),  # 昭和64年
        (date(1989, 1, 8), "010108"),  # 平成元年
        (date(2019, 4, 30), "310430"),  # 平成31年
        (date(2019, 5, 1), "010501"),  # 令和元年
        (date(1926, 12, 24), "151224"),  # 大正15年
    ],
)
def test_wareki_yymmdd(day: date, yymmdd: str) -> None:
    assert wareki_yymmdd(day) == yymmdd


def test_collation_number_b() -> None:
    assert collation_number_b(date(1985, 4, 12), 2035, "5678") == "60041220355678"
    assert check_collation_number_b("６００４１２２０３５５６７８") == "60041220355678"
    for bad in ("6004122035567", "6004122035567a", ""):
        with pytest.raises(InvalidCollationNumber):
            check_collation_number_b(bad)
    with pytest.raises(InvalidCollationNumber):
        collation_number_b(date(1985, 4, 12), 2035, "56")
