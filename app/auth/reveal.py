"""個人番号: masked on screen, revealed only with a reason, and every reveal is audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from app.auth.approval import normalise_reason
from app.auth.permissions import Permission
from app.auth.session import Session
from app.domain.records import Household, Person
from app.store.audit import AuditAction

MASK = "●●●● ●●●● ●●●●"


def mask_my_number(number: str | None) -> str:
    """What the screen shows before a reveal: nothing of the number, not even its length."""
    return "(なし)" if not number else MASK


def mask_person(person: Person) -> Person:
    """The person as the screen may hold it: a 個人番号 becomes MASK (None stays None, so the
    rules still see who has one)."""
    if person.my_number is None:
        return person
    return msgspec.structs.replace(person, my_number=MASK)


def mask_household(household: Household) -> Household:
    """Every member's 個人番号 masked (what open_household hands to the UI)."""
    return msgspec.structs.replace(
        household, members=tuple(mask_person(m) for m in household.members)
    )


def format_my_number(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def reveal_my_number(
    session: Session,
    person_id: str,
    reason: str | None,
    *,
    fetch: Callable[[str], str | None],
    record: Callable[..., Any],
) -> str | None:
    """The person's 個人番号 for display, after the permission check and the audit entry.

    Refused (ReasonRequired) without a reason and (PermissionDenied) without the permission,
    before anything is read. The entry is written before the number is returned: if the chain
    cannot record the reveal, nothing is revealed.
    """
    session.require(Permission.REVEAL_MY_NUMBER)
    text = normalise_reason(reason, "個人番号の表示")
    record(session.operator_id, AuditAction.REVEAL_MY_NUMBER, [person_id], reason=text)
    return fetch(person_id)
