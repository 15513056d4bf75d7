"""The session's adapters for the 個人番号カード desk (app.services.card_desk): register lookup,
the card's state at this desk, audit notes, and recording a desk event with its outbox entry.

A mixin on SessionCore (app.services.session puts it together).
"""

from __future__ import annotations

from typing import Any

import msgspec

from app.auth.permissions import Permission
from app.auth.reveal import mask_household, mask_person
from app.domain.records import Household, Person
from app.services.session_core import SessionCore
from app.store.audit import AuditAction
from app.store.search import SearchQuery


class CardAdapters(SessionCore):
    """What the card desk needs from the session (mixin on SessionCore)."""

    def card_lookup(self, my_number: str | None, face: Any) -> list[tuple[Any, Household]]:
        """Register candidates for a card: by 個人番号 when read, else by name and birth date.

        Both lookups are audit entries (the number lookup names the person found, never the
        number). A register 個人番号 leaves here only when it equals the card's own (the desk
        read it from the card); any other is masked, so the comparison still tells them apart.
        """
        self._require(Permission.CARD_READ)
        if my_number:
            found = self.cache.find_by_my_number(my_number)
            self.audit(
                AuditAction.LOOKUP_MY_NUMBER,
                [found[0].person_id] if found is not None else [],
                reason="カードの個人番号で照会" + ("" if found is not None else "(該当なし)"),
            )
            if found is not None:
                person, household_id = found
                return [_card_view(person, self.cache.household(household_id), my_number)]
        page = self.cache.search(SearchQuery(name=face.name, birth_date=face.birth_date), limit=20)
        self.audit(
            AuditAction.SEARCH,
            [h.person_id for h in page.hits],
            reason="カードの4情報(氏名・生年月日)で照会",
        )
        out: list[tuple[Any, Household]] = []
        for hit in page.hits:
            household = self.cache.household(hit.household_id)
            out.append(_card_view(household.member(hit.person_id), household, my_number))
        return out

    def card_state(self, person_id: str) -> str | None:
        """The card's state at this desk as last recorded here (None: never recorded)."""
        self._require(Permission.CARD_READ)
        return self.cache.local_state(f"card_state:{person_id}")

    def card_audit(self, action: str, details: dict[str, Any]) -> None:
        """The card desk's notes become audit entries (ids only, never card contents)."""
        targets = [str(details[k]) for k in ("person_id", "event_id") if details.get(k)]
        kind = AuditAction.CARD_EVENT if action == "card_event" else AuditAction.CARD_READ
        self.audit(kind, targets, reason=action if kind is AuditAction.CARD_READ else None)

    def record_card_event(self, recorded: Any) -> None:
        """The desk event goes to the outbox and the card's state is kept, in one transaction."""
        self._require(Permission.CARD_DESK)
        with self.cache.transaction():
            self.cache.outbox_add(recorded.event)
            self.cache.set_local_state(f"card_state:{recorded.person_id}", recorded.new_state.value)


def _card_view(
    person: Person, household: Household, card_number: str | None
) -> tuple[Person, Household]:
    """The register's person and household for the card desk, numbers masked unless the
    person's is the card's own."""
    shown = person if card_number and person.my_number == card_number else mask_person(person)
    masked = mask_household(household)
    members = tuple(shown if m.person_id == person.person_id else m for m in masked.members)
    return shown, msgspec.structs.replace(masked, members=members)
