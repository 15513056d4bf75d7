"""Issue 21 item 7: the idle lock and the 個人番号 rules hold in the services, not only in the UI.

The real counter (server over HTTPS, SQLCipher cache, keyring, printing): after `auth.lock()`
every use case refuses until the unlock; `open_household` hands out masked 個人番号; a reveal
needs a reason and is audited; a card lookup by number is audited; an issuance prints the
register's number whatever the screen held.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pdfplumber
import pytest

from app.auth.errors import ReasonRequired, ScreenLocked
from app.auth.permissions import PermissionDenied
from app.auth.reveal import MASK
from app.domain.cards import CardFaceInfo
from app.domain.certificates import (
    CertificateRequest,
    IdentityDocument,
    Item,
    PersonRef,
    Purpose,
    Requester,
    RequesterKind,
)
from app.store.audit import AuditAction
from tests.e2e.conftest import PASSWORDS


def _numbered_household(session: Any) -> tuple[str, str, str]:
    """(household_id, person_id, 個人番号) of a resident household whose head has a number."""
    for hit in session.search(name="さとう").hits:
        if hit.status != "resident" or hit.protected:
            continue
        person, household_id = session.cache.person(hit.person_id)
        if person.my_number:
            return household_id, person.person_id, person.my_number
    raise AssertionError("no numbered resident in the synthetic data")


def _self_request(household: Any, person_id: str, items: frozenset[Item]) -> CertificateRequest:
    p = household.member(person_id)
    return CertificateRequest(
        requester=Requester(
            RequesterKind.SELF, PersonRef(p.name, household.address, p.birth_date, person_id)
        ),
        identity_documents=(IdentityDocument.DRIVERS_LICENSE,),
        person_ids=(person_id,),
        items=items,
        purpose=Purpose(reason="勤務先への提出"),
    )


def _actions(session: Any) -> list[str]:
    return [e.action for e in session.chain.entries()]


def test_every_use_case_refuses_under_the_idle_lock(counter) -> None:
    session = counter.login("super01")
    try:
        assert session.sync_once().error is None
        household_id, person_id, number = _numbered_household(session)
        household = session.open_household(household_id)
        request = _self_request(household, person_id, frozenset())
        face = CardFaceInfo(
            name=household.member(person_id).name,
            address=household.address,
            birth_date=household.member(person_id).birth_date,
            sex=household.member(person_id).sex,
            my_number=number,
        )
        issued = session.issue(request, household)

        session.auth.lock()
        before = len(_actions(session))
        calls: dict[str, Callable[[], Any]] = {
            "search": lambda: session.search(name="さとう"),
            "open_household": lambda: session.open_household(household_id),
            "reveal_my_number": lambda: session.reveal_my_number(person_id, "本人の申出"),
            "certificate_context": lambda: session.certificate_context(household),
            "decide": lambda: session.decide(request, household),
            "preview": lambda: session.preview(request, household),
            "issue": lambda: session.issue(request, household),
            "approve": lambda: session.approve(
                "issuer01", PASSWORDS["issuer01"], "本人確認済み", request, household
            ),
            "void": lambda: session.void(issued.issuance.issuance_no, "誤交付"),
            "issuances_today": session.issuances_today,
            "daily_report_pdf": session.daily_report_pdf,
            "record_print": lambda: session.record_print(issued.issuance.issuance_no, 1),
            "card_lookup": lambda: session.card_lookup(number, face),
            "card_state": lambda: session.card_state(person_id),
            "card_audit": lambda: session.card_audit("card_read", {"person_id": person_id}),
            "sync_once": session.sync_once,
            "reconnect": lambda: session.reconnect(PASSWORDS["super01"]),
            "verify_audit_chain": session.verify_audit_chain,
        }
        refused = []
        for name, call in calls.items():
            with pytest.raises(ScreenLocked):
                call()
            refused.append(name)
        assert refused == list(calls)
        # Nothing was done, so nothing was recorded as done.
        assert len(_actions(session)) == before
        assert session.status().outbox_count >= 0  # counts only: the status bar keeps showing

        session.auth.unlock(PASSWORDS["super01"])
        assert session.search(name="さとう").hits
        assert _actions(session)[before:] == [AuditAction.UNLOCK.value, AuditAction.SEARCH.value]
    finally:
        session.logout()


def test_open_household_masks_and_reveal_needs_a_reason(counter) -> None:
    session = counter.login("issuer01")
    try:
        session.sync_once()
        household_id, person_id, number = _numbered_household(session)
        household = session.open_household(household_id)
        numbered = [m for m in household.members if m.my_number is not None]
        assert numbered and all(m.my_number == MASK for m in numbered)
        assert number not in repr(household)

        before = len(_actions(session))
        with pytest.raises(ReasonRequired):
            session.reveal_my_number(person_id, " ")
        assert len(_actions(session)) == before  # refused before anything was read or written

        assert session.reveal_my_number(person_id, "本人からの申出で確認") == number
        entry = session.chain.entries()[-1]
        assert entry.action == AuditAction.REVEAL_MY_NUMBER.value
        assert entry.target_ids == (person_id,)
        assert entry.reason == "本人からの申出で確認"
        assert number not in (entry.reason or "")
    finally:
        session.logout()

    clerk = counter.login("clerk01")  # 窓口職員: may view, may not reveal
    try:
        assert clerk.open_household(household_id).member(person_id).my_number == MASK
        with pytest.raises(PermissionDenied):
            clerk.reveal_my_number(person_id, "確認のため")
    finally:
        clerk.logout()


def test_issuance_prints_the_register_number_not_the_mask(counter) -> None:
    session = counter.login("issuer01")
    try:
        session.sync_once()
        household_id, person_id, number = _numbered_household(session)
        household = session.open_household(household_id)  # masked, as the dialog holds it
        request = _self_request(household, person_id, frozenset({Item.MY_NUMBER}))
        issued = session.issue(request, household)
        with pdfplumber.open(io.BytesIO(issued.pdf)) as pdf:
            text = "".join((page.extract_text() or "") for page in pdf.pages).replace(" ", "")
        assert number in text
        assert "●" not in text
    finally:
        session.logout()


def test_card_lookup_by_number_is_audited_and_masks_other_numbers(counter) -> None:
    session = counter.login("issuer01")
    try:
        session.sync_once()
        _household_id, person_id, number = _numbered_household(session)
        person, _ = session.cache.person(person_id)
        face = CardFaceInfo(
            name=person.name,
            address="",
            birth_date=person.birth_date,
            sex=person.sex,
            my_number=number,
        )
        [(found, household)] = session.card_lookup(number, face)
        assert found.person_id == person_id and found.my_number == number  # the card's own
        others = [m for m in household.members if m.person_id != person_id and m.my_number]
        assert all(m.my_number == MASK for m in others)
        entry = session.chain.entries()[-1]
        assert entry.action == AuditAction.LOOKUP_MY_NUMBER.value
        assert entry.target_ids == (person_id,)
        assert number not in (entry.reason or "") and number not in entry.target_ids

        # By 4情報 (a card read without the PIN): a search entry, every register number masked.
        candidates = session.card_lookup(None, face)
        assert candidates and all(p.my_number in (None, MASK) for p, _ in candidates)
        entry = session.chain.entries()[-1]
        assert entry.action == AuditAction.SEARCH.value
        assert person_id in entry.target_ids
    finally:
        session.logout()


def test_search_records_its_criteria(counter) -> None:
    session = counter.login("clerk01")
    try:
        session.sync_once()
        session.search(name="さとう", birth="S45", sex="female", juminhyo_code="12345678901")
        entry = session.chain.entries()[-1]
        assert entry.action == AuditAction.SEARCH.value
        reason = entry.reason or ""
        assert "氏名「さとう」" in reason and "生年月日「S45」" in reason and "性別「女」" in reason
        # The 住民票コード keeps its last four digits only.
        assert "12345678901" not in reason and "8901」" in reason
        assert "該当" in reason
    finally:
        session.logout()


def test_the_other_use_cases_refuse_under_the_idle_lock_too(counter) -> None:
    """The use cases the first list left out. `notification_decisions` ran under the lock: it
    handed out the head office's decisions with their drafts (names, addresses, the movers'
    個人番号) and marked them seen, so the clerk would never be shown them after the unlock."""
    session = counter.login("issuer01")
    try:
        assert session.sync_once().error is None
        household_id, person_id, _number = _numbered_household(session)
        session.auth.lock()
        before = len(_actions(session))
        calls: dict[str, Callable[[], Any]] = {
            "notification_decisions": session.notification_decisions,
            "notifications_filed": session.notifications_filed,
            "person_detail": lambda: session.person_detail(person_id, "本人の申出"),
            "reveal_protected_address": lambda: session.reveal_protected_address(
                household_id, "本人の申出"
            ),
            "check_notification": lambda: session.check_notification(None),
            "prepare_notification_form": lambda: session.prepare_notification_form(None),
            "review_list": session.review_list,
            "review_detail": lambda: session.review_detail("x"),
            "audit_log": session.audit_log,
            "held_events": session.held_events,
            "requeue_event": lambda: session.requeue_event("x", "再送"),
            "change_password": lambda: session.change_password("a", "b"),
        }
        for name, call in calls.items():
            with pytest.raises(ScreenLocked):
                call()
                pytest.fail(name)
        assert len(_actions(session)) == before
    finally:
        session.logout()
