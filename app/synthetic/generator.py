"""A deterministic synthetic municipality that looks like Kitami (北見市).

`generate(persons, seed)` streams households (exactly `persons` persons in all); the same seed
gives the same households, and `write_jsonl` the same bytes. Nothing depends on the clock: ages
and dates are computed against REFERENCE_DATE.

Shares (roughly): households of 1–8 persons, ~1% foreign residents (some with 通称), ~5% 除票,
a few 支援措置 cases (some with a registered 加害者 who exists elsewhere in the data), 旧氏 for a
few married persons, 本籍・筆頭者 for Japanese residents, 記事 history, valid check digits
everywhere, 個人番号 missing for ~2%.

The first households of every seed are fixed showcases, for demos and tests: a 9-person
household, a household whose names need IVS, a 支援措置 case with a registered 加害者, a
household whose only member is a 除票, and a foreign household.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import random
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from app.domain.records import Household, parse_household
from app.fileio import atomic_writer
from app.synthetic import data

REFERENCE_DATE = date(2026, 4, 1)
_REF_ORD = REFERENCE_DATE.toordinal()

SHARE_FOREIGN_HOUSEHOLDS = 0.010
SHARE_REMOVED = 0.05
SHARE_NO_MY_NUMBER = 0.02
SHARE_SUPPORT = 0.0004  # per household
SHARE_FORMER_NAME = 0.03  # of wives (旧氏 is recorded only on request)
SHARE_IVS = 0.003  # of Japanese households
SHARE_KATAGAKI = 0.25
# Household sizes 1..8 and their weights (Kitami-like: many single and two-person households).
SIZE_WEIGHTS = (38, 30, 14, 10, 5, 1.8, 0.8, 0.4)


class _Picker[T]:
    """Weighted choice with precomputed cumulative weights (random.choices recomputes them)."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def __call__(self, rng: random.Random) -> T:
        return self.items[bisect.bisect(self.cum, rng.random() * self.total)]


_SIZE = _Picker(range(1, 9), SIZE_WEIGHTS)
_TOWN = _Picker(data.TOWNS, [t[3] for t in data.TOWNS])
_SURNAME = _Picker(data.SURNAMES, [s[2] for s in data.SURNAMES])
_FOREIGN = _Picker(data.FOREIGN, [f[1] for f in data.FOREIGN])
_RESIDENCE = _Picker(data.RESIDENCE_STATUSES, [r[3] for r in data.RESIDENCE_STATUSES])


def _given(rng: random.Random, sex: str, birth_year: int) -> tuple[str, str]:
    for upper, male, female in data.GIVEN_NAMES:
        if birth_year <= upper:
            names = male if sex == "male" else female
            return names[int(rng.random() * len(names))]
    raise AssertionError("unreachable")  # the last cohort is open-ended


def _rand(rng: random.Random, high: int) -> int:
    """1..high (randint is several times slower)."""
    return int(rng.random() * high) + 1


class _IsoDays(dict[int, str]):
    """ISO text of day ordinals, filled on first use: ~96,000 distinct days recur a million
    times, and a dict subscript is far cheaper than date.fromordinal().isoformat()."""

    def __missing__(self, ordinal: int) -> str:
        text = self[ordinal] = date.fromordinal(ordinal).isoformat()
        return text


_iso = _IsoDays().__getitem__

_PREVIOUS = data.PREVIOUS_ADDRESSES
_ALONE_STATUSES = {"技能実習", "特定技能", "留学", "日本人の配偶者等"}
_FAMILY_STATUS: dict[str | None, tuple[str | None, int]] = {
    "技術・人文知識・国際業務": ("家族滞在", 3),
    "永住者": ("永住者の配偶者等", 3),
}
_NOT_FOREIGN: dict[str, Any] = {
    "alias": None,
    "alias_kana": None,
    "nationality": None,
    "residence_status": None,
    "period_of_stay": None,
    "period_of_stay_until": None,
    "residence_card_number": None,
    "article_30_45": None,
}


def _weight_table(offset: int) -> list[int]:
    """Σ digit·weight for every 4-digit chunk whose lowest digit is at position offset+1."""
    weights = (2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6, 0, 0)  # Qn from the lowest digit (n = 1..11)
    return [
        sum(int(d) * weights[offset + i] for i, d in enumerate(reversed(f"{x:04d}")))
        for x in range(10_000)
    ]


class _Ids:
    """Unique, random-looking identifiers with valid check digits, derived from a counter.

    A multiplicative scramble modulo 10^k with a multiplier coprime to 10 is a bijection, so
    distinct sequence numbers give distinct codes without a set of used codes (flat memory).
    Check digits come from per-chunk weight tables (the official modulus-11 rule of
    app.domain.identifiers, which the tests apply to every generated number)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"ids-{seed}")
        self.j_mul = rng.randrange(10**9, 10**10) | 1
        if self.j_mul % 5 == 0:
            self.j_mul += 2
        self.j_add = rng.randrange(10**10)
        self.m_mul = rng.randrange(10**10, 10**11) | 1
        if self.m_mul % 5 == 0:
            self.m_mul += 2
        self.m_add = rng.randrange(10**11)
        self.t0, self.t1, self.t2 = _TABLES

    def _digit(self, v: int) -> int:
        rem = (self.t0[v % 10_000] + self.t1[v // 10_000 % 10_000] + self.t2[v // 10**8]) % 11
        return 0 if rem <= 1 else 11 - rem

    def juminhyo_code(self, n: int) -> str:
        v = (n * self.j_mul + self.j_add) % 10**10
        return f"{v:010d}{self._digit(v)}"

    def my_number(self, n: int) -> str:
        v = (n * self.m_mul + self.m_add) % 10**11
        return f"{v:011d}{self._digit(v)}"


_TABLES = (_weight_table(0), _weight_table(4), _weight_table(8))


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ids = _Ids(seed)
        self.person_seq = 0
        self.household_seq = 0
        # A few earlier adult men, as registered 加害者 of later 支援措置 cases.
        self.perpetrator_pool: list[str] = []

    # -- pieces ---------------------------------------------------------------------------

    def address(self) -> tuple[str, str, str | None]:
        rng = self.rng
        town, postal, kind, _ = _TOWN(rng)
        if kind == "chome":
            address = f"{data.PREFIX}{town}{_rand(rng, 9)}丁目{_rand(rng, 30)}番{_rand(rng, 25)}号"
        else:
            address = f"{data.PREFIX}{town}{_rand(rng, 999)}番地"
            if rng.random() < 0.4:
                address += str(_rand(rng, 40))
        katagaki = None
        if rng.random() < SHARE_KATAGAKI:
            building = data.BUILDINGS[int(rng.random() * len(data.BUILDINGS))]
            katagaki = f"{building} {_rand(rng, 5)}0{_rand(rng, 8)}号室"
        return address, postal, katagaki

    def person(
        self,
        *,
        family: tuple[str, str],
        sex: str,
        age: int,
        relationship: str,
        hittosha: str | None,
        honseki: str | None,
        moved_in: int | None,
        previous_address: str | None,
        foreign: dict[str, Any] | None = None,
        given: tuple[str, str] | None = None,
        removed: bool | None = None,
        former_name: str | None = None,
        support_measure: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One person in the interchange format (a dict: the JSONL writer's fast path)."""
        rng = self.rng
        random_ = rng.random
        self.person_seq += 1
        n = self.person_seq
        birth_ord = _REF_ORD - age * 365 - int(random_() * 365) - 1
        birth_iso = _iso(birth_ord)
        name_given = given or _given(rng, sex, int(birth_iso[:4]))
        if moved_in is None or moved_in <= birth_ord:
            became = birth_ord
            became_reported = min(birth_ord + 3 + int(random_() * 11), _REF_ORD)
            history = [{"date": birth_iso, "kind": "出生", "note": ""}]
            previous_address = None
        else:
            became = moved_in
            became_reported = min(moved_in + int(random_() * 14), _REF_ORD)
            history = [{"date": _iso(became), "kind": "転入", "note": ""}]
        address_set = became
        address_set_reported = became_reported
        if random_() < 0.25 and _REF_ORD - became > 400:
            address_set = became + int(random_() * (_REF_ORD - became))
            address_set_reported = min(address_set + int(random_() * 14), _REF_ORD)
            history.append({"date": _iso(address_set), "kind": "転居", "note": ""})

        status = "resident"
        removed_on = removal_reason = moved_out_to = None
        if removed is None:
            removed = random_() < SHARE_REMOVED
        if removed:
            status = "removed"
            start = max(address_set, _REF_ORD - 5 * 365)
            removed_on = _iso(min(start + int(random_() * max(1, _REF_ORD - start)), _REF_ORD))
            r = random_()
            if (age >= 70 and r < 0.7) or r < 0.3:
                removal_reason = "死亡"
            elif r < 0.95:
                removal_reason = "転出"
                moved_out_to = _PREVIOUS[int(random_() * len(_PREVIOUS))]
            else:
                removal_reason = "職権消除"
            history.append({"date": removed_on, "kind": removal_reason, "note": ""})

        my_number = None if random_() < SHARE_NO_MY_NUMBER else self.ids.my_number(n)
        version = len(history) + (1 if random_() < 0.1 else 0)
        name = f"{family[0]} {name_given[0]}"
        if foreign is None:
            foreign = _NOT_FOREIGN
            if hittosha is None:
                hittosha = name  # the head is the 筆頭者 of their own 戸籍 in this simple model
        else:
            honseki = hittosha = None
        return {
            "person_id": f"P{n:08d}",
            "juminhyo_code": self.ids.juminhyo_code(n),
            "my_number": my_number,
            "version": version,
            "status": status,
            "name": name,
            "name_kana": f"{family[1]} {name_given[1]}",
            "birth_date": birth_iso,
            "sex": sex,
            "relationship": relationship,
            "former_name": former_name,
            "alias": foreign["alias"],
            "alias_kana": foreign["alias_kana"],
            "honseki": honseki,
            "hittosha": hittosha,
            "became_resident_on": _iso(became),
            "became_resident_reported_on": _iso(became_reported),
            "address_set_on": _iso(address_set),
            "address_set_reported_on": _iso(address_set_reported),
            "previous_address": previous_address,
            "removed_on": removed_on,
            "removal_reason": removal_reason,
            "moved_out_to": moved_out_to,
            "nationality": foreign["nationality"],
            "residence_status": foreign["residence_status"],
            "period_of_stay": foreign["period_of_stay"],
            "period_of_stay_until": foreign["period_of_stay_until"],
            "residence_card_number": foreign["residence_card_number"],
            "article_30_45": foreign["article_30_45"],
            "support_measure": support_measure,
            "history": history,
        }

    # -- households -----------------------------------------------------------------------

    def _finish(
        self, members: list[dict[str, Any]], address: str, postal: str, katagaki: str | None
    ) -> dict[str, Any]:
        self.household_seq += 1
        return {
            "household_id": f"H{self.household_seq:08d}",
            "municipality_code": data.MUNICIPALITY_CODE,
            "postal_code": postal,
            "address": address,
            "katagaki": katagaki,
            "head_person_id": members[0]["person_id"],
            "members": members,
        }

    def japanese(
        self,
        size: int,
        *,
        family: tuple[str, str] | None = None,
        support: bool = False,
        all_removed: bool = False,
    ) -> dict[str, Any]:
        rng = self.rng
        address, postal, katagaki = self.address()
        if family is None:
            if rng.random() < SHARE_IVS:
                family = data.IVS_SURNAMES[int(rng.random() * len(data.IVS_SURNAMES))]
            else:
                s = _SURNAME(rng)
                family = (s[0], s[1])
        native = rng.random() < 0.45
        moved_in = None if native else _REF_ORD - int(rng.random() * 40 * 365)
        previous = data.PREVIOUS_ADDRESSES[int(rng.random() * len(data.PREVIOUS_ADDRESSES))]
        if rng.random() < 0.6:
            # 本籍 is written with 番地: "…4番16号" → "…4番地".
            honseki = address[: address.rindex("番")] + "番地" if address[-1] == "号" else address
        else:
            honseki = data.HONSEKI_ELSEWHERE[int(rng.random() * len(data.HONSEKI_ELSEWHERE))]

        couple = not support and (size >= 3 or (size == 2 and rng.random() < 0.7))
        if size == 1:
            head_age = 18 + int(rng.random() * 80)
        elif couple:
            head_age = 25 + int(rng.random() * 65)
        else:
            head_age = 40 + int(rng.random() * 50)
        head_sex = "male" if (couple and rng.random() < 0.85) or rng.random() < 0.5 else "female"
        if support:
            head_sex = "female"  # in this data, a woman who left her partner, with her children
        removed = True if all_removed else None

        def make(sex: str, age: int, rel: str, **extra: Any) -> dict[str, Any]:
            gone = extra.pop("removed", removed)
            return self.person(
                family=family,
                sex=sex,
                age=max(0, age),
                relationship=rel,
                hittosha=head_name,
                honseki=honseki,
                moved_in=moved_in,
                previous_address=previous,
                removed=gone,
                **extra,
            )

        head_name: str | None = None
        measure = None
        if support:
            measure = {
                "until": _iso(_REF_ORD + 365 + int(rng.random() * 365)),
                "perpetrator_person_ids": self.perpetrator_pool[-1:],
            }
        # A protected person is a living resident: the case exists to stop certificates.
        head = make(
            head_sex,
            head_age,
            "世帯主",
            support_measure=measure,
            removed=False if support else removed,
        )
        head_name = head["name"]
        members = [head]
        if couple and len(members) < size:
            spouse_sex = "female" if head_sex == "male" else "male"
            rel = "妻" if spouse_sex == "female" else "夫"
            former = None
            if spouse_sex == "female" and rng.random() < SHARE_FORMER_NAME:
                other = _SURNAME(rng)[0]
                former = other if other != family[0] else None
            age = head_age + int(rng.random() * 11) - 5
            members.append(make(spouse_sex, max(18, age), rel, former_name=former))
        parents = 0
        while len(members) < size:
            slot = len(members)
            child_age = head_age - 22 - int(rng.random() * 15)
            if child_age >= 0 and (slot < 5 or rng.random() < 0.5):
                sex = "male" if rng.random() < 0.51 else "female"
                members.append(make(sex, child_age, "子"))
            elif parents < 2 and head_age + 22 <= 100:
                sex = "male" if parents == 0 else "female"
                members.append(
                    make(
                        sex, head_age + 24 + int(rng.random() * 8), "父" if sex == "male" else "母"
                    )
                )
                parents += 1
            elif child_age >= 20 and slot < size - 1:
                members.append(make("female", child_age - 2, "子の妻"))
                members.append(make("male", max(0, child_age - 26), "孫"))
            else:
                sex = "male" if rng.random() < 0.5 else "female"
                members.append(make(sex, max(0, head_age - 50), "孫"))
        if len(members) > size:
            members = members[:size]
        if head_sex == "male" and head_age >= 25 and not all_removed and not support:
            self.perpetrator_pool.append(head["person_id"])
            if len(self.perpetrator_pool) > 16:
                del self.perpetrator_pool[0]
        return self._finish(members, address, postal, katagaki)

    def foreign(self, size: int) -> dict[str, Any]:
        rng = self.rng
        address, postal, katagaki = self.address()
        nationality, _, families, males, females = _FOREIGN(rng)
        family = families[int(rng.random() * len(families))]
        status, kind, years, _ = _RESIDENCE(rng)
        if status is None and nationality != "韓国":
            status, kind, years = "永住者", "中長期在留者", 0
        size = min(size, 4)
        moved_in = _REF_ORD - int(rng.random() * (20 * 365 if years == 0 else 3 * 365))
        previous = nationality if rng.random() < 0.6 else data.PREVIOUS_ADDRESSES[0]
        alias_family = None
        if kind == "特別永住者" or rng.random() < 0.2:
            s = _SURNAME(rng)
            alias_family = (s[0], s[1])
        if status in _ALONE_STATUSES:
            size = 1  # trainees, students and spouses of Japanese nationals live alone here
        # The family of a worker stays as 家族滞在; of a permanent resident, as 永住者の配偶者等.
        family_status, family_years = _FAMILY_STATUS.get(status, (status, years))
        members: list[dict[str, Any]] = []
        for i in range(size):
            if i > 0:
                status, years = family_status, family_years
            if i == 0:
                sex, age, rel = ("male" if rng.random() < 0.6 else "female"), 22, "世帯主"
                age += int(rng.random() * (50 if years == 0 else 20))
            elif i == 1:
                sex = "female" if members[0]["sex"] == "male" else "male"
                age = 20 + int(rng.random() * 30)
                rel = "妻" if sex == "female" else "夫"
            else:
                sex = "male" if rng.random() < 0.5 else "female"
                age, rel = int(rng.random() * 15), "子"
            names = males if sex == "male" else females
            given = names[int(rng.random() * len(names))]
            card = (
                chr(65 + int(rng.random() * 26))
                + chr(65 + int(rng.random() * 26))
                + f"{int(rng.random() * 10**8):08d}"
                + chr(65 + int(rng.random() * 26))
                + chr(65 + int(rng.random() * 26))
            )
            until = None
            if years:
                until = _iso(_REF_ORD + int(rng.random() * years * 365) + 30)
            extra: dict[str, Any] = {
                "alias": None,
                "alias_kana": None,
                "nationality": nationality,
                "residence_status": status,
                # 在留期間 as on the card (永住者 and 特別永住者 have none).
                "period_of_stay": f"{years}年" if years else None,
                "period_of_stay_until": until,
                "residence_card_number": card,
                "article_30_45": kind,
            }
            if alias_family is not None:
                alias_given = _given(rng, sex, REFERENCE_DATE.year - age)
                extra["alias"] = f"{alias_family[0]} {alias_given[0]}"
                extra["alias_kana"] = f"{alias_family[1]} {alias_given[1]}"
            members.append(
                self.person(
                    family=family,
                    sex=sex,
                    age=age,
                    relationship=rel,
                    hittosha=None,
                    honseki=None,
                    moved_in=moved_in,
                    previous_address=previous,
                    foreign=extra,
                    given=given,
                    removed=False if i == 0 else None,
                )
            )
        return self._finish(members, address, postal, katagaki)

    def random_household(self, size: int) -> dict[str, Any]:
        rng = self.rng
        if rng.random() < SHARE_FOREIGN_HOUSEHOLDS:
            return self.foreign(size)
        return self.japanese(size, support=rng.random() < SHARE_SUPPORT)

    def showcases(self) -> Iterator[dict[str, Any]]:
        first = self.japanese(9, family=("佐藤", "サトウ"))
        if not self.perpetrator_pool:
            self.perpetrator_pool.append(first["head_person_id"])
        yield first
        yield self.japanese(3, family=data.IVS_SURNAMES[0])
        yield self.japanese(2, support=True)
        yield self.japanese(1, all_removed=True)
        yield self.foreign(3)


def household_dicts(persons: int, seed: int) -> Iterator[dict[str, Any]]:
    """The households in the interchange format (dicts), exactly `persons` persons in all."""
    if persons < 0:
        raise ValueError("persons must be ≥ 0")
    gen = _Generator(seed)
    remaining = persons
    households = itertools.chain(
        gen.showcases(), (gen.random_household(_SIZE(gen.rng)) for _ in itertools.count())
    )
    for h in households:
        if remaining <= 0:
            return
        members: list[dict[str, Any]] = h["members"]
        if len(members) > remaining:
            h["members"] = members = members[:remaining]  # the budget ends inside a household
        remaining -= len(members)
        yield h


def generate(persons: int, seed: int) -> Iterator[Household]:
    """Exactly `persons` persons in households, streamed; deterministic for a given seed.

    Each household goes through the strict parser, so what the generator makes is what an
    import accepts."""
    for h in household_dicts(persons, seed):
        yield parse_household(h)


def write_jsonl(path: str | os.PathLike[str], persons: int, seed: int) -> int:
    """Write the municipality as JSONL atomically (app.fileio); → households."""
    count = 0
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with atomic_writer(path, newline="\n") as out:
        batch: list[str] = []
        for h in household_dicts(persons, seed):
            batch.append(encode(h))
            count += 1
            if len(batch) >= 2000:
                batch.append("")
                out.write("\n".join(batch))
                batch.clear()
        if batch:
            batch.append("")
            out.write("\n".join(batch))
    return count
