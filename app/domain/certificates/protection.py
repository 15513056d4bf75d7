"""支援措置 (DV, stalking, child abuse): which copies reveal a protected address, and whether the
requester is the registered 加害者.

The measure protects an ADDRESS, not only the persons it names (住民基本台帳事務処理要領 第6-10:
the 加害者's request for the 住民票の写し that would reveal the victim's address is refused,
§12⑥ and §12の3 "相当と認めるとき"). A copy reveals the protected address when
- it certifies a protected person (their 住民票 or 除票; the 除票 shows the 転出先), or
- it certifies anyone registered at the protected person's address. 方書 is ignored: a copy of
  the neighbour in room 102 tells where the building is, which is what the 加害者 needs, or
- a printed 前住所, 転出先 or 記事 names the protected address.

The 加害者 is matched by person_id when the requester was found in the register, and by 4情報
otherwise (`match_perpetrator`): the same birth date and the same folded name is the 加害者;
the same birth date and the same 氏 or 名 is a possible 加害者 (a name changed by marriage or
divorce keeps one part), shown to the clerk and sent to a supervisor.

Pure: no I/O. The service builds `ProtectedResident`s from the register.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum

from app.domain.addresses import address_key
from app.domain.certificates.requester import PersonRef
from app.domain.names import fold, split_name
from app.domain.records import Household, Person


@dataclass(frozen=True, slots=True)
class KnownPerpetrator:
    """A registered 加害者: person_id when registered here, and their 氏名・生年月日."""

    name: str = ""
    birth_date: date | None = None
    person_id: str | None = None


@dataclass(frozen=True, slots=True)
class ProtectedResident:
    """An active 支援措置 and the address it protects."""

    person_id: str
    household_id: str
    address: str  # 住所 as registered (without 方書)
    katagaki: str | None
    until: date
    perpetrators: tuple[KnownPerpetrator, ...] = ()
    resident: bool = True  # False: a 除票; only their own 除票 reveals where they went


def protections_of(household: Household, today: date) -> list[ProtectedResident]:
    """The measures recorded on a household's members (perpetrators by id only)."""
    out = []
    for p in household.members:
        if p.support_measure is None or not p.is_protected_on(today):
            continue
        sm = p.support_measure
        known = [KnownPerpetrator(person_id=pid) for pid in sm.perpetrator_person_ids]
        known += [KnownPerpetrator(x.name, x.birth_date) for x in sm.perpetrators]
        out.append(
            ProtectedResident(
                person_id=p.person_id,
                household_id=household.household_id,
                address=household.address,
                katagaki=household.katagaki,
                until=sm.until,
                perpetrators=tuple(known),
                resident=not p.is_removed,
            )
        )
    return out


class Revealed(Enum):
    PERSON = "person"  # the copy certifies the protected person
    ADDRESS = "address"  # someone registered at the protected address
    TEXT = "text"  # a printed 前住所 / 転出先 / 記事 names the protected address


@dataclass(frozen=True, slots=True)
class Exposure:
    protection: ProtectedResident
    how: Revealed


def exposures(
    protections: list[ProtectedResident],
    household: Household,
    persons: list[Person],
    printed_texts: list[str],
) -> list[Exposure]:
    """The measures whose protected address the copy would reveal (one entry per measure)."""
    certified = {p.person_id for p in persons}
    here = address_key(household.address)
    texts = [address_key(t) for t in printed_texts if t]
    out: list[Exposure] = []
    seen: set[str] = set()
    for m in protections:
        if m.person_id in seen:
            continue
        how = None
        if m.person_id in certified:
            how = Revealed.PERSON
        elif m.resident:
            key = address_key(m.address)
            if key and key == here:
                how = Revealed.ADDRESS
            elif key and any(key in t for t in texts):
                how = Revealed.TEXT
        if how is not None:
            seen.add(m.person_id)
            out.append(Exposure(m, how))
    return out


class Match(Enum):
    NONE = 0
    POSSIBLE = 1  # same birth date and the same 氏 or 名: a supervisor decides
    SAME = 2  # the registered 加害者


def match_perpetrator(requester: PersonRef, perpetrator: KnownPerpetrator) -> Match:
    """The matching rule of this module's docstring."""
    if requester.person_id is not None and requester.person_id == perpetrator.person_id:
        return Match.SAME
    if requester.birth_date is None or perpetrator.birth_date is None:
        return Match.NONE
    if requester.birth_date != perpetrator.birth_date or not perpetrator.name:
        return Match.NONE
    if fold(requester.name) == fold(perpetrator.name):
        return Match.SAME
    r_family, r_given = (fold(x) for x in split_name(requester.name))
    p_family, p_given = (fold(x) for x in split_name(perpetrator.name))
    whole = fold(requester.name)
    if (p_family and (r_family == p_family or whole.startswith(p_family))) or (
        p_given and (r_given == p_given or whole.endswith(p_given))
    ):
        return Match.POSSIBLE
    return Match.NONE


def client_is_perpetrator(client_name: str, perpetrator: KnownPerpetrator) -> bool:
    """A 特定事務受任者's client (§12の3④五, a name only) named as the 加害者: the 加害者's own
    request through a 代理人 (要領 第6-10). Without a birth date it is for a supervisor."""
    return bool(client_name.strip() and perpetrator.name) and fold(client_name) == fold(
        perpetrator.name
    )
