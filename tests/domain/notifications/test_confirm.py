"""The head office's confirmation: new versions of persons and households with the items of
the record layout (別添1: 異動事由, 異動年月日, 届出年月日), written as 住基法第7条 lists them, and
conflicts refused instead of overwritten."""

from __future__ import annotations

from datetime import date

import pytest
from msgspec.structs import replace

from app.domain.errors import DomainError
from app.domain.notifications import (
    ConflictError,
    ConflictKind,
    Register,
    confirm,
    find_conflicts,
    overlapping,
)
from app.domain.records import Household, household_to_dict, parse_household
from tests.domain.notifications import data as D

MOVED = date(2026, 4, 12)
FILED = date(2026, 4, 20)
REPORTED = "令和8年4月20日届出"


def run(draft, register=D.REGISTER, persons=None, households=("H100",)):
    result = confirm(
        draft,
        register,
        new_person_ids=persons or {},
        new_household_ids=list(households),
        towns=D.TOWNS,
    )
    for h in result.households:  # every output is a valid record of the interchange format
        assert parse_household(household_to_dict(h)) == h
    return result, {h.household_id: h for h in result.households}


def by_id(h: Household) -> dict:
    return {p.person_id: p for p in h.members}


def test_move_within_part_of_a_household() -> None:
    result, out = run(D.move_within_part())
    new, old = out["H100"], out["H1"]
    # 第7条第7号: the new address, 住所を定めた年月日 and its 届出日.
    assert (new.address, new.katagaki, new.postal_code) == (
        "北海道北見市北進町123番地4",
        None,
        "090-0052",
    )
    assert new.head_person_id == "P1" and [p.person_id for p in new.members] == ["P1", "P2"]
    p1 = by_id(new)["P1"]
    assert (p1.address_set_on, p1.address_set_reported_on) == (MOVED, FILED)
    assert p1.previous_address == D.H1.members[0].previous_address  # 転入前住所 stays (第8号)
    assert p1.history[-1].date == MOVED and p1.history[-1].kind == "転居"
    assert p1.history[-1].note == f"{D.ADDRESS_H1}　{D.KATAGAKI_H1}から転居　{REPORTED}"
    # The household that stays: 一郎 heads it, the 除票 stays listed, every 版数 goes up.
    assert old.head_person_id == "P3"
    assert [p.person_id for p in old.members] == ["P3", "P4", "P10"]
    assert by_id(old)["P4"].relationship == "妹"
    assert by_id(old)["P3"].history[-1].kind == "世帯主変更"
    # 版数: above the person's own and above the household's before (P2, who had H1's
    # highest, left: H1's version must still grow for the feed and the digest).
    for p in old.members:
        assert p.version == D.H1.version + 1 > D.REGISTER.person(p.person_id).version
    for p in new.members:
        assert p.version == D.REGISTER.person(p.person_id).version + 1
    assert old.version > D.H1.version
    # 異動履歴: 異動事由, 異動年月日, 届出年月日, 受付支所 per changed person.
    lines = {(c.person_id, c.reason, c.changed_on, c.reported_on) for c in result.changes}
    assert lines == {
        ("P1", "転居", MOVED, FILED),
        ("P2", "転居", MOVED, FILED),
        ("P3", "世帯主変更", MOVED, FILED),
        ("P4", "世帯主変更", MOVED, FILED),
    }
    assert {c.household_id for c in result.changes if c.reason == "転居"} == {"H100"}
    assert {c.office for c in result.changes} == {"端野総合支所"}
    assert result.deleted_household_ids == ()


def test_move_within_whole_household_keeps_its_id() -> None:
    _, out = run(D.move_within_whole(), households=())
    (h,) = out.values()
    assert h.household_id == "H1" and h.address == "北海道北見市北進町123番地4"
    assert [p.person_id for p in h.members] == ["P1", "P2", "P3", "P4", "P10"]


@pytest.mark.parametrize("special", [False, True])
def test_move_in_creates_the_residents(special: bool) -> None:
    d = D.move_in(special=special)
    result, out = run(d, persons={"new-1": "P100", "new-2": "P101"})
    h = out["H100"]
    assert h.head_person_id == "P100" and h.municipality_code == "012084"
    p = by_id(h)["P100"]
    cert = d.move_out_certificate.persons[0]
    assert (p.juminhyo_code, p.my_number) == (cert.juminhyo_code, cert.my_number)
    assert p.version == 1 and p.status == "resident"
    # 第7条第6号・第8号: 住民となった年月日, 住所を定めた年月日, 届出の年月日, 従前の住所.
    assert (p.became_resident_on, p.became_resident_reported_on) == (MOVED, FILED)
    assert (p.address_set_on, p.address_set_reported_on) == (MOVED, FILED)
    assert p.previous_address == "北海道札幌市中央区北1条西2丁目1番地　札幌タワー1201"
    (entry,) = p.history
    assert entry.kind == "転入" and entry.date == MOVED
    card = "（個人番号カード継続利用）" if special else ""
    assert entry.note == f"{p.previous_address}から転入{card}　{REPORTED}"
    assert result.person_ids == {"new-1": "P100", "new-2": "P101"}
    assert {c.reason for c in result.changes} == {"転入"}


def test_move_out_makes_removed_records() -> None:
    result, out = run(D.move_out(), households=())
    (h,) = out.values()
    assert h.household_id == "H1" and h.address == D.ADDRESS_H1
    for pid in ("P1", "P2", "P3", "P4"):
        p = by_id(h)[pid]
        assert p.status == "removed" and p.removed_on == date(2026, 5, 1)
        assert (p.removal_reason, p.moved_out_to) == (
            "転出",
            "北海道札幌市北区北24条西5丁目1番1号　北24条マンション305",
        )
        assert p.history[-1].kind == "転出" and p.history[-1].date == date(2026, 5, 1)
        assert "へ転出予定　" + REPORTED in p.history[-1].note
    assert by_id(h)["P10"].removed_on == date(2024, 3, 31)  # the old 除票 unchanged
    assert len(result.changes) == 4


def test_move_out_of_one_member() -> None:
    p3 = D.H1.members[2]
    d = replace(D.move_out(), movers=(D.mover(p3),), filer=D.filer_self(p3))
    d = replace(
        d,
        households=(
            D.HouseholdPlan(
                household_id="H1",
                roles=tuple(
                    D.Role(key=p.person_id, relationship=p.relationship)
                    for p in D.H1.members[:4]
                    if p.person_id != "P3"
                ),
            ),
        ),
    )
    _, out = run(d, households=())
    h = out["H1"]
    assert [p.person_id for p in h.members if p.status == "resident"] == ["P1", "P2", "P4"]
    assert by_id(h)["P3"].status == "removed"


def test_head_change() -> None:
    result, out = run(D.head_change(), households=())
    h = out["H1"]
    assert h.head_person_id == "P2" and by_id(h)["P1"].relationship == "夫"
    assert {c.person_id for c in result.changes} == {"P1", "P2"}
    assert {c.reason for c in result.changes} == {"世帯主変更"}


def test_separation_at_the_same_address() -> None:
    _, out = run(D.separation())
    new = out["H100"]
    assert (new.address, new.katagaki) == (D.ADDRESS_H1, D.KATAGAKI_H1)
    assert new.head_person_id == "P3" and [p.person_id for p in new.members] == ["P3"]
    assert "P3" not in by_id(out["H1"])


def test_merger_ends_the_household_that_joins() -> None:
    result, out = run(D.merger(), households=())
    assert set(out) == {"H1"} and result.deleted_household_ids == ("H2",)
    assert by_id(out["H1"])["P5"].relationship == "父"
    assert [c.reason for c in result.changes] == ["世帯合併"]


# ---------------------------------------------------------------------------------------------
# Conflicts: never a silent overwrite


def _bumped(person_id: str, **changes) -> Register:
    hs = []
    for h in D.REGISTER.households.values():
        members = tuple(
            replace(p, version=p.version + 1, **changes) if p.person_id == person_id else p
            for p in h.members
        )
        hs.append(replace(h, members=members))
    return Register.of(hs)


def test_a_version_the_register_moved_past_is_refused() -> None:
    register = _bumped("P2")
    (c,) = find_conflicts(D.move_within_part(), register)
    assert c.kind == ConflictKind.VERSION_MOVED and c.person_id == "P2"
    with pytest.raises(ConflictError) as e:
        run(D.move_within_part(), register)
    assert e.value.conflicts == (c,)
    assert "P2の版数" in e.value.message


def test_a_mover_who_left_meanwhile_is_refused() -> None:
    register = _bumped("P2", status="removed", removed_on=date(2026, 4, 15))
    kinds = {c.kind for c in find_conflicts(D.move_within_part(), register)}
    assert kinds == {ConflictKind.VERSION_MOVED, ConflictKind.NOT_RESIDENT}


def test_someone_who_joined_meanwhile_is_a_conflict() -> None:
    newcomer = D.person("P11", "北見　四郎", "キタミ シロウ", date(2010, 1, 1), "male", "子")
    h1 = replace(D.H1, members=(*D.H1.members, newcomer))
    register = Register.of([h1, D.H2, D.H3, D.H4, D.H5])
    (c,) = find_conflicts(D.move_within_part(), register)
    assert (c.kind, c.person_id, c.household_id) == (ConflictKind.HOUSEHOLD_CHANGED, "P11", "H1")


def test_two_notifications_on_the_same_persons_overlap() -> None:
    assert overlapping(D.move_within_part(), D.head_change(), D.REGISTER) == {
        "P1",
        "P2",
        "P3",
        "P4",
    }
    assert overlapping(D.move_within_part(), D.move_in(), D.REGISTER) == frozenset()


def test_ids_the_head_office_did_not_allocate_are_an_error() -> None:
    with pytest.raises(DomainError):
        run(D.move_within_part(), households=())
    with pytest.raises(DomainError):
        run(D.move_in(), persons={"new-1": "P100"})


def test_the_later_items_of_the_record_layout() -> None:
    """別添1 items the interchange format gained with issue 20: the 記事's 届出年月日, the
    住民でなくなった届出年月日 and 転出先世帯主 of a 転出, the 転入前世帯主 of a 転入."""
    _, out = run(D.move_within_part())
    assert by_id(out["H100"])["P1"].history[-1].reported_on == FILED
    assert by_id(out["H100"])["P1"].history[0].reported_on is None  # older 記事 as they were

    draft = replace(D.move_out(), destination_head_name="札幌 花子")
    _, out = run(draft)
    leaver = next(p for h in out.values() for p in h.members if p.person_id == draft.movers[0].key)
    assert (leaver.removal_reported_on, leaver.moved_out_head_name) == (FILED, "札幌 花子")

    draft = D.move_in()
    ids = {m.key: f"PN{i}" for i, m in enumerate(draft.movers)}
    _, out = run(draft, persons=ids)
    arrived = next(p for h in out.values() for p in h.members if p.person_id == "PN0")
    assert draft.move_out_certificate is not None
    assert arrived.previous_head_name == draft.move_out_certificate.head_name
    assert arrived.history[-1].reported_on == draft.filed_on
