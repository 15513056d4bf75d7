"""Issue 19 through the services: the requester is a person, recorded with the issuance, its
event and its audit entry; a 任意代理人's 個人番号 copy leaves only by mail, to the subject's
address frozen at issuance; 支援措置 reaches the neighbours through the register."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import date
from pathlib import Path

import pdfplumber
import pytest
from msgspec.structs import replace as replace_record
from sqlalchemy import select

from app.domain.certificates import (
    REFUSAL_TO_PERPETRATOR,
    CertificateRequest,
    Delivery,
    IdentityDocument,
    Item,
    PersonRef,
    Purpose,
    Requester,
    RequesterKind,
    ThirdPartyGround,
)
from app.domain.records import household_to_dict
from app.services.session import SessionError
from app.store.audit import AuditAction
from server.tables import certificates
from tests.e2e.conftest import (
    NEIGHBOUR_HOUSEHOLD,
    PERPETRATOR_NAME,
    PROTECTED_PERSON,
)
from tests.printing.conftest import need_tool

LICENSE = (IdentityDocument.DRIVERS_LICENSE,)
K = RequesterKind


def _household_with_numbers(session):
    page = session.search(name="さとう")
    for hit in page.hits:
        if hit.status != "resident" or hit.protected:
            continue
        household = session.open_household(hit.household_id)
        member = next((m for m in household.members if not m.is_removed and m.my_number), None)
        if member is not None:
            return household, member
    raise AssertionError("no household with a 個人番号 in the test data")


def _proxy_request(principal_id: str) -> CertificateRequest:
    return CertificateRequest(
        requester=Requester(
            K.PROXY,
            PersonRef("代理　花子", "北海道網走市南六条東一丁目1番地", date(1980, 5, 5)),
            principal_id=principal_id,
            has_power_of_attorney=True,
        ),
        identity_documents=LICENSE,
        person_ids=(principal_id,),
        items=frozenset({Item.MY_NUMBER}),
        purpose=Purpose(
            reason="勤務先への扶養控除の届出に添付するため", submit_to="株式会社北見商事"
        ),
    )


def test_proxy_my_number_copy_leaves_only_by_mail(counter, tmp_path: Path) -> None:
    session = counter.login("issuer01")
    try:
        session.sync_once()
        household, principal = _household_with_numbers(session)
        request = _proxy_request(principal.person_id)
        decision = session.decide(request, household)
        assert decision.allowed and decision.deliver_by_mail

        # The counter hand-over is refused, whatever the UI offers.
        with pytest.raises(SessionError, match="窓口では渡せません"):
            session.issue(request, household)
        issued = session.issue(request, household, delivery=Delivery.MAIL)
        i = issued.issuance
        no = i.issuance_no
        assert i.mailed and i.delivery == "mail" and i.rule == "第12条"
        assert i.mail_to is not None
        assert (i.mail_to.address, i.mail_to.katagaki) == (household.address, household.katagaki)
        assert (i.mail_to.person_id, i.mail_to.addressee) == (principal.person_id, principal.name)
        assert i.requester is not None and i.requester.kind == "proxy"
        assert (i.requester.name, i.requester.person_id) == ("代理　花子", None)
        assert i.requester.principal_id == principal.person_id
        assert i.requester.identity_documents == ["drivers_license"]
        assert i.purpose is not None and i.purpose.submit_to == "株式会社北見商事"

        # The print is the mail: the address sheet first, then the certificate.
        pdf = tmp_path / "mailed.pdf"
        pdf.write_bytes(issued.pdf)
        with pdfplumber.open(io.BytesIO(issued.pdf)) as doc:
            assert len(doc.pages) == issued.sheets + 1
        first = subprocess.run(
            [need_tool("pdftotext", "poppler-utils"), "-f", "1", "-l", "1", str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"〒{household.postal_code}" in first
        assert household.address in first and principal.name in first and "様" in first
        assert "住民票の写しをお送りします" in first and no in first
        assert "証明書ではありません" in first
        second = subprocess.run(
            ["pdftotext", "-f", "2", "-l", "2", str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        # The screen's household is masked (issue 21); the copy carries the register's number.
        number = session.cache.person(principal.person_id)[0].my_number
        assert "住民票の写し" in second and number in second

        # 交付履歴 and the 日計表 show 郵送.
        assert next(x for x in session.issuances_today() if x.issuance_no == no).mailed
        assert sum(row[5] for row in session.daily_totals()) == 1
        # The audit entry names who asked, with what, why and how it left.
        entry = session.chain.query(actions=[AuditAction.ISSUE_CERTIFICATE.value])[0]
        assert no in entry.target_ids
        for needle in ("代理人", "代理　花子", "運転免許証", "扶養控除", "交付方法: 郵送"):
            assert needle in (entry.reason or ""), needle

        # The server receives it.
        report = session.sync_once()
        assert report.error is None, report.message
        assert session.client.certificate(no).delivery == "mail"
        with counter.server.db.read() as conn:
            row = conn.execute(select(certificates).where(certificates.c.issuance_no == no)).one()
        assert row.delivery == "mail"
        assert json.loads(row.requester)["name"] == "代理　花子"
        assert json.loads(row.mail_to)["address"] == household.address

        # Frozen at issuance: the household moves; the record keeps where the copy went.
        # (From the register's record: the screen's copy has its 個人番号 masked.)
        record = session.cache.household(household.household_id)
        moved = household_to_dict(replace_record(record, address="北海道北見市常盤町3丁目5番地"))
        assert not counter.server.import_jsonl(_jsonl(tmp_path / "moved.jsonl", moved)).errors
        session.sync_once()
        assert session.open_household(household.household_id).address.startswith(
            "北海道北見市常盤町"
        )
        assert session.cache.issuance(no).mail_to.address == household.address  # type: ignore[union-attr]
    finally:
        session.logout()


def _jsonl(path: Path, household: dict) -> Path:
    path.write_text(json.dumps(household, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def test_protection_reaches_neighbours_and_a_perpetrator_entered_by_hand(counter) -> None:
    session = counter.login("issuer01")
    try:
        session.sync_once()
        neighbour = session.open_household(NEIGHBOUR_HOUSEHOLD)
        context = session.certificate_context(neighbour)
        assert context.municipality_code == counter.config.municipality_code
        assert PROTECTED_PERSON in {p.person_id for p in context.protections}

        # The 加害者, registered elsewhere, comes as a third party and is entered by hand.
        perpetrator = PersonRef(
            PERPETRATOR_NAME, "北海道札幌市中央区北1条西2丁目", date(1975, 1, 1)
        )
        third = CertificateRequest(
            Requester(K.THIRD_PARTY, perpetrator, ground=ThirdPartyGround.OWN_RIGHTS),
            LICENSE,
            purpose=Purpose(
                ThirdPartyGround.OWN_RIGHTS, "貸金返還請求訴訟の提起のため", "札幌地裁"
            ),
        )
        refused = session.decide(third, neighbour)
        assert not refused.allowed and refused.reasons == (REFUSAL_TO_PERPETRATOR,)
        assert "同じ住所" in refused.screen_text
        with pytest.raises(SessionError):
            session.issue(third, neighbour)

        # The neighbour's own copy needs a supervisor (and a stated purpose).
        head = neighbour.head
        own = CertificateRequest(
            Requester(
                K.SELF, PersonRef(head.name, neighbour.address, head.birth_date, head.person_id)
            ),
            LICENSE,
            purpose=Purpose(reason="勤務先への通勤手当の届出に添付するため"),
        )
        decision = session.decide(own, neighbour)
        assert decision.allowed and decision.needs_supervisor
        assert decision.protected_person_ids == (PROTECTED_PERSON,)
        assert session.approval_needed(decision) is not None
        with pytest.raises(SessionError):
            session.issue(own, neighbour)

        # 広域交付 is for another municipality's residents.
        wide = CertificateRequest(
            Requester(K.WIDE_AREA, own.requester.person), (IdentityDocument.MY_NUMBER_CARD,)
        )
        d = session.decide(wide, neighbour)
        assert not d.allowed and "広域交付ではありません" in d.reasons[0]
    finally:
        session.logout()
