"""The clerk's interview turned into a draft: what the 異動届 screen (ui/notification_tab.py)
shows for a procedure and how its answers become a NotificationDraft. Pure functions, so the
screen stays a view and the rules of what a procedure starts from are tested without Qt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from msgspec.structs import replace

from app.domain.certificates import IdentityDocument
from app.domain.notifications.drafts import (
    address_of,
    movers_from_certificate,
    movers_of,
    roles_of,
)
from app.domain.notifications.households import propose_households
from app.domain.notifications.model import (
    HOUSEHOLD_CHANGE,
    MOVE_IN,
    MOVE_OUT,
    Address,
    Filer,
    HouseholdPlan,
    MoveOutCertificate,
    Mover,
    NotificationDraft,
    Procedure,
)
from app.domain.records import Household

# The whole household moves unless the clerk unticks someone (a 世帯分離 starts from nobody).
WHOLE_HOUSEHOLD = frozenset(
    {Procedure.MOVE_WITHIN, Procedure.MOVE_OUT, Procedure.SPECIAL_MOVE_OUT, Procedure.MERGER}
)


@dataclass(frozen=True, slots=True)
class MoverChoice:
    """Who the screen lists as possible movers, which are ticked, and who is under 支援措置."""

    movers: tuple[Mover, ...]
    checked: bool
    protected: frozenset[str]


def mover_choice(
    procedure: Procedure,
    source: Household | None,
    certificate: MoveOutCertificate | None,
    today: date,
) -> MoverChoice:
    """A 転入 lists the persons of the 転出証明書 (all ticked); the others the residents of the
    household (ticked when the procedure usually takes the whole household)."""
    if procedure in MOVE_IN:
        special = procedure == Procedure.SPECIAL_MOVE_IN
        movers = movers_from_certificate(certificate, special=special) if certificate else ()
        return MoverChoice(movers, True, frozenset())
    if source is None:
        return MoverChoice((), False, frozenset())
    ids = [m.person_id for m in source.members if m.status == "resident"]
    protected = frozenset(m.person_id for m in source.members if m.is_protected_on(today))
    return MoverChoice(movers_of(source, ids), procedure in WHOLE_HOUSEHOLD, protected)


def plans_for(
    procedure: Procedure,
    source: Household | None,
    chosen: Sequence[Mover],
    target: Household | None = None,
) -> tuple[HouseholdPlan, ...]:
    """The households afterwards the screen proposes for the chosen movers (the clerk adjusts
    the 続柄). A 転出 shows only who stays: the movers leave the register."""
    if procedure == Procedure.HEAD_CHANGE:
        return propose_households(procedure, source, (), target=None)
    keys = tuple(m.key for m in chosen)
    roles = roles_of(chosen) if procedure in MOVE_IN else ()
    plans = propose_households(procedure, source, keys, target=target, new_roles=roles)
    if procedure in MOVE_OUT:
        plans = tuple(p for p in plans if not p.at_new_address)
    return plans


def filer_candidates(source: Household | None, movers: Sequence[Mover]) -> list[tuple[str, str]]:
    """(label, key) of who may stand at the counter: the household's residents, the 転入者."""
    out: list[tuple[str, str]] = []
    if source is not None:
        out += [
            (f"{p.name}（{p.relationship}）", p.person_id)
            for p in source.members
            if p.status == "resident"
        ]
    out += [(f"{m.name}（転入者）", m.key) for m in movers if m.is_new]
    return out


def filer_name(key: str, source: Household | None, movers: Sequence[Mover]) -> str:
    name = next((m.name for m in movers if m.key == key), None)
    if name is None and source is not None:
        name = next((p.name for p in source.members if p.person_id == key), "")
    return name or ""


@dataclass(frozen=True, slots=True)
class Answers:
    """What the clerk typed and chose, as the screen holds it."""

    notification_id: str
    procedure: Procedure
    municipality_code: str
    office: str
    filed_on: date
    moved_on: date | None
    listed: tuple[Mover, ...]  # every person the screen lists
    chosen: tuple[Mover, ...]  # the ticked ones, with the 続柄 as typed
    plans: tuple[HouseholdPlan, ...]  # the households afterwards, 続柄 as typed
    filer: Filer
    source: Household | None = None
    certificate: MoveOutCertificate | None = None  # paper (転入) or 住基ネット (特例転入)
    new_address: str = ""
    katagaki: str = ""
    postal_code: str = ""
    identity_documents: tuple[IdentityDocument, ...] = ()
    card_presented: bool = False
    destination_head_name: str = ""
    note: str = ""


def assemble_draft(a: Answers) -> NotificationDraft | None:
    """The draft the answers make, or None while something it cannot do without is missing
    (the 異動日, a mover, the household of a registered person)."""
    p = a.procedure
    if a.moved_on is None:
        return None
    relationships = {r.key: r.relationship for plan in a.plans for r in plan.roles}
    movers = [replace(m, relationship=relationships.get(m.key, m.relationship)) for m in a.chosen]
    if p == Procedure.HEAD_CHANGE and a.source is not None:
        # The persons whose 続柄 changes are the ones the 届出 is about.
        before = {m.person_id: m.relationship for m in a.source.members}
        movers = [
            replace(m, relationship=relationships[m.key])
            for m in a.listed
            if m.key in relationships and relationships[m.key] != before.get(m.key)
        ]
    if not movers or (p not in MOVE_IN and a.source is None):
        return None
    certificate = a.certificate if p in MOVE_IN else None
    old = address_of(a.source) if a.source is not None else None
    if certificate is not None:
        old = Address(text=certificate.address, katagaki=certificate.katagaki)
    new = None
    text = a.new_address.strip()
    if p not in HOUSEHOLD_CHANGE and text:
        new = Address(
            text=text, katagaki=a.katagaki.strip() or None, postal_code=a.postal_code or None
        )
    return NotificationDraft(
        notification_id=a.notification_id,
        procedure=p,
        municipality_code=a.municipality_code,
        office=a.office,
        filed_on=a.filed_on,
        moved_on=a.moved_on,
        filer=a.filer,
        movers=tuple(movers),
        households=a.plans,
        old_address=old,
        new_address=new,
        source_household_id=a.source.household_id if a.source is not None else None,
        identity_documents=a.identity_documents,
        move_out_certificate=certificate,
        card_presented=a.card_presented,
        destination_head_name=a.destination_head_name.strip() or None,
        note=a.note.strip(),
    )


__all__ = [
    "WHOLE_HOUSEHOLD",
    "Answers",
    "MoverChoice",
    "assemble_draft",
    "filer_candidates",
    "filer_name",
    "mover_choice",
    "plans_for",
]
