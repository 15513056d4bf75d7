"""Households after a 届出 (住基法第7条第4号, §25): one 世帯主 each, nobody in two, everyone
placed, and the shape each procedure gives them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from msgspec.structs import replace

from app.domain.notifications import (
    CheckContext,
    HouseholdPlan,
    NotificationDraft,
    Procedure,
    Role,
    check,
    propose_households,
)
from tests.domain.notifications import data as D

CTX = CheckContext(D.TODAY, D.REGISTER, D.TOWNS)


def with_plans(
    builder: Callable[[], NotificationDraft], *plans: HouseholdPlan
) -> Callable[[], NotificationDraft]:
    return lambda: replace(builder(), households=plans)


MOVERS_PLAN = HouseholdPlan(
    household_id=None,
    roles=(Role(key="P1", relationship="世帯主"), Role(key="P2", relationship="妻")),
    at_new_address=True,
)
STAYERS = (Role(key="P3", relationship="世帯主"), Role(key="P4", relationship="妹"))

ROWS = [
    (
        "第7条第4号 世帯主のいない世帯 (世帯主が転居して残る世帯)",
        with_plans(
            D.move_within_part,
            MOVERS_PLAN,
            HouseholdPlan(household_id="H1", roles=(Role(key="P3", relationship="兄"), STAYERS[1])),
        ),
        "household_no_head",
    ),
    (
        "第7条第4号 世帯主が2人",
        with_plans(
            D.move_within_part,
            replace(
                MOVERS_PLAN,
                roles=(
                    Role(key="P1", relationship="世帯主"),
                    Role(key="P2", relationship="世帯主"),
                ),
            ),
            HouseholdPlan(household_id="H1", roles=STAYERS),
        ),
        "household_two_heads",
    ),
    (
        "一人は一つの世帯に",
        with_plans(
            D.move_within_part,
            MOVERS_PLAN,
            HouseholdPlan(household_id="H1", roles=(*STAYERS, Role(key="P2", relationship="母"))),
        ),
        "person_in_two_households",
    ),
    (
        "残る世帯員の世帯が決まっていない",
        with_plans(D.move_within_part, MOVERS_PLAN),
        "person_unplaced",
    ),
    (
        "続柄のない世帯員",
        with_plans(
            D.move_within_part,
            MOVERS_PLAN,
            HouseholdPlan(household_id="H1", roles=(STAYERS[0], Role(key="P4", relationship=""))),
        ),
        "relationship_missing",
    ),
    (
        "この届出の世帯員でない者",
        with_plans(
            D.move_within_part,
            MOVERS_PLAN,
            HouseholdPlan(
                household_id="H1", roles=(*STAYERS, Role(key="P6", relationship="同居人"))
            ),
        ),
        "role_unknown",
    ),
    (
        "転居者は新住所の世帯に",
        with_plans(
            D.move_within_part,
            replace(MOVERS_PLAN, at_new_address=False),
            HouseholdPlan(household_id="H1", roles=STAYERS),
        ),
        "mover_not_at_new_address",
    ),
    (
        "§23 入る世帯の住所が新住所と違う",
        with_plans(
            D.move_within_part,
            HouseholdPlan(
                household_id="H3",
                roles=(
                    Role(key="P6", relationship="世帯主"),
                    Role(key="P1", relationship="同居人"),
                    Role(key="P2", relationship="同居人"),
                ),
                at_new_address=True,
            ),
            HouseholdPlan(household_id="H1", roles=STAYERS),
        ),
        "target_address_differs",
    ),
    (
        "§24 転出者は市内の世帯に残らない",
        with_plans(
            D.move_out,
            HouseholdPlan(household_id="H1", roles=(Role(key="P1", relationship="世帯主"),)),
        ),
        "mover_stays",
    ),
    (
        "§25 世帯主が変わらない世帯主変更",
        with_plans(
            D.head_change,
            HouseholdPlan(
                household_id="H1",
                roles=tuple(
                    Role(key=p.person_id, relationship=p.relationship) for p in D.H1.members[:4]
                ),
            ),
        ),
        "head_unchanged",
    ),
    (
        "§25 世帯分離は新しい世帯を作る",
        with_plans(
            D.separation,
            HouseholdPlan(
                household_id="H1",
                roles=tuple(
                    Role(key=p.person_id, relationship=p.relationship) for p in D.H1.members[:4]
                ),
            ),
        ),
        "separation_shape",
    ),
    (
        "§25・§23 住所の違う世帯との合併は転居",
        lambda: replace(
            D.merger(),
            households=(
                HouseholdPlan(
                    household_id="H3",
                    roles=(
                        Role(key="P6", relationship="世帯主"),
                        Role(key="P5", relationship="父"),
                    ),
                ),
            ),
            relied_versions=D.relied(D.H2, D.H3),
        ),
        "merger_other_address",
    ),
]


@pytest.mark.parametrize(("builder", "code"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_household_rules(builder: Callable[[], NotificationDraft], code: str) -> None:
    assert code in {f.code for f in check(builder(), CTX)}


def test_moving_into_an_existing_household_at_the_new_address() -> None:
    """転居 of 北見 太郎 and 花子 into 幸 三郎's household at 幸町 (its members stay in it)."""
    d = replace(
        D.move_within_part(),
        new_address=D.Address(text=D.H3.address, postal_code=D.H3.postal_code),
        households=(
            HouseholdPlan(
                household_id="H3",
                roles=(
                    Role(key="P6", relationship="世帯主"),
                    Role(key="P1", relationship="同居人"),
                    Role(key="P2", relationship="同居人"),
                ),
                at_new_address=True,
            ),
            HouseholdPlan(household_id="H1", roles=STAYERS),
        ),
        relied_versions=D.relied(D.H1, D.H3),
    )
    assert check(d, CTX) == ()
    # Leaving 幸 三郎 out of his own household is an error.
    d2 = replace(
        d, households=(replace(d.households[0], roles=d.households[0].roles[1:]), d.households[1])
    )
    assert "person_unplaced" in {f.code for f in check(d2, CTX)}


def test_proposals_pass_once_the_clerk_fills_the_blanks() -> None:
    # The whole household moves: it keeps its id and its 続柄.
    plans = propose_households(Procedure.MOVE_WITHIN, D.H1, ("P1", "P2", "P3", "P4"))
    assert plans == D.move_within_whole().households
    # The 世帯主 and his wife move: they form a new household; the eldest who stays is proposed
    # as 世帯主 and the others' 続柄 are left for the clerk.
    plans = propose_households(Procedure.MOVE_WITHIN, D.H1, ("P1", "P2"))
    assert plans[0] == MOVERS_PLAN
    assert plans[1].roles == (
        Role(key="P3", relationship="世帯主"),
        Role(key="P4", relationship=""),
    )
    d = replace(D.move_within_part(), households=plans)
    assert {f.code for f in check(d, CTX)} == {"relationship_missing"}
    # 転出 of the whole household: nobody stays.
    assert propose_households(Procedure.MOVE_OUT, D.H1, ("P1", "P2", "P3", "P4")) == ()
    # 世帯合併 into H1: everyone of H2 joins.
    (merged,) = propose_households(Procedure.MERGER, D.H2, ("P5",), target=D.H1)
    assert merged.household_id == "H1" and merged.roles[-1] == Role(key="P5", relationship="同居人")
