"""The head office confirms a 届出: new versions of the persons and households it changes.

`confirm` is pure: given the draft, the register as it is now and the ids the head office
allocated, it returns the households to write (every person in them one 版数 higher), the
households that cease (世帯合併), and one 異動履歴 line per changed person with the items of the
record layout (別添1: 87 異動事由, 22 異動年月日, 28/30 届出年月日, 90 受付支所).

What the interchange format holds today is filled in as 住基法第7条 lists it: 転入 sets
住民となった年月日 and 住所を定めた年月日 with their 届出日 and 転入前住所 (第7条第6〜8号);
転居 sets 住所を定めた年月日 and its 届出日 (第7号); 転出 makes the record a 除票 (消除年月日 =
転出予定日, 消除事由 転出, 転出先); every change adds a 記事 line "異動年月日 事由 … 届出日届出",
as a 住民票 prints it.

Before anything is written the register is compared with what the terminal relied on
(`find_conflicts`): a version that moved, a mover who left, a household that changed. A
conflict is never resolved here: `confirm` refuses, and the head office sees why.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from msgspec.structs import replace

from app.domain.errors import DomainError
from app.domain.notifications.model import (
    HEAD,
    MOVE_IN,
    MOVE_OUT,
    HouseholdPlan,
    Mover,
    NotificationDraft,
    Procedure,
)
from app.domain.notifications.register import Register, touched_person_ids
from app.domain.notifications.towns import TownList
from app.domain.records import HistoryEntry, Household, Person
from app.domain.wareki import format_date


class ConflictKind(StrEnum):
    VERSION_MOVED = "version_moved"  # the register moved past the 版数 the terminal read
    MISSING = "missing"  # a person or household the 届出 names is not in the register
    NOT_RESIDENT = "not_resident"  # a mover is a 除票 now
    HOUSEHOLD_CHANGED = "household_changed"  # a mover changed household, or someone joined
    PENDING = "pending"  # another pending 届出 touches the same person (found by the server)


@dataclass(frozen=True, slots=True)
class Conflict:
    kind: ConflictKind
    message: str  # Japanese, ids only (the head office opens the records to see names)
    person_id: str | None = None
    household_id: str | None = None


class ConflictError(DomainError):
    def __init__(self, conflicts: Sequence[Conflict]) -> None:
        super().__init__(
            "台帳が届出の受付後に変わっています: " + " / ".join(c.message for c in conflicts)
        )
        self.conflicts = tuple(conflicts)


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One line of the 異動履歴 (別添1 住民基本台帳ファイル 87/88/90, 本人確認情報 21–22)."""

    person_id: str
    household_id: str
    reason: str  # 異動事由
    changed_on: date  # 異動年月日
    reported_on: date  # 届出年月日
    notification_id: str
    office: str  # 受付支所名称
    kind: str = "届出"  # 届出通知区分: 届出 (this path), 通知, 職権


@dataclass(frozen=True, slots=True)
class Confirmation:
    households: tuple[Household, ...]  # to write, each on the feed as a new version
    deleted_household_ids: tuple[str, ...]  # households that cease (世帯合併)
    changes: tuple[ChangeRecord, ...]
    person_ids: Mapping[str, str]  # draft key → person_id (the allocated ids of 転入者)


def find_conflicts(draft: NotificationDraft, register: Register) -> tuple[Conflict, ...]:
    """Differences between the register now and what the terminal relied on."""
    out: list[Conflict] = []
    for person_id, version in sorted(draft.relied_versions.items()):
        p = register.person(person_id)
        if p is None:
            out.append(Conflict(ConflictKind.MISSING, f"{person_id}が台帳にありません", person_id))
        elif p.version != version:
            out.append(
                Conflict(
                    ConflictKind.VERSION_MOVED,
                    f"{person_id}の版数が{version}から{p.version}に進んでいます",
                    person_id,
                )
            )
    for person_id in sorted(touched_person_ids(draft, register) - set(draft.relied_versions)):
        h = register.household_of(person_id)
        out.append(
            Conflict(
                ConflictKind.HOUSEHOLD_CHANGED,
                f"{person_id}が受付後に世帯に加わっています",
                person_id,
                h.household_id if h else None,
            )
        )
    if draft.procedure not in MOVE_IN:
        for m in draft.movers:
            p = register.person(m.key)
            h = register.household_of(m.key)
            if p is not None and p.status != "resident":
                out.append(Conflict(ConflictKind.NOT_RESIDENT, f"{m.key}は除票です", m.key))
            if h is not None and h.household_id != draft.source_household_id:
                out.append(
                    Conflict(
                        ConflictKind.HOUSEHOLD_CHANGED,
                        f"{m.key}の世帯が{h.household_id}に変わっています",
                        m.key,
                        h.household_id,
                    )
                )
    for household_id in [draft.source_household_id, *(p.household_id for p in draft.households)]:
        if household_id is not None and register.household(household_id) is None:
            out.append(
                Conflict(
                    ConflictKind.MISSING,
                    f"世帯{household_id}が台帳にありません",
                    None,
                    household_id,
                )
            )
    return tuple(out)


def overlapping(a: NotificationDraft, b: NotificationDraft, register: Register) -> frozenset[str]:
    """Registered persons that two 届出 both touch: the second one waits as a conflict."""
    return touched_person_ids(a, register) & touched_person_ids(b, register)


# ---------------------------------------------------------------------------------------------


def _reported(d: NotificationDraft) -> str:
    return f"{format_date(d.filed_on)}届出"


def _history(d: NotificationDraft, reason: str, detail: str = "") -> HistoryEntry:
    note = "　".join(x for x in (detail, _reported(d)) if x)
    return HistoryEntry(date=d.moved_on, kind=reason, note=note, reported_on=d.filed_on)


def _new_person(d: NotificationDraft, m: Mover, person_id: str) -> Person:
    if m.juminhyo_code is None:
        raise DomainError(f"{m.key}: 転入前の住民票コードがありません。")
    old = d.old_address.full if d.old_address else ""
    detail = f"{old}から転入" + ("（個人番号カード継続利用）" if m.card_continued else "")
    return Person(
        person_id=person_id,
        juminhyo_code=m.juminhyo_code,
        my_number=m.my_number,
        version=1,
        status="resident",
        name=m.name,
        name_kana=m.name_kana,
        birth_date=m.birth_date,
        sex=m.sex,
        relationship=m.relationship,
        former_name=m.former_name,
        honseki=m.honseki,
        hittosha=m.hittosha,
        became_resident_on=d.moved_on,
        became_resident_reported_on=d.filed_on,
        address_set_on=d.moved_on,
        address_set_reported_on=d.filed_on,
        previous_address=old or None,
        previous_head_name=d.move_out_certificate.head_name if d.move_out_certificate else None,
        history=(_history(d, d.reason, detail),),
    )


def _moved(d: NotificationDraft, p: Person, register: Register) -> Person:
    """A registered mover after the 届出 (relationship is set by the household plan)."""
    if d.procedure == Procedure.MOVE_WITHIN:
        source = register.household_of(p.person_id)
        old = d.old_address.full if d.old_address else (source.address if source else "")
        return replace(
            p,
            address_set_on=d.moved_on,
            address_set_reported_on=d.filed_on,
            history=(*p.history, _history(d, d.reason, f"{old}から転居")),
        )
    if d.procedure in MOVE_OUT:
        dest = d.new_address.full if d.new_address else ""
        return replace(
            p,
            status="removed",
            removed_on=d.moved_on,
            removal_reason="転出",
            removal_reported_on=d.filed_on,
            moved_out_to=dest,
            moved_out_head_name=d.destination_head_name or None,
            history=(*p.history, _history(d, d.reason, f"{dest}へ転出予定")),
        )
    return replace(p, history=(*p.history, _history(d, d.reason)))


def confirm(
    draft: NotificationDraft,
    register: Register,
    *,
    new_person_ids: Mapping[str, str],
    new_household_ids: Sequence[str],
    towns: TownList,
) -> Confirmation:
    """The confirmed 届出 as new records. `new_person_ids` maps each 転入者's draft key to the
    person_id the head office allocated; `new_household_ids` gives, in order, the ids of the
    draft's households that are new (household_id None). Raises ConflictError if the register
    moved on, DomainError if the draft cannot be applied (it did not pass the checks)."""
    conflicts = find_conflicts(draft, register)
    if conflicts:
        raise ConflictError(conflicts)
    d = draft
    ids: dict[str, str] = {m.key: m.key for m in d.movers if not m.is_new}
    for m in d.movers:
        if m.is_new:
            if m.key not in new_person_ids:
                raise DomainError(f"{m.key}: 個人IDが割り当てられていません。")
            ids[m.key] = new_person_ids[m.key]
    persons: dict[str, Person] = {}
    for m in d.movers:
        if m.is_new:
            persons[ids[m.key]] = _new_person(d, m, ids[m.key])
        else:
            current = register.person(m.key)
            assert current is not None  # find_conflicts saw it
            persons[m.key] = _moved(d, current, register)
    mover_ids = {ids[m.key] for m in d.movers}

    new_ids = iter(new_household_ids)
    out: dict[str, Household] = {}
    placed: set[str] = set()
    for plan in d.households:
        h = _build_household(d, plan, register, new_ids, towns)
        before = register.household(plan.household_id)
        new_head = next(r.key for r in plan.roles if r.relationship == HEAD)
        head_changed = before is not None and before.head_person_id != new_head
        members: list[Person] = []
        for role in sorted(plan.roles, key=lambda r: r.relationship != HEAD):
            pid = ids.get(role.key, role.key)
            current = persons.get(pid) or register.person(pid)
            if current is None:
                raise DomainError(f"{role.key}: 台帳にいません。")
            updated = replace(current, relationship=role.relationship)
            if pid not in mover_ids and updated.relationship != current.relationship:
                # A 続柄 that changes because the household got another 世帯主 is recorded so.
                reason = "世帯主変更" if head_changed else d.reason
                updated = replace(
                    updated, history=(*updated.history, _history(d, reason, "続柄変更"))
                )
            persons[pid] = updated
            members.append(updated)
            placed.add(pid)
        if before is not None:  # its 除票 stay with it
            members += [p for p in before.members if p.status != "resident"]
        head = ids.get(new_head, new_head)
        out[h.household_id] = replace(h, head_person_id=head, members=tuple(members))

    deleted: list[str] = []
    source = register.household(d.source_household_id)
    if d.procedure in MOVE_OUT and source is not None:
        # The movers stay listed in the household they leave, as 除票.
        h = out.get(source.household_id, source)
        listed = {p.person_id for p in h.members}
        kept = tuple(persons[p.person_id] if p.person_id in mover_ids else p for p in h.members)
        left = tuple(persons[pid] for pid in sorted(mover_ids - listed))
        out[source.household_id] = replace(h, members=kept + left)
    elif source is not None and source.household_id not in out:
        # Everyone moved to other households: the 除票 stay; with none, the household ceases.
        left = tuple(p for p in source.members if p.person_id not in placed)
        if any(p.status == "resident" for p in left):
            raise DomainError(
                f"{source.household_id}: 異動後の世帯が決まっていない世帯員がいます。"
            )
        if left:
            out[source.household_id] = replace(source, members=left)
        else:
            deleted.append(source.household_id)

    bumped = {hid: _bump(h, register) for hid, h in out.items()}
    changes = _changes(d, bumped.values(), register)
    return Confirmation(
        households=tuple(bumped.values()),
        deleted_household_ids=tuple(deleted),
        changes=changes,
        person_ids={m.key: ids[m.key] for m in d.movers},
    )


def _build_household(
    d: NotificationDraft,
    plan: HouseholdPlan,
    register: Register,
    new_ids: Iterator[str],
    towns: TownList,
) -> Household:
    existing = register.household(plan.household_id)
    source = register.household(d.source_household_id)
    if existing is not None:
        base = existing
    else:
        try:
            household_id = next(new_ids)
        except StopIteration:
            raise DomainError("新しい世帯の世帯IDが割り当てられていません。") from None
        base = Household(  # at the source's address (世帯分離) unless it moves below
            household_id=household_id,
            municipality_code=d.municipality_code,
            postal_code=source.postal_code if source else "",
            address=source.address if source else "",
            katagaki=source.katagaki if source else None,
            head_person_id="",
        )
    if plan.at_new_address:
        if d.new_address is None:
            raise DomainError("新住所がありません。")
        postal = d.new_address.postal_code
        if postal is None:
            match = towns.match(d.new_address.text)
            if match.town is None:
                raise DomainError("新住所の町名が町名一覧にありません。")
            postal = match.town.postal_code
        base = replace(
            base, address=d.new_address.text, katagaki=d.new_address.katagaki, postal_code=postal
        )
    return base


def _bump(h: Household, register: Register) -> Household:
    """New 版数: every member one higher than both their own and the household's before, so
    that the household's version (the highest of its members') always grows, even when the
    member who had the highest one left. New persons stay at 1 in a new household."""
    previous = register.household(h.household_id)
    floor = previous.version if previous is not None else 0
    members = []
    for p in h.members:
        before = register.person(p.person_id)
        own = before.version if before is not None else 0
        members.append(replace(p, version=max(own, floor) + 1))
    return replace(h, members=tuple(members))


def _changes(
    d: NotificationDraft, households: Iterable[Household], register: Register
) -> tuple[ChangeRecord, ...]:
    out = []
    for h in households:
        for p in h.members:
            before = register.person(p.person_id)
            added = p.history[len(before.history) :] if before else p.history
            for entry in added:
                out.append(
                    ChangeRecord(
                        person_id=p.person_id,
                        household_id=h.household_id,
                        reason=entry.kind,
                        changed_on=entry.date,
                        reported_on=d.filed_on,
                        notification_id=d.notification_id,
                        office=d.office,
                    )
                )
    return tuple(out)


__all__ = [
    "ChangeRecord",
    "Confirmation",
    "Conflict",
    "ConflictError",
    "ConflictKind",
    "confirm",
    "find_conflicts",
    "overlapping",
]
