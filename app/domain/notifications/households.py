"""Households after a 届出: one 世帯主 each, nobody in two, everyone placed.

住基法第7条第4号 gives every resident a 世帯主 (or is one), and a person belongs to one 世帯;
the draft's `households` say, for every household the 届出 touches, who is in it afterwards and
with which 続柄. These checks hold that to the register and to the procedure:

- 転入・転居: the movers live at the new address afterwards, in a new household or in the
  household already there (whose members stay in it);
- 転出: the movers leave every household of the municipality;
- 世帯主変更: the same members, another 世帯主;
- 世帯分離: some members form a new household at the same address;
- 世帯合併: a whole household joins another at the same address (住所の異動を伴わない).

When the 世帯主 leaves, the household that stays needs a new one: the draft names it (the
clerk asks; with one person left it is that person, §25 then needs no separate 届出).
"""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.notifications.findings import Finding, error
from app.domain.notifications.model import (
    HEAD,
    MOVE_IN,
    MOVE_OUT,
    HouseholdPlan,
    NotificationDraft,
    Procedure,
    Role,
)
from app.domain.notifications.register import Register, residents
from app.domain.notifications.towns import fold_address
from app.domain.records import Household, Person

ARTICLE_HEAD = "住基法第7条第4号"
ARTICLE_CHANGE = "住基法第25条"


def _same_address(h: Household, text: str, katagaki: str | None) -> bool:
    return fold_address(h.address + (h.katagaki or "")) == fold_address(text + (katagaki or ""))


def check_households(d: NotificationDraft, register: Register) -> list[Finding]:
    out: list[Finding] = []
    movers = {m.key for m in d.movers}
    names = {m.key: m.name for m in d.movers}
    source = register.household(d.source_household_id)
    seen: dict[str, int] = {}

    for i, plan in enumerate(d.households):
        where = f"households[{i}]"
        heads = plan.head_keys
        if not heads:
            out.append(
                error(
                    where,
                    "household_no_head",
                    "世帯主が決まっていない世帯があります。",
                    ARTICLE_HEAD,
                )
            )
        elif len(heads) > 1:
            out.append(
                error(where, "household_two_heads", "世帯主が2人いる世帯があります。", ARTICLE_HEAD)
            )
        existing = register.household(plan.household_id)
        if plan.household_id is not None and existing is None:
            out.append(error(where, "household_unknown", "指定した世帯が台帳にありません。"))
        known = movers | ({p.person_id for p in residents(existing)} if existing else set())
        if source is not None:
            known |= {p.person_id for p in residents(source)}
        for j, role in enumerate(plan.roles):
            label = names.get(role.key) or _name(register, role.key)
            if not role.relationship.strip():
                out.append(
                    error(
                        f"{where}.roles[{j}]",
                        "relationship_missing",
                        f"{label}の続柄を入力してください。",
                        ARTICLE_HEAD,
                    )
                )
            if role.key not in known:
                out.append(
                    error(
                        f"{where}.roles[{j}]",
                        "role_unknown",
                        f"{label}はこの届出の世帯員ではありません。",
                    )
                )
            if role.key in seen and seen[role.key] != i:
                out.append(
                    error(
                        f"{where}.roles[{j}]",
                        "person_in_two_households",
                        f"{label}が2つの世帯に入っています。",
                        ARTICLE_HEAD,
                    )
                )
            seen.setdefault(role.key, i)
    out.extend(_placement(d, register, seen))
    out.extend(_procedure_shape(d, register))
    return out


def _name(register: Register, key: str) -> str:
    p = register.person(key)
    return p.name if p else key


def _placement(d: NotificationDraft, register: Register, seen: dict[str, int]) -> list[Finding]:
    """Movers where the procedure puts them; the source household's stayers placed."""
    out: list[Finding] = []
    leaving = d.procedure in MOVE_OUT
    for i, m in enumerate(d.movers):
        where = f"movers[{i}]"
        if leaving and m.key in seen:
            out.append(
                error(
                    where,
                    "mover_stays",
                    f"{m.name}は転出するため、市内の世帯には入りません。",
                    "住基法第24条",
                )
            )
        if not leaving and m.key not in seen:
            out.append(
                error(
                    where,
                    "person_unplaced",
                    f"{m.name}の異動後の世帯が決まっていません。",
                    ARTICLE_HEAD,
                )
            )
        at_new = d.procedure in (*MOVE_IN, Procedure.MOVE_WITHIN)
        if at_new and m.key in seen and not d.households[seen[m.key]].at_new_address:
            out.append(
                error(
                    where,
                    "mover_not_at_new_address",
                    f"{m.name}の世帯が新住所の世帯になっていません。",
                )
            )
    involved = [register.household(d.source_household_id)]
    involved += [register.household(p.household_id) for p in d.households]
    movers = {m.key for m in d.movers}
    reported: set[str] = set()
    for h in involved:
        for p in residents(h) if h is not None else ():
            if p.person_id in movers or p.person_id in seen:  # movers: reported above
                continue
            if p.person_id not in reported:
                reported.add(p.person_id)
                out.append(
                    error(
                        "households",
                        "person_unplaced",
                        f"{p.name}の異動後の世帯が決まっていません（残る世帯の世帯主・続柄を"
                        "入力してください）。",
                        ARTICLE_HEAD,
                    )
                )
    for i, plan in enumerate(d.households):
        existing = register.household(plan.household_id)
        if (
            existing is not None
            and plan.at_new_address
            and d.new_address is not None
            and existing.household_id != d.source_household_id
            and not _same_address(existing, d.new_address.text, d.new_address.katagaki)
        ):
            out.append(
                error(
                    f"households[{i}]",
                    "target_address_differs",
                    "入る世帯の住所が新住所と異なります。",
                )
            )
        if not plan.roles:
            out.append(
                error(f"households[{i}]", "empty_household", "世帯員のいない世帯があります。")
            )
        if plan.at_new_address and d.procedure not in (*MOVE_IN, Procedure.MOVE_WITHIN):
            out.append(
                error(
                    f"households[{i}]",
                    "address_changes",
                    "この届出では新住所の世帯はありません。",
                    ARTICLE_CHANGE,
                )
            )
    return out


def _procedure_shape(d: NotificationDraft, register: Register) -> list[Finding]:
    source = register.household(d.source_household_id)
    if source is None:
        return []
    plans = d.households
    movers = {m.key for m in d.movers}
    stayers = {p.person_id for p in residents(source)}
    if d.procedure == Procedure.HEAD_CHANGE:
        if len(plans) != 1 or plans[0].household_id != source.household_id:
            return [
                error(
                    "households",
                    "head_change_shape",
                    "世帯主変更は同じ世帯の中での変更です。",
                    ARTICLE_CHANGE,
                )
            ]
        if plans[0].head_keys == (source.head_person_id,):
            return [
                error("households", "head_unchanged", "世帯主が変わっていません。", ARTICLE_CHANGE)
            ]
    elif d.procedure == Procedure.SEPARATION:
        new = [p for p in plans if p.household_id is None]
        kept = [p for p in plans if p.household_id == source.household_id]
        if (
            len(plans) != 2
            or len(new) != 1
            or len(kept) != 1
            or {r.key for r in new[0].roles} != movers
            or movers >= stayers
        ):
            return [
                error(
                    "households",
                    "separation_shape",
                    "世帯分離では、分離する方が新しい世帯を作り、残る方は元の世帯に残ります。",
                    ARTICLE_CHANGE,
                )
            ]
    elif d.procedure == Procedure.MERGER:
        target = register.household(plans[0].household_id) if len(plans) == 1 else None
        if target is None or target.household_id == source.household_id or movers != stayers:
            return [
                error(
                    "households",
                    "merger_shape",
                    "世帯合併では、一つの世帯の全員が同じ住所の別の世帯に入ります。",
                    ARTICLE_CHANGE,
                )
            ]
        if not _same_address(target, source.address, source.katagaki):
            return [
                error(
                    "households",
                    "merger_other_address",
                    "合併先の世帯の住所が異なります。住所が変わる場合は転居届です。",
                    "住基法第23条",
                )
            ]
    return []


# ---------------------------------------------------------------------------------------------
# What the clerk starts from


def propose_households(
    procedure: Procedure,
    source: Household | None,
    mover_keys: tuple[str, ...],
    *,
    target: Household | None = None,
    new_roles: tuple[Role, ...] = (),
) -> tuple[HouseholdPlan, ...]:
    """The households a procedure most often produces, for the clerk to adjust.

    The movers keep their 続柄 when the whole household moves; otherwise the first mover heads
    the new household. When the 世帯主 leaves, the oldest who stays is proposed as 世帯主 (the
    clerk must confirm: it is the person who 主宰する the household, not the eldest by rule).
    `new_roles` are the movers of a 転入 (their keys and 続柄 as told).
    """
    movers = set(mover_keys)
    plans: list[HouseholdPlan] = []
    if procedure in MOVE_IN:
        roles = new_roles
        if target is not None:
            roles = (
                tuple(Role(key=p.person_id, relationship=p.relationship) for p in residents(target))
                + roles
            )
        return (
            HouseholdPlan(
                household_id=target.household_id if target else None,
                roles=roles,
                at_new_address=True,
            ),
        )
    if source is None:
        return ()
    members = residents(source)
    moving = [p for p in members if p.person_id in movers]
    staying = [p for p in members if p.person_id not in movers]
    whole = not staying
    # Nobody ticked yet (a 世帯分離 starts so): the household as it is, no new one.
    if procedure in (Procedure.MOVE_WITHIN, Procedure.SEPARATION) and moving:
        at_new = procedure == Procedure.MOVE_WITHIN
        if whole and target is None and at_new:
            plans.append(
                HouseholdPlan(
                    household_id=source.household_id, roles=_keep(moving), at_new_address=True
                )
            )
        elif target is not None:
            roles = _keep(residents(target)) + tuple(
                Role(key=p.person_id, relationship="同居人") for p in moving
            )
            plans.append(
                HouseholdPlan(household_id=target.household_id, roles=roles, at_new_address=at_new)
            )
        else:
            plans.append(
                HouseholdPlan(household_id=None, roles=_headed(moving), at_new_address=at_new)
            )
    if procedure == Procedure.MERGER and target is not None:
        roles = _keep(residents(target)) + tuple(
            Role(key=p.person_id, relationship="同居人") for p in members
        )
        return (HouseholdPlan(household_id=target.household_id, roles=roles),)
    if procedure == Procedure.HEAD_CHANGE:
        return (HouseholdPlan(household_id=source.household_id, roles=_keep(members)),)
    if staying:
        plans.append(
            HouseholdPlan(household_id=source.household_id, roles=_remaining(source, staying))
        )
    return tuple(plans)


def _keep(persons: Sequence[Person]) -> tuple[Role, ...]:
    ordered = sorted(persons, key=lambda p: p.relationship != HEAD)
    return tuple(Role(key=p.person_id, relationship=p.relationship) for p in ordered)


def _headed(persons: list[Person]) -> tuple[Role, ...]:
    if any(p.relationship == HEAD for p in persons):
        return _keep(persons)
    first, *rest = persons
    return (
        Role(key=first.person_id, relationship=HEAD),
        *(Role(key=p.person_id, relationship="") for p in rest),
    )


def _remaining(source: Household, staying: list[Person]) -> tuple[Role, ...]:
    if any(p.person_id == source.head_person_id for p in staying):
        return _keep(staying)
    eldest = min(staying, key=lambda p: p.birth_date)
    return (
        Role(key=eldest.person_id, relationship=HEAD),
        *(Role(key=p.person_id, relationship="") for p in staying if p is not eldest),
    )
