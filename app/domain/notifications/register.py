"""The part of the register a 届出 touches, and which persons and households that is."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from app.domain.notifications.model import MOVE_IN, NEW_KEY_PREFIX, NotificationDraft
from app.domain.records import Household, Person


@dataclass(frozen=True)
class Register:
    """Households as the terminal (or the server) read them; lookups by person."""

    households: Mapping[str, Household]
    _persons: dict[str, tuple[Household, Person]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        index = {p.person_id: (h, p) for h in self.households.values() for p in h.members}
        object.__setattr__(self, "_persons", index)

    @classmethod
    def of(cls, households: Iterable[Household]) -> Register:
        return cls({h.household_id: h for h in households})

    def household(self, household_id: str | None) -> Household | None:
        return None if household_id is None else self.households.get(household_id)

    def person(self, person_id: str) -> Person | None:
        found = self._persons.get(person_id)
        return None if found is None else found[1]

    def household_of(self, person_id: str) -> Household | None:
        found = self._persons.get(person_id)
        return None if found is None else found[0]


def residents(h: Household) -> tuple[Person, ...]:
    return tuple(p for p in h.members if p.status == "resident")


def touched_household_ids(draft: NotificationDraft) -> tuple[str, ...]:
    """Households the terminal must read (and the head office must lock) for this 届出."""
    ids = [draft.source_household_id] + [p.household_id for p in draft.households]
    return tuple(dict.fromkeys(i for i in ids if i is not None))


def referenced_person_ids(draft: NotificationDraft) -> tuple[str, ...]:
    """Registered persons the draft names (movers, the 届出人, the persons of its households):
    with touched_household_ids, what a terminal or the server reads to check and confirm it."""
    ids = [m.key for m in draft.movers if not m.is_new]
    roles = (r.key for plan in draft.households for r in plan.roles)
    ids += [key for key in roles if not key.startswith(NEW_KEY_PREFIX)]
    if draft.filer.person_id:
        ids.append(draft.filer.person_id)
    return tuple(dict.fromkeys(ids))


def touched_person_ids(draft: NotificationDraft, register: Register) -> frozenset[str]:
    """Registered persons the 届出 changes or relies on: the movers, and every resident of the
    households it touches. Two pending 届出 that share one of them are a conflict."""
    ids = {m.key for m in draft.movers if draft.procedure not in MOVE_IN}
    for household_id in touched_household_ids(draft):
        h = register.household(household_id)
        if h is not None:
            ids.update(p.person_id for p in residents(h))
    return frozenset(ids)
