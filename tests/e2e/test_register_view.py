"""Viewing the register through the session (issue 17, second pass), with the real counter
behind it (server over HTTPS on loopback, SQLCipher cache):

- 支援措置: the address of a protected person, and of anyone registered at the protected
  address, is withheld in what the session hands out (search hits, households, the card desk's
  comparison, a mailing address in a decision); `reveal_protected_address` shows it with its
  own permission, a reason and its own audit action; the rules and the issuance read the
  register's copy, never the screen's;
- `person_detail`: 本籍・筆頭者, 前住所, 異動履歴 behind VIEW_PERSON_DETAIL, audited as
  VIEW_PERSON, a reason required for a protected person;
- `record_export`: the 日計表 saved as a file is a typed, audited output.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from typing import Any

import pdfplumber
import pytest

from app.auth.errors import ReasonRequired
from app.auth.permissions import PermissionDenied
from app.domain.cards import CardFaceInfo
from app.domain.certificates import (
    CertificateRequest,
    IdentityDocument,
    PersonRef,
    Purpose,
    Requester,
    RequesterKind,
)
from app.domain.errors import ValidationError
from app.domain.protected_address import ADDRESS_WITHHELD
from app.services.card_desk import CardDeskService, DeskContext, DeskReading
from app.services.issuance import ExportMedium, daily_report_target
from app.store.audit import AuditAction
from tests.e2e.conftest import (
    NEIGHBOUR_HOUSEHOLD,
    NEIGHBOUR_PERSON,
    PASSWORDS,
    PROTECTED_ADDRESS,
    PROTECTED_HOUSEHOLD,
    PROTECTED_PERSON,
)

NEIGHBOUR_ROOM = "北1条ハイツ202号"


@pytest.fixture
def issuer(counter: Any) -> Iterator[Any]:
    session = counter.login("issuer01")
    session.sync_once()
    yield session
    session.logout()


def _entries(session: Any, action: AuditAction) -> list[Any]:
    return session.chain.query(actions=[action.value])


def _ordinary_household(session: Any) -> Any:
    hit = next(
        h for h in session.search(name="さとう").hits if h.status == "resident" and not h.protected
    )
    return session.open_household(hit.household_id)


# --- 支援措置: withheld at the source ----------------------------------------------------------


def test_search_hits_withhold_the_protected_address_and_the_neighbours(issuer: Any) -> None:
    protected = issuer.search(name="もりた しずか").hits
    assert [(h.protected, h.address_withheld) for h in protected] == [(True, True)]
    neighbour = issuer.search(name="となりの いちろう").hits
    # Not protected themselves, but registered at the protected address (another room).
    assert [(h.protected, h.address_withheld) for h in neighbour] == [(False, True)]
    for hit in (*protected, *neighbour):
        assert hit.address == ADDRESS_WITHHELD and hit.katagaki is None
        assert PROTECTED_ADDRESS not in repr(hit) and "ハイツ" not in repr(hit)
    ordinary = [h for h in issuer.search(name="さとう").hits if not h.protected]
    assert ordinary and not any(h.address_withheld for h in ordinary)
    assert all(h.address.startswith("北海道北見市") for h in ordinary)


def test_households_come_with_the_protected_address_withheld(issuer: Any) -> None:
    for household_id in (PROTECTED_HOUSEHOLD, NEIGHBOUR_HOUSEHOLD):
        h = issuer.open_household(household_id)
        assert (h.postal_code, h.address, h.katagaki) == ("", ADDRESS_WITHHELD, None)
        assert PROTECTED_ADDRESS not in repr(h)
    ordinary = _ordinary_household(issuer)
    assert ordinary.address.startswith("北海道北見市") and ordinary.postal_code


def test_reveal_needs_its_permission_and_a_reason_and_is_audited(counter: Any) -> None:
    clerk = counter.login("clerk01")
    try:
        clerk.sync_once()
        before = len(clerk.chain.query())
        with pytest.raises(PermissionDenied):
            clerk.reveal_protected_address(PROTECTED_HOUSEHOLD, "本人からの申出")
        assert len(clerk.chain.query()) == before  # nothing recorded, nothing shown
    finally:
        clerk.logout()

    issuer = counter.login("issuer01")
    try:
        with pytest.raises(ReasonRequired):
            issuer.reveal_protected_address(NEIGHBOUR_HOUSEHOLD, " ")
        assert not _entries(issuer, AuditAction.REVEAL_ADDRESS)
        shown = issuer.reveal_protected_address(NEIGHBOUR_HOUSEHOLD, "本人からの住所確認の申出")
        assert shown == f"〒090-0041 {PROTECTED_ADDRESS} {NEIGHBOUR_ROOM}"
        [entry] = _entries(issuer, AuditAction.REVEAL_ADDRESS)
        assert entry.target_ids == (NEIGHBOUR_HOUSEHOLD, NEIGHBOUR_PERSON)
        assert entry.reason == "本人からの住所確認の申出"
    finally:
        issuer.logout()


def test_card_desk_compares_with_the_register_but_shows_it_withheld(issuer: Any) -> None:
    """The card holder is the neighbour: the comparison is made on the register's address (the
    card agrees with it), while the result the card desk shows has it withheld."""
    face = CardFaceInfo(
        name="隣野 一郎",
        address=PROTECTED_ADDRESS + NEIGHBOUR_ROOM,
        birth_date=date(1960, 2, 2),
        sex="male",
    )
    service = CardDeskService(
        DeskContext("issuer01", ("issuer",), issuer.terminal_no),
        lambda: None,  # type: ignore[arg-type,return-value]  # no card access in match()
        issuer.card_lookup,
        screen=issuer.screen_household,
    )
    reading = DeskReading("pin", _reading(face))
    match = service.match(reading)
    assert match.person is not None and match.person.person_id == NEIGHBOUR_PERSON
    assert match.identical, match.differences  # compared with the register as it is
    assert match.household is not None and match.household.address == ADDRESS_WITHHELD
    assert PROTECTED_ADDRESS not in repr(match.household)

    moved = CardFaceInfo(
        name=face.name,
        address="北海道北見市常盤町1丁目1番地",
        birth_date=face.birth_date,
        sex="male",
    )
    differing = service.match(DeskReading("pin", _reading(moved)))
    [diff] = differing.differences
    assert diff.field == "address" and diff.register_value == ADDRESS_WITHHELD


def _reading(face: CardFaceInfo) -> Any:
    from app.cards.mynumber import CardReading

    return CardReading(face=face)


def _self_request(household: Any, person_id: str) -> CertificateRequest:
    p = household.member(person_id)
    # As the issuance dialog builds it from the screen's copy: the address withheld.
    return CertificateRequest(
        requester=Requester(
            RequesterKind.SELF, PersonRef(p.name, household.address, p.birth_date, person_id)
        ),
        identity_documents=(IdentityDocument.DRIVERS_LICENSE,),
        purpose=Purpose(reason="年金の手続に添付するため"),
    )


def test_rules_and_issuance_read_the_register_not_the_screen_copy(issuer: Any) -> None:
    screen_copy = issuer.open_household(NEIGHBOUR_HOUSEHOLD)
    request = _self_request(screen_copy, NEIGHBOUR_PERSON)
    # By address: only the register's address tells that the copy reveals a protected one.
    decision = issuer.decide(request, screen_copy)
    assert decision.allowed and decision.needs_supervisor
    # The approval is bound to the request as issue() reads it (the requester as registered).
    approval = issuer.approve(
        "super01", PASSWORDS["super01"], "本人が来庁、運転免許証で確認", request, screen_copy
    )
    issued = issuer.issue(request, screen_copy, approval=approval)
    text = "".join(
        page.extract_text() or "" for page in pdfplumber.open(io.BytesIO(issued.pdf)).pages
    )
    assert "北1条東1丁目1番地" in text and ADDRESS_WITHHELD not in text
    requester = issued.issuance.requester
    assert requester is not None and requester.address == f"{PROTECTED_ADDRESS}　{NEIGHBOUR_ROOM}"


# --- person detail -----------------------------------------------------------------------------


def test_person_detail_needs_its_permission(counter: Any) -> None:
    clerk = counter.login("clerk01")
    try:
        clerk.sync_once()
        with pytest.raises(PermissionDenied):
            clerk.person_detail(NEIGHBOUR_PERSON, "本人からの申出")
        assert not _entries(clerk, AuditAction.VIEW_PERSON)
    finally:
        clerk.logout()


def test_person_detail_shows_the_record_and_is_audited(issuer: Any) -> None:
    household = _ordinary_household(issuer)
    person = next(m for m in household.members if m.history and m.honseki)
    assert not issuer.person_reason_required(person, household)
    detail = issuer.person_detail(person.person_id)
    assert (detail.honseki, detail.hittosha) == (person.honseki, person.hittosha)
    assert detail.previous_address == person.previous_address
    assert detail.became_resident_on == person.became_resident_on
    assert detail.history == person.history and not detail.address_withheld
    assert detail.address.startswith(f"〒{household.postal_code} 北海道北見市")
    assert not hasattr(detail, "my_number")  # the 個人番号 has its own reveal
    [entry] = _entries(issuer, AuditAction.VIEW_PERSON)
    assert entry.target_ids == (person.person_id, household.household_id)
    assert entry.reason is None


def test_person_detail_of_a_protected_person_needs_a_reason(issuer: Any) -> None:
    household = issuer.open_household(PROTECTED_HOUSEHOLD)
    assert issuer.person_reason_required(household.member(PROTECTED_PERSON), household)
    with pytest.raises(ReasonRequired):
        issuer.person_detail(PROTECTED_PERSON)
    assert not _entries(issuer, AuditAction.VIEW_PERSON)
    detail = issuer.person_detail(PROTECTED_PERSON, "本人からの異動履歴の確認")
    assert detail.address_withheld and detail.support_until is not None
    assert PROTECTED_ADDRESS not in repr(detail)
    [entry] = _entries(issuer, AuditAction.VIEW_PERSON)
    assert entry.reason == "本人からの異動履歴の確認"
    # At the protected address without being protected: a reason too.
    neighbour = issuer.open_household(NEIGHBOUR_HOUSEHOLD)
    assert issuer.person_reason_required(neighbour.member(NEIGHBOUR_PERSON), neighbour)
    with pytest.raises(ReasonRequired):
        issuer.person_detail(NEIGHBOUR_PERSON, None)


# --- outputs to media --------------------------------------------------------------------------


def test_record_export_is_typed_checked_and_audited(counter: Any) -> None:
    issuer = counter.login("issuer01")
    try:
        target = daily_report_target(issuer.today())
        issuer.record_export(target, ExportMedium.PDF_FILE)
        [entry] = _entries(issuer, AuditAction.EXPORT)
        assert entry.target_ids == (target,) and entry.reason == "PDFファイル"
        with pytest.raises(PermissionDenied):  # anything but the 日計表 needs EXPORT
            issuer.record_export("audit-log:2026-01-01", ExportMedium.PDF_FILE)
        with pytest.raises(ValidationError):
            issuer.record_export("daily-report:yesterday", ExportMedium.PDF_FILE)
        with pytest.raises(ValueError):
            issuer.record_export(target, "usb")  # type: ignore[arg-type]
        assert len(_entries(issuer, AuditAction.EXPORT)) == 1
    finally:
        issuer.logout()
    clerk = counter.login("clerk01")
    try:
        with pytest.raises(PermissionDenied):
            clerk.record_export(daily_report_target(clerk.today()), ExportMedium.PDF_FILE)
    finally:
        clerk.logout()
