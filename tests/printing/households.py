"""Households for the certificate tests, built from app.domain.records dataclasses."""

from __future__ import annotations

from datetime import date

from msgspec.structs import replace

from app.domain.identifiers import juminhyo_code_check_digit, my_number_check_digit
from app.domain.records import (
    HistoryEntry,
    Household,
    PerpetratorRecord,
    Person,
    SupportMeasure,
)

# Variation sequences that IPAmj明朝 maps to their own glyphs (cmap format 14).
KATSURA_IVS = "葛\U000e0102"  # 葛 + VS19: not the default glyph of 葛
TSUJI_IVS = "辻\U000e0103"


def juminhyo_code(n: int) -> str:
    body = f"{n:010d}"
    return body + str(juminhyo_code_check_digit(body))


def my_number(n: int) -> str:
    body = f"{n:011d}"
    return body + str(my_number_check_digit(body))


def person(i: int, name: str, relationship: str, **changes: object) -> Person:
    p = Person(
        person_id=f"P{i:04d}",
        juminhyo_code=juminhyo_code(10_000 + i),
        my_number=my_number(50_000_000 + i),
        version=1 + i,
        status="resident",
        name=name,
        name_kana="キタミ タロウ",
        birth_date=date(1970 + i, 3, 12),
        sex="male" if i % 2 == 0 else "female",
        relationship=relationship,
        honseki="北海道網走市南六条東一丁目1番地",
        hittosha="北見　太郎",
        became_resident_on=date(1990, 4, 1),
        address_set_on=date(2015, 6, 1),
        address_set_reported_on=date(2015, 6, 10),
        previous_address="札幌市中央区北一条西二丁目1番地",
        history=(HistoryEntry(date(2015, 6, 1), "転入", "札幌市中央区から転入"),),
    )
    return replace(p, **changes)  # type: ignore[arg-type]


def household(n_members: int = 4, *, household_id: str = "H0001") -> Household:
    given = "一二三四五六七八九十"
    members = [person(0, "北見　太郎", "世帯主")]
    members += [
        person(i, f"北見　{given[i - 1]}子", "子" if i > 1 else "妻") for i in range(1, n_members)
    ]
    return Household(
        household_id=household_id,
        municipality_code="012084",
        postal_code="090-0024",
        address="北海道北見市北五条東二丁目1番地",
        katagaki="コーポ北見101号",
        head_person_id="P0000",
        members=tuple(members),
    )


def with_member(h: Household, index: int, **changes: object) -> Household:
    members = list(h.members)
    members[index] = replace(members[index], **changes)  # type: ignore[arg-type]
    return replace(h, members=tuple(members))


def foreign(h: Household, index: int) -> Household:
    return with_member(
        h,
        index,
        nationality="ベトナム",
        residence_status="技術・人文知識・国際業務",
        period_of_stay="5年",
        period_of_stay_until=date(2028, 4, 1),
        residence_card_number="AB12345678CD",
        article_30_45="中長期在留者",
        honseki=None,
        hittosha=None,
    )


def special_permanent(h: Household, index: int) -> Household:
    """特別永住者: 区分 and 特別永住者証明書の番号, no 在留資格 nor 在留期間 (§30の45 表)."""
    return with_member(
        h,
        index,
        nationality="韓国",
        residence_status=None,
        period_of_stay=None,
        period_of_stay_until=None,
        residence_card_number="CD87654321EF",
        article_30_45="特別永住者",
        alias="金田　花子",
        honseki=None,
        hittosha=None,
    )


def protected(
    h: Household,
    index: int,
    perpetrators: tuple[str, ...] = (),
    known: tuple[PerpetratorRecord, ...] = (),
) -> Household:
    measure = SupportMeasure(date(2027, 12, 31), perpetrators, known)
    return with_member(h, index, support_measure=measure)


def neighbour(
    h: Household, *, household_id: str = "H0002", katagaki: str | None = None
) -> Household:
    """Another household registered at the same 住所 (方書 may differ)."""
    other = household(2, household_id=household_id)
    members = tuple(
        replace(m, person_id=f"N{i:04d}", name=f"隣野　{'太花'[i % 2]}郎")
        for i, m in enumerate(other.members)
    )
    return replace(
        other,
        address=h.address,
        katagaki=katagaki,
        head_person_id="N0000",
        members=members,
    )


def removed(h: Household, index: int) -> Household:
    return with_member(
        h,
        index,
        status="removed",
        removed_on=date(2024, 3, 31),
        removal_reason="転出",
        moved_out_to="東京都千代田区千代田1番1号",
    )


def member_requester(h: Household, person_id: str = "P0000", kind: str = "household_member"):
    """A requester found in the register as a member of `h` (certificate tests)."""
    from app.domain.certificates import PersonRef, Requester, RequesterKind

    p = h.member(person_id)
    return Requester(RequesterKind(kind), PersonRef(p.name, h.address, p.birth_date, p.person_id))
