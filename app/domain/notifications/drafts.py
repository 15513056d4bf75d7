"""Pieces of a draft taken from what the counter already has: a household of the register, a
転出証明書 (paper or 住基ネット). The clerk's screen, the demo and the tests start from these."""

from __future__ import annotations

from collections.abc import Iterable

from app.domain.notifications.model import (
    NEW_KEY_PREFIX,
    Address,
    MoveOutCertificate,
    Mover,
    Role,
)
from app.domain.records import Household


def address_of(h: Household) -> Address:
    """The household's address as a draft's 旧住所 (with 方書 and postal code)."""
    return Address(text=h.address, katagaki=h.katagaki, postal_code=h.postal_code)


def movers_of(h: Household, person_ids: Iterable[str]) -> tuple[Mover, ...]:
    """Residents of the household as movers, in the household's order, with their 続柄 now."""
    wanted = set(person_ids)
    return tuple(
        Mover(
            key=p.person_id,
            name=p.name,
            name_kana=p.name_kana,
            birth_date=p.birth_date,
            sex=p.sex,
            relationship=p.relationship,
        )
        for p in h.members
        if p.person_id in wanted and p.status == "resident"
    )


def movers_from_certificate(
    c: MoveOutCertificate, *, special: bool = False, indexes: Iterable[int] | None = None
) -> tuple[Mover, ...]:
    """The persons of a 転出証明書 (all, or those at `indexes`) as 転入者 (keys new-1 …); in a
    特例転入 a card holder's 個人番号カード stays in use (継続利用)."""
    chosen = list(range(len(c.persons))) if indexes is None else sorted(set(indexes))
    return tuple(
        Mover(
            key=f"{NEW_KEY_PREFIX}{n + 1}",
            name=p.name,
            name_kana=p.name_kana,
            birth_date=p.birth_date,
            sex=p.sex,
            relationship=p.relationship,
            juminhyo_code=p.juminhyo_code,
            my_number=p.my_number,
            honseki=p.honseki,
            hittosha=p.hittosha,
            former_name=p.former_name,
            card_continued=special and p.card_holder,
        )
        for n, i in enumerate(chosen)
        for p in (c.persons[i],)
    )


def roles_of(movers: Iterable[Mover]) -> tuple[Role, ...]:
    """The movers' 続柄 as the roles of the household they form (世帯主 first)."""
    ordered = sorted(movers, key=lambda m: m.relationship != "世帯主")
    return tuple(Role(key=m.key, relationship=m.relationship) for m in ordered)


__all__ = ["address_of", "movers_from_certificate", "movers_of", "roles_of"]
