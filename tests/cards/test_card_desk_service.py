"""The card desk use cases with the in-process virtual card and an in-memory register."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.auth.permissions import PermissionDenied
from app.cards.apdu import PinBlocked, WrongPin
from app.cards.mynumber import PinKind
from app.cards.simulator import CardProfile, VirtualCard
from app.cards.simulator_transport import SimulatorTransport
from app.domain.cards import (
    CardAction,
    CardFaceInfo,
    CardState,
    IdentityChecklist,
    IncompleteIdentityCheck,
    InvalidCardTransition,
)
from app.domain.errors import DomainError
from app.domain.records import Household, Person
from app.services.card_desk import CardDeskService, DeskContext, NoFaceInfo
from app.sync.protocol import Event

NOW = datetime(2030, 2, 1, 10, 0, tzinfo=UTC)  # 2 months before the demo certificate expires


def _resident(profile: CardProfile, **kw: object) -> tuple[Person, Household]:
    fields: dict[str, object] = dict(
        person_id="P-0001",
        juminhyo_code="12345678901",
        my_number=profile.my_number,
        version=7,
        status="resident",
        name=profile.name,
        name_kana="マドグチ ハナコ",
        birth_date=profile.birth_date,
        sex=profile.sex,
        relationship="世帯主",
    )
    fields.update(kw)
    p = Person(**fields)  # type: ignore[arg-type]
    h = Household("H-0001", "012084", "090-0001", profile.address, None, p.person_id, (p,))
    return p, h


class Register:
    def __init__(self, *pairs: tuple[Person, Household]) -> None:
        self.pairs = list(pairs)
        self.calls: list[str | None] = []

    def __call__(self, my_number: str | None, face: CardFaceInfo):
        self.calls.append(my_number)
        if my_number is not None:
            return [ph for ph in self.pairs if ph[0].my_number == my_number]
        return [ph for ph in self.pairs if ph[0].birth_date == face.birth_date]


def _service(card: VirtualCard, register: Register, roles=("issuer",), audit=None):
    ids = iter(f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 100))
    return CardDeskService(
        DeskContext("op-7", tuple(roles), "T001"),
        lambda: SimulatorTransport(card),
        register,
        audit=audit,
        clock=lambda: NOW,
        new_event_id=lambda: next(ids),
    )


def test_read_with_pin_match_and_issue(card: VirtualCard, profile: CardProfile) -> None:
    person, household = _resident(profile)
    audit: list[tuple[str, dict]] = []
    svc = _service(card, Register((person, household)), audit=lambda a, d: audit.append((a, d)))

    reading = svc.read_with_pin(profile.kenhojo_pin)
    assert reading.face is not None and reading.face.my_number == profile.my_number
    assert reading.retries[PinKind.KENHOJO_PIN] == 3
    # The certificate expires within three months of NOW: a warning.
    assert [e.level for e in reading.expiries] == ["expiring"]

    match = svc.match(reading)
    assert match.identical and match.person == person and "一致" in match.message

    checklist = IdentityChecklist(True, ("交付通知書", "運転免許証"), True)
    rec = svc.record(CardAction.ISSUE, person, CardState.NOT_ISSUED, checklist=checklist)
    assert rec.new_state == CardState.ISSUED
    ev = rec.event
    assert isinstance(ev, Event) and ev.type == "card_event"
    assert ev.relied_versions == {"P-0001": 7} and ev.operator_id == "op-7"
    assert ev.payload["action"] == "issue"
    assert ev.payload["details"]["checklist"]["face_photo_matched"]
    # Round trip through the wire model, and nothing personal in the event or the audit.
    wire = Event.model_validate_json(ev.model_dump_json()).model_dump_json()
    text = wire + repr(audit)
    for secret in (profile.name, profile.my_number, profile.address, profile.kenhojo_pin):
        assert secret not in text
    assert [a for a, _ in audit] == ["card_read", "card_match", "card_event"]


def test_read_with_collation_b_gives_photo_and_card_expiry(
    card: VirtualCard, profile: CardProfile
) -> None:
    person, household = _resident(profile)
    register = Register((person, household))
    svc = _service(card, register, roles=("clerk",))
    reading = svc.read_with_collation_b(profile.collation_b)
    assert reading.face is not None and reading.face.my_number is None
    assert reading.reading.kenmen is not None and reading.reading.kenmen.face_photo
    assert {e.expires_on for e in reading.expiries} == {
        profile.card_expires_on,
        profile.certificate_expires_on,
    }
    match = svc.match(reading)
    assert match.identical and register.calls == [None]


def test_differences_reach_the_clerk(card: VirtualCard, profile: CardProfile) -> None:
    moved = _resident(profile, previous_address=profile.address)
    person = moved[0]
    household = Household(
        "H-9",
        "012084",
        "090-0002",
        "北海道北見市とん田東町1番地",
        None,
        person.person_id,
        (person,),
    )
    svc = _service(card, Register((person, household)))
    match = svc.match(svc.read_with_pin(profile.kenhojo_pin))
    assert not match.identical
    assert [(d.field, d.kind) for d in match.differences] == [("address", "needs_endorsement")]
    assert "住所" in match.message


def test_no_candidate(card: VirtualCard, profile: CardProfile) -> None:
    svc = _service(card, Register())
    match = svc.match(svc.read_with_pin(profile.kenhojo_pin))
    assert not match.found and "見つかりません" in match.message
    with pytest.raises(NoFaceInfo):
        svc.match(svc.status())


def test_status_needs_no_pin_and_shows_retries(card: VirtualCard, profile: CardProfile) -> None:
    svc = _service(card, Register(), roles=("clerk",))
    with pytest.raises(WrongPin):
        svc.read_with_pin("0000")
    st = svc.status()
    assert st.face is None and st.retries[PinKind.KENHOJO_PIN] == 2
    assert "券面事項入力補助用暗証番号: 残り2回" in st.retry_lines()


def test_blocked_pin_is_reported_blocked_without_a_try(
    profile_dict: dict, profile: CardProfile
) -> None:
    profile_dict["retries"] = {"kenhojo_pin": 0}
    card = VirtualCard(CardProfile.from_dict(profile_dict))
    svc = _service(card, Register())
    with pytest.raises(PinBlocked):
        svc.read_with_pin(profile.kenhojo_pin)
    assert "ロック中" in " ".join(svc.status().retry_lines())


def test_permissions_are_enforced_in_the_service(card: VirtualCard, profile: CardProfile) -> None:
    person, household = _resident(profile)
    auditor = _service(card, Register((person, household)), roles=("auditor",))
    with pytest.raises(PermissionDenied):
        auditor.read_with_pin(profile.kenhojo_pin)
    with pytest.raises(PermissionDenied):
        auditor.status()
    clerk = _service(card, Register((person, household)), roles=("clerk",))
    clerk.status()  # a clerk may read
    with pytest.raises(PermissionDenied):
        clerk.record(CardAction.SUSPEND, person, CardState.ISSUED, reason="紛失の届出")


def test_lifecycle_rules_apply(card: VirtualCard, profile: CardProfile) -> None:
    person, _ = _resident(profile)
    svc = _service(card, Register())
    with pytest.raises(InvalidCardTransition):
        svc.record(CardAction.RESUME, person, CardState.ISSUED)
    with pytest.raises(IncompleteIdentityCheck):
        svc.record(
            CardAction.ISSUE,
            person,
            CardState.NOT_ISSUED,
            checklist=IdentityChecklist(False, ("通知書",), True),
        )
    with pytest.raises(DomainError, match="理由"):
        svc.record(CardAction.SUSPEND, person, CardState.ISSUED)
    rec = svc.record(CardAction.SUSPEND, person, CardState.ISSUED, reason="紛失の届出")
    assert rec.new_state == CardState.SUSPENDED
    assert rec.event.payload["details"]["reason"] == "紛失の届出"
    rec2 = svc.record(CardAction.RESUME, person, rec.new_state)
    assert rec2.new_state == CardState.ISSUED
    assert rec.event.event_id != rec2.event.event_id
    assert date.fromisoformat(rec.event.occurred_at.date().isoformat()) == NOW.date()


def test_recorded_event_payload_is_what_the_server_accepts(
    card: VirtualCard, profile: CardProfile
) -> None:
    """The card_event travels as protocol.CardEventPayload (the server validates it strictly)."""
    from app.sync.protocol import CardEventPayload

    person, _ = _resident(profile)
    rec = _service(card, Register()).record(
        CardAction.SUSPEND, person, CardState.ISSUED, reason="紛失の届出"
    )
    parsed = CardEventPayload.model_validate(rec.event.payload)
    assert parsed.person_id == person.person_id
    assert parsed.details["to_state"] == CardState.SUSPENDED.value
