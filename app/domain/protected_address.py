"""支援措置: what the counter's screen may hold of a protected address (DESIGN.md §6, §8).

The measure protects an address, not only the persons it names (app.domain.certificates
.protection): the household of a protected person, and anyone registered at the address where
a protected resident lives, are shown with the address withheld until it is revealed with a
reason (an audited session call). The session withholds it at the source, in what it hands to
the UI (households, search hits, the card desk's comparison): the UI cannot show what it never
got.

An address is compared through `app.domain.addresses.search_key` (方書 ignored, 「3丁目6番19号」
and 「3-6-19」 alike): coarser than the certificate rules' key, so it withholds rather more than
less. A 前住所, 転出先 or 記事 that names a protected address is withheld too.

Pure: no I/O. The session builds the shield from the register's active measures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import msgspec

from app.domain.addresses import search_key
from app.domain.certificates.protection import ProtectedResident
from app.domain.records import Household, Person

# What the screen shows instead of a withheld address (and what the session hands out).
ADDRESS_WITHHELD = "(支援措置のため表示しません)"


def is_withheld(text: str | None) -> bool:
    """True for an address the session withheld (the UI asks for the reveal then)."""
    return text is not None and ADDRESS_WITHHELD in text


@dataclass(frozen=True, slots=True)
class AddressShield:
    """The protected addresses of the register on one day: search keys of the addresses where a
    resident under an active 支援措置 is registered."""

    keys: frozenset[str] = frozenset()

    @classmethod
    def of(cls, addresses: Iterable[str]) -> AddressShield:
        """From the addresses where a resident under an active measure is registered (a 除票's
        last address is not where they live now: their own records stay withheld anyway)."""
        return cls(frozenset(k for a in addresses if (k := search_key(a))))

    @classmethod
    def of_protections(cls, protections: Iterable[ProtectedResident]) -> AddressShield:
        return cls.of(m.address for m in protections if m.resident)

    def covers(self, address: str) -> bool:
        """`address` is (the beginning of) a protected address: registered there."""
        key = search_key(address)
        return bool(key) and key in self.keys

    def names_protected(self, text: str | None) -> bool:
        """A free text (前住所, 転出先, 記事) that names a protected address."""
        if not text or not self.keys:
            return False
        folded = search_key(text)
        return any(k in folded for k in self.keys)

    def withholds(self, household: Household, today: date) -> bool:
        """The household's address is withheld: a member is protected today, or the household
        is registered at a protected address."""
        return any(p.is_protected_on(today) for p in household.members) or self.covers(
            household.address
        )

    def hit_withheld(self, *, protected: bool, address: str) -> bool:
        """The same for one search hit (the person's own measure, or the address)."""
        return protected or self.covers(address)

    def screen_copy(self, household: Household, today: date) -> Household:
        """The household as the screen may hold it: the address (with 〒 and 方書) withheld
        when `withholds`, and every member's texts that name a protected address."""
        members = tuple(self.screen_person(p, today) for p in household.members)
        if not self.withholds(household, today):
            if members == household.members:
                return household
            return msgspec.structs.replace(household, members=members)
        return msgspec.structs.replace(
            household, postal_code="", address=ADDRESS_WITHHELD, katagaki=None, members=members
        )

    def screen_person(self, person: Person, today: date) -> Person:
        """A person's 前住所, 転出先 and 記事 withheld when they name a protected address; a
        protected person's own 転出先 (where they went) always."""
        moved_to = person.moved_out_to
        if moved_to and (person.is_protected_on(today) or self.names_protected(moved_to)):
            moved_to = ADDRESS_WITHHELD
        previous = person.previous_address
        if self.names_protected(previous):
            previous = ADDRESS_WITHHELD
        history = tuple(
            msgspec.structs.replace(h, note=ADDRESS_WITHHELD) if self.names_protected(h.note) else h
            for h in person.history
        )
        if (moved_to, previous, history) == (
            person.moved_out_to,
            person.previous_address,
            person.history,
        ):
            return person
        return msgspec.structs.replace(
            person, moved_out_to=moved_to, previous_address=previous, history=history
        )


def full_address(household: Household) -> str:
    """〒, 住所 and 方書 on one line, as the screen shows a household's address."""
    address = household.address + (f" {household.katagaki}" if household.katagaki else "")
    return f"〒{household.postal_code} {address}" if household.postal_code else address
