"""The first vertical slice through the services: login → 4情報 search in the SQLCipher cache →
household → 住民票の写し → outbox → pushed over HTTPS → visible on the server; and the same
counter offline."""

from __future__ import annotations

import pytest

from app.auth.errors import InvalidCredentials
from app.auth.permissions import PermissionDenied
from app.domain.certificates import (
    CertificateRequest,
    IdentityDocument,
    PersonRef,
    Purpose,
    Requester,
    RequesterKind,
    ThirdPartyGround,
    parse_qr_payload,
)
from app.services.session import SessionError
from app.store.audit import AuditAction
from tests.e2e.conftest import PASSWORDS, PROTECTED_HOUSEHOLD, PROTECTED_PERSON


def self_request(household, person_id: str, reason: str = "") -> CertificateRequest:
    """本人, found in the register, for the household's current members."""
    p = household.member(person_id)
    return CertificateRequest(
        requester=Requester(
            RequesterKind.SELF, PersonRef(p.name, household.address, p.birth_date, person_id)
        ),
        identity_documents=(IdentityDocument.DRIVERS_LICENSE,),
        purpose=Purpose(reason=reason),
    )


def _first_resident_household(session):
    page = session.search(name="さとう")
    hit = next(h for h in page.hits if h.status == "resident" and not h.protected)
    return hit, session.open_household(hit.household_id)


def test_issue_online_reaches_the_server(counter) -> None:
    session = counter.login("issuer01")
    try:
        report = session.sync_once()
        assert report.pull is not None and report.pull.complete, report.message
        assert report.pull.snapshot_seq is not None  # the first sync took the server's snapshot
        hit, household = _first_resident_household(session)
        assert hit.name.startswith("佐藤")

        issued = session.issue(self_request(household, hit.person_id), household)
        no = issued.issuance.issuance_no
        assert no.startswith(f"{counter.config.terminal_no}-")
        assert issued.pdf.startswith(b"%PDF")
        assert session.cache.outbox_count() >= 1

        report = session.sync_once()
        assert report.error is None, report.message
        assert session.cache.outbox_count() == 0

        info = session.client.certificate(no)
        assert info.issuance_no == no
        assert info.terminal_no == counter.config.terminal_no
        assert set(info.person_ids) == {m.person_id for m in household.members if not m.is_removed}
        assert info.fee_yen == 300
        assert info.content_digest == issued.issuance.content_digest

        # The audit chain holds the whole flow, in order, and verifies with the terminal key.
        actions = [e.action for e in reversed(session.chain.query(operator_id="issuer01"))]
        assert actions[:4] == [
            AuditAction.LOGIN.value,
            AuditAction.SEARCH.value,
            AuditAction.VIEW_HOUSEHOLD.value,
            AuditAction.ISSUE_CERTIFICATE.value,
        ]
    finally:
        session.logout()


def test_printed_qr_payload_names_the_issuance(counter) -> None:
    session = counter.login("issuer01")
    try:
        session.sync_once()
        hit, household = _first_resident_household(session)
        issued = session.issue(self_request(household, hit.person_id), household)
        import io

        import pdfplumber

        with pdfplumber.open(io.BytesIO(issued.pdf)) as pdf:
            text = pdf.pages[0].extract_text() or ""
        assert issued.issuance.issuance_no in text
        assert "見本" not in text
        # What the QR carries is what `madoguchi certificate verify` checks.
        from app.domain.certificates import qr_payload, signed_bytes

        to_sign = signed_bytes(
            issued.issuance.issuance_no, issued.issuance.content_digest, counter.config.terminal_no
        )
        payload = parse_qr_payload(
            qr_payload(
                issued.issuance.issuance_no,
                issued.issuance.content_digest,
                counter.config.terminal_no,
                session.sign(to_sign),
            )
        )
        assert payload.issuance_no == issued.issuance.issuance_no
    finally:
        session.logout()


def test_offline_issuance_waits_in_the_outbox_and_drains(counter) -> None:
    # An online login first: it creates this operator's key slot on the terminal.
    session = counter.login("issuer01")
    session.sync_once()
    session.logout()

    counter.server.stop()
    session = counter.login("issuer01")  # offline, through the key slot
    try:
        assert not session.online_at_login
        hit, household = _first_resident_household(session)  # the cache still answers
        issued = session.issue(self_request(household, hit.person_id), household)
        report = session.sync_once()
        assert not report.online
        assert session.cache.outbox_count() >= 1

        counter.server.start()
        report = session.sync_once()
        # The server is back, but the session began offline: the operator re-enters the password.
        assert session.needs_reconnect(report)
        assert session.cache.outbox_count() >= 1
        session.reconnect(PASSWORDS["issuer01"])
        report = session.sync_once()
        assert report.online and report.error is None, report.message
        assert session.cache.outbox_count() == 0
        assert session.client.certificate(issued.issuance.issuance_no).issuance_no == (
            issued.issuance.issuance_no
        )
    finally:
        session.logout()


def test_wrong_password_is_refused_online(counter) -> None:
    with pytest.raises(InvalidCredentials):
        counter.login_service().login("issuer01", "not-the-password")


def test_clerk_cannot_issue_even_through_the_service(counter) -> None:
    session = counter.login("clerk01")
    try:
        session.sync_once()
        hit, household = _first_resident_household(session)
        with pytest.raises(PermissionDenied):
            session.issue(self_request(household, hit.person_id), household)
    finally:
        session.logout()


def test_viewing_the_audit_log_is_checked_and_itself_audited(counter) -> None:
    session = counter.login("clerk01")
    try:
        with pytest.raises(PermissionDenied):
            session.audit_log()
    finally:
        session.logout()
    session = counter.login("audit01")
    try:
        shown = session.audit_log(operator_id="clerk01")
        assert shown and {e.operator_id for e in shown} == {"clerk01"}
        latest = session.chain.query(operator_id="audit01")[0]
        assert latest.action == AuditAction.VIEW_AUDIT_LOG.value
        assert latest.target_ids == ("clerk01",)
    finally:
        session.logout()


def test_protected_person_needs_a_verified_supervisor(counter) -> None:
    session = counter.login("issuer01")
    try:
        session.sync_once()
        page = session.search(name="もりた しずか")
        assert [h.protected for h in page.hits] == [True]
        household = session.open_household(PROTECTED_HOUSEHOLD)
        # 省令第4条②一: a request about a protected person states its 請求事由.
        bare = self_request(household, PROTECTED_PERSON)
        assert not session.decide(bare, household).allowed
        request = self_request(household, PROTECTED_PERSON, "年金の手続に添付するため")
        decision = session.decide(request, household)
        assert decision.allowed and decision.needs_supervisor
        with pytest.raises(SessionError):
            session.issue(request, household)
        with pytest.raises(InvalidCredentials):
            session.approve("super01", "wrong", "本人確認済み", request, household)
        approval = session.approve(
            "super01", PASSWORDS["super01"], "本人が来庁、運転免許証で確認", request, household
        )
        issued = session.issue(request, household, approval=approval)
        entries = session.chain.query(actions=[AuditAction.APPROVAL.value])
        assert entries and entries[0].operator_id == "super01"
        assert PROTECTED_PERSON in entries[0].target_ids
        assert issued.issuance.issuance_no
        # A request by the registered perpetrator is refused outright.
        perpetrator = PersonRef("加害　某", "札幌市", None, "P-E2E-PERPETRATOR")
        refused = session.decide(
            CertificateRequest(
                requester=Requester(
                    RequesterKind.THIRD_PARTY, perpetrator, ground=ThirdPartyGround.OWN_RIGHTS
                ),
                identity_documents=(IdentityDocument.DRIVERS_LICENSE,),
                purpose=Purpose(ThirdPartyGround.OWN_RIGHTS, "貸金の返還請求訴訟のため"),
            ),
            household,
        )
        assert not refused.allowed
    finally:
        session.logout()


def test_revoked_terminal_wipes_itself_when_nothing_is_pending(counter) -> None:
    session = counter.login("issuer01")
    session.sync_once()
    files = [counter.terminal_dir / n for n in ("cache.db", "keyslots.json", "terminal.key")]
    assert all(f.exists() for f in files)
    counter.server.revoke_terminal(counter.config.terminal_no)
    report = session.sync_once()
    assert report.terminal_action == "wipe"
    assert session.closed
    assert not any(f.exists() for f in files)
    assert not (counter.terminal_dir / "terminal.json").exists()
    with pytest.raises(Exception, match="登録されていません"):
        counter.login("issuer01")


def test_takeover_at_the_lock_screen_changes_the_operator_not_the_cache(counter) -> None:
    session = counter.login("issuer01")
    try:
        cache = session.cache
        session.auth.lock()
        session.auth.takeover("super01", PASSWORDS["super01"])
        assert session.operator.operator_id == "super01"
        assert session.cache is cache  # credentials checked; the cache was not opened again
        session.sync_once()
        session.search(name="さとう")  # works, under the new operator
        latest = session.chain.query(limit=3)
        assert [e.action for e in latest][:2] == [
            AuditAction.SEARCH.value,
            AuditAction.TAKEOVER.value,
        ]
        assert latest[0].operator_id == "super01"
    finally:
        session.logout()


def test_revoked_terminal_with_pending_events_is_locked_not_wiped(counter) -> None:
    session = counter.login("issuer01")
    session.sync_once()
    hit, household = _first_resident_household(session)
    session.issue(self_request(household, hit.person_id), household)
    counter.server.revoke_terminal(counter.config.terminal_no)
    # The issuance cannot be delivered any more, and must not be destroyed either.
    report = session.sync_once()
    assert report.terminal_action == "lock"
    assert session.closed
    assert (counter.terminal_dir / "cache.db").exists()
    with pytest.raises(SessionError, match="未送信のデータが残っています"):
        counter.login("issuer01")


def test_supervisor_voids_a_misprint_and_the_server_knows(counter) -> None:
    session = counter.login("issuer01")
    try:
        session.sync_once()
        hit, household = _first_resident_household(session)
        no = session.issue(self_request(household, hit.person_id), household)
        no = no.issuance.issuance_no
        with pytest.raises(PermissionDenied):
            session.void(no, "印刷ずれ")  # 交付担当 may not void
        # As the main window does after each issuance: the issuer's own session delivers it
        # (the server records an event only from its operator's session, issue 21).
        assert session.sync_once().error is None
    finally:
        session.logout()

    session = counter.login("super01")
    try:
        with pytest.raises(Exception, match="理由"):
            session.void(no, "  ")
        session.void(no, "印刷ずれのため再交付")
        assert session.cache.issuance(no).voided
        totals = session.daily_totals()
        assert sum(row[4] for row in totals) == 1  # counted as voided, no fee
        report = session.sync_once()
        assert report.error is None, report.message
        assert session.client.certificate(no).voided
        entry = session.chain.query(actions=[AuditAction.VOID_CERTIFICATE.value])[0]
        assert entry.target_ids == (no,) and entry.reason == "印刷ずれのため再交付"
    finally:
        session.logout()


def test_another_terminal_revoked_does_not_lock_this_one(counter, tmp_path) -> None:
    """The feed is the same for every terminal and carries each terminal's revocation: only
    this terminal's own item may stop its offline login (a stolen laptop revoked at one branch
    must not shut the counters of every other branch when the line is down)."""
    from app.services.terminal import enroll

    other = enroll(
        tmp_path / "other-terminal",
        counter.server.base_url,
        counter.server.ca_cert_path,
        counter.server.make_token(),
    )
    assert other.terminal_no != counter.config.terminal_no
    counter.server.revoke_terminal(other.terminal_no)

    session = counter.login("issuer01")
    try:
        report = session.sync_once()
        assert report.error is None, report.message
    finally:
        session.logout()

    counter.server.stop()
    session = counter.login("issuer01")  # offline, through the key slot
    try:
        assert not session.online_at_login
        assert session.search(name="さとう").hits
    finally:
        session.logout()


def test_a_terminal_set_to_build_from_the_feed_does_so(counter) -> None:
    """terminal.json `initial_sync_snapshot: false` (a slow branch line): the feed from 0."""
    import json

    config_file = counter.terminal_dir / "terminal.json"
    data = json.loads(config_file.read_text(encoding="utf-8"))
    assert data["initial_sync_snapshot"] is True  # written at enrollment
    config_file.write_text(json.dumps({**data, "initial_sync_snapshot": False}), encoding="utf-8")
    session = counter.login("issuer01")
    try:
        report = session.sync_once()
        assert report.pull is not None and report.pull.complete, report.message
        assert report.pull.snapshot_seq is None
        assert session.search(name="さとう").hits
    finally:
        session.logout()
