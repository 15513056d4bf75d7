"""The certificate desk's use cases: decide, preview, approval, issue, void, the daily report.

A mixin on SessionCore (app.services.session puts it together): every call checks the permission
and leaves its audit entry; `issue` records the issuance, its outbox event and its audit entry in
ONE transaction with the render inside.
"""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel

from app.auth.approval import Approval, approve
from app.auth.errors import InvalidCredentials
from app.auth.permissions import Permission
from app.domain.audit_chain import canonical_at, verifier_for
from app.domain.certificates import (
    DELIVERY_LABELS,
    IDENTITY_LABELS,
    REPORT_TITLES,
    CertificateContext,
    CertificateDocument,
    CertificateRequest,
    Decision,
    Delivery,
    KnownPerpetrator,
    ProtectedResident,
    build_document,
    content_digest,
    decide,
    format_issuance_no,
    protections_of,
)
from app.domain.errors import ValidationError
from app.domain.protected_address import ADDRESS_WITHHELD, is_withheld
from app.domain.records import Household
from app.services.seal import SealError
from app.services.session_core import SessionCore, SessionError
from app.store.audit import AuditAction
from app.store.errors import NotFound
from app.store.issuances import Issuance
from app.sync.errors import ServerRejected, ServerUnreachable
from app.sync.protocol import (
    ApprovalToken,
    CertificateIssuedPayload,
    CertificateVoidedPayload,
    Event,
    MailToInfo,
    OperatorProfile,
    PurposeInfo,
    RequesterInfo,
    new_event,
)


class Renderer(Protocol):
    """printing.render_certificate, injected by the composition root (app never imports it)."""

    def __call__(
        self,
        document: CertificateDocument,
        *,
        sample: bool,
        sign: Callable[[bytes], bytes] | None = None,
        seal_png: bytes | None = None,
    ) -> bytes: ...


class DailyReportRenderer(Protocol):
    """printing.render_daily_report, injected like Renderer."""

    def __call__(
        self,
        rows: list[tuple[str, int, int, int, int, int]],
        day: date,
        *,
        office: str,
        terminal_no: str,
    ) -> bytes: ...


# How long a supervisor's approval may wait for its issuance (issue 21: short).
APPROVAL_TTL = timedelta(minutes=10)

KIND_LABELS = {kind.value: title for kind, title in REPORT_TITLES.items()}


class ExportMedium(StrEnum):
    """Where an output went besides the printer (DESIGN.md §8: every output to media)."""

    PDF_FILE = "pdf_file"  # a PDF file (a folder, a USB stick)


EXPORT_MEDIUM_LABELS: dict[ExportMedium, str] = {ExportMedium.PDF_FILE: "PDFファイル"}


def daily_report_target(day: date) -> str:
    """The audit target of a day's 日計表 (its print, its export)."""
    return f"daily-report:{day.isoformat()}"


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    issuance: Issuance
    pdf: bytes
    sheets: int


class IssuanceDesk(SessionCore):
    """The certificate desk (mixin on SessionCore; CounterSession sets the renderers)."""

    renderer: Renderer
    daily_report_renderer: DailyReportRenderer | None

    def certificate_context(self, household: Household) -> CertificateContext:
        """What the rules need beyond the household: this municipality, and every active
        支援措置 of the register with its 加害者 (by id and by 氏名・生年月日)."""
        self._require(Permission.ISSUE_CERTIFICATE)
        today = self.today()
        protections: list[ProtectedResident] = []
        for h in self.cache.households_with_support(today):
            for m in protections_of(h, today):
                protections.append(
                    ProtectedResident(
                        m.person_id,
                        m.household_id,
                        m.address,
                        m.katagaki,
                        m.until,
                        tuple(self._perpetrator(k) for k in m.perpetrators),
                        m.resident,
                    )
                )
        return CertificateContext(
            municipality_code=self.config.municipality_code, protections=tuple(protections)
        )

    def _perpetrator(self, known: KnownPerpetrator) -> KnownPerpetrator:
        """A 加害者 registered here gets their 氏名・生年月日, for the 4情報 match."""
        if known.person_id is None:
            return known
        try:
            person, _ = self.cache.person(known.person_id)
        except NotFound:
            return known
        return KnownPerpetrator(person.name, person.birth_date, known.person_id)

    def decide(
        self,
        request: CertificateRequest,
        household: Household,
        context: CertificateContext | None = None,
    ) -> Decision:
        """The rules applied; `context` from certificate_context() (read once per dialog), or
        read here. issue() always reads it afresh. `household` names the household: the rules
        read it from the register (the screen's copy may have its address withheld), and a
        mailing address of a protected address stays withheld in the decision shown."""
        self._require(Permission.ISSUE_CERTIFICATE)
        registered = self.register_household(household.household_id)
        decision = self._decide(request, registered, context)
        m = decision.mail_to
        if m is not None:
            shield = self.address_shield()
            if shield.withholds(registered, self.today()) or shield.names_protected(m.address):
                hidden = dataclasses.replace(
                    m, postal_code="", address=ADDRESS_WITHHELD, katagaki=None
                )
                decision = dataclasses.replace(decision, mail_to=hidden)
        return decision

    def _decide(
        self,
        request: CertificateRequest,
        household: Household,
        context: CertificateContext | None = None,
    ) -> Decision:
        """The rules on the household as registered (mailing address as registered)."""
        self._require(Permission.ISSUE_CERTIFICATE)
        return decide(
            request,
            household,
            self.today(),
            context if context is not None else self.certificate_context(household),
            fee_per_copy=self.cache.policy().fee_yen,
        )

    def preview(
        self,
        request: CertificateRequest,
        household: Household,
        context: CertificateContext | None = None,
    ) -> bytes:
        """A 見本 rendering: what would be printed, without a 交付番号 and without audit."""
        household = self.register_household(household.household_id)
        decision = self._decide(request, household, context)
        if not decision.allowed:
            raise SessionError("\n".join(decision.reasons))
        document = build_document(
            request,
            decision,
            household,
            issuance_no=format_issuance_no(self.terminal_no, self.today(), 0),
            terminal_no=self.terminal_no,
            issued_on=self.today(),
            municipality=self.municipality,
        )
        try:
            seal_png: bytes | None = self.seal().image_png
        except SealError:
            seal_png = None  # a 見本 may render without the 公印
        return self.renderer(document, sample=True, seal_png=seal_png)

    def approval_needed(self, decision: Decision) -> str | None:
        """Why this issuance needs a supervisor (the dialog shows it), or None."""
        if decision.needs_supervisor:
            return "支援措置の対象者に関する交付には監督者の承認が必要です。"
        if self.engine.freshness(self.clock()).needs_approval:
            return "端末のデータが古いため、交付には監督者の承認が必要です。"
        return None

    def approve(
        self,
        supervisor_id: str,
        password: str,
        reason: str,
        request: CertificateRequest,
        household: Household,
        replaces: str | None = None,
    ) -> Approval:
        """A supervisor's second login in the same dialog: verified, recorded in the chain, and
        granted as a one-time token bound to this request (the persons and items decided now,
        the requester, the 請求事由), signed with the terminal key, valid APPROVAL_TTL.
        `replaces`: the approval is for a reprint of that 交付番号 (reissue(): it is voided and
        a new issuance made); a reprint always needs one.

        Online the server checks the password (a separate, short-lived session); offline the
        supervisor's key slot on this terminal does.
        """
        self._require(Permission.ISSUE_CERTIFICATE)
        if self.auth.session is None:
            raise SessionError("ログアウトしました。もう一度ログインしてください。")
        # As issue() reads them: the register's household, the requester as registered (the
        # approval's binding is compared with issue()'s).
        household = self.register_household(household.household_id)
        request = self._requester_as_registered(request)
        decision = self._decide(request, household)
        if not decision.allowed:
            raise SessionError("\n".join(decision.reasons))
        grounds = self._approval_grounds(decision)
        if replaces is not None:
            self._replaceable(replaces, household, decision)
            grounds.append("reprint")
        if not grounds:
            raise SessionError("この交付には監督者の承認は必要ありません。")
        approval_id = str(uuid.uuid4())

        def verify(sup_id: str, pw: str) -> OperatorProfile:
            if self._client_factory is not None:
                try:
                    with self._client_factory() as client:
                        answer = client.login(sup_id, pw)
                        client.logout()
                    return answer.operator
                except ServerRejected as exc:
                    if exc.status == 401:
                        raise InvalidCredentials(exc.message) from None
                    raise
                except ServerUnreachable:
                    pass  # fall through to the key slot
            self.slots.unwrap(sup_id, pw, self._device_secret, self.clock())
            profile = self.cache.operator(sup_id)
            if profile is None:
                raise InvalidCredentials("この監督者はこの端末に登録されていません。")
            return profile

        approval = approve(
            self.auth.session,
            supervisor_id,
            password,
            reason,
            verify=verify,
            record=self.chain.append,
            target_ids=[approval_id, *decision.person_ids],
            clock=self.clock,
        )
        token = ApprovalToken(
            approval_id=approval_id,
            terminal_no=self.terminal_no,
            operator_id=self.operator.operator_id,
            approver_id=approval.supervisor_id,
            reason=approval.reason,
            grounds=grounds,
            issued_at=canonical_at(approval.at),
            expires_at=canonical_at(approval.at + APPROVAL_TTL),
            **_binding(request, decision, household, replaces),
        )
        signature = base64.b64encode(self.sign(token.signed_bytes())).decode("ascii")
        token = token.model_copy(update={"signature_b64": signature})
        self.cache.grant_approval(token, canonical_at(approval.at))
        return dataclasses.replace(approval, token=token)

    def _approval_grounds(self, decision: Decision) -> list[str]:
        grounds = []
        if decision.needs_supervisor:
            grounds.append("support_measure")
        if self.engine.freshness(self.clock()).needs_approval:
            grounds.append("stale_cache")
        return grounds

    def _check_approval(
        self,
        approval: Approval | None,
        why: str,
        request: CertificateRequest,
        decision: Decision,
        household: Household,
        now: datetime,
        replaces: str | None = None,
    ) -> ApprovalToken:
        """The approval's token, if it is one this terminal granted to this operator for this
        very request, unused and not expired; SessionError otherwise."""
        if approval is None:
            raise SessionError(why)
        token = approval.token
        again = "もう一度監督者の承認を受けてください。"
        if token is None:
            raise SessionError(f"この承認はこの端末で受けたものではありません。{again}")
        if self.cache.granted_approval(token.approval_id) != token or not self._signed_here(token):
            raise SessionError(
                f"この承認はすでに使われたか、この端末で受けたものではありません。{again}"
            )
        if token.operator_id != self.operator.operator_id or token.terminal_no != self.terminal_no:
            raise SessionError(f"この承認は別の職員または端末のものです。{again}")
        expected = _binding(request, decision, household, replaces)
        bound = token.model_dump(include=set(expected))
        if bound != {k: _dump(v) for k, v in expected.items()}:
            raise SessionError(f"承認の対象がこの請求と一致しません。{again}")
        if now >= datetime.fromisoformat(token.expires_at):
            raise SessionError(f"承認から時間が経っています。{again}")
        return token

    def _signed_here(self, token: ApprovalToken) -> bool:
        from app.store.audit import public_key_from_pem

        try:
            signature = base64.b64decode(token.signature_b64, validate=True)
        except ValueError:
            return False
        verify = verifier_for(public_key_from_pem(self.files_cert_pem()))
        return verify(token.signed_bytes(), signature)

    def issue(
        self,
        request: CertificateRequest,
        household: Household,
        *,
        approval: Approval | None = None,
        delivery: Delivery = Delivery.COUNTER,
    ) -> IssuedCertificate:
        return self._issue(request, household, approval=approval, delivery=delivery)

    def reissue(
        self,
        issuance_no: str,
        request: CertificateRequest,
        household: Household,
        *,
        approval: Approval | None,
        delivery: Delivery = Delivery.COUNTER,
    ) -> IssuedCertificate:
        """印刷し直し (a jammed or misprinted copy): never a second copy under the same 交付番号.
        With a supervisor's approval for this reprint (approve(..., replaces=issuance_no)), in
        ONE transaction: the old issuance is voided (certificate_voided, audited) and a new one
        issued under a new 交付番号 that names it (`replaces`; 交付履歴 shows the link). The
        request is decided again on the register as it is now."""
        return self._issue(
            request, household, approval=approval, delivery=delivery, replaces=issuance_no
        )

    def _replaceable(self, issuance_no: str, household: Household, decision: Decision) -> None:
        """A reprint replaces an issuance of this terminal that stands (not voided), for the
        same household and persons."""
        try:
            old = self.cache.issuance(issuance_no)
        except NotFound:
            raise SessionError(f"交付番号 {issuance_no} の交付記録がありません。") from None
        if old.voided:
            raise SessionError(
                f"交付番号 {issuance_no} は既に取り消されています。印刷し直しはできません。"
            )
        if old.household_id != household.household_id or sorted(old.person_ids) != sorted(
            decision.person_ids
        ):
            raise SessionError(
                f"交付番号 {issuance_no} とは世帯または対象者が異なるため、印刷し直しにできません。"
            )

    def _issue(
        self,
        request: CertificateRequest,
        household: Household,
        *,
        approval: Approval | None,
        delivery: Delivery,
        replaces: str | None = None,
    ) -> IssuedCertificate:
        """Decide, (approve), allocate the 交付番号, render, and record issuance + outbox event +
        audit entry in ONE transaction: a certificate that failed to render was never issued.

        `delivery` is how the copy leaves. A copy the rules send by mail (任意代理人 + 個人番号)
        is never handed over at the counter: asked with COUNTER, it is refused.
        `household` names the household; its record is read here from the cache (what the
        screen holds is masked, and a caller's copy is never printed).
        """
        self._require(Permission.ISSUE_CERTIFICATE)
        # The register's copy, never the screen's (whose protected address is withheld).
        household = self.register_household(household.household_id)
        request = self._requester_as_registered(request)
        decision = self._decide(request, household)
        if not decision.allowed:
            raise SessionError("\n".join(decision.reasons))
        if decision.delivery is not delivery:
            if decision.deliver_by_mail:
                raise SessionError(
                    "この写しは窓口では渡せません（代理人による個人番号入りの請求）。"
                    "本人の住所あてに郵送してください。"
                )
            raise SessionError("この写しは郵送の対象ではありません。窓口で交付してください。")
        now = self.clock()
        freshness = self.engine.freshness(now)
        if not freshness.can_issue:
            raise SessionError(freshness.message)
        seal = self.seal()  # no verified 公印 from the server, no issuance
        token: ApprovalToken | None = None
        why = self.approval_needed(decision)
        if replaces is not None:
            self._replaceable(replaces, household, decision)
            why = why or "印刷し直し(再交付)には監督者の承認が必要です。"
        if why is not None:
            token = self._check_approval(approval, why, request, decision, household, now, replaces)
        stale_approved_by = token.approver_id if token and freshness.needs_approval else None

        day = now.astimezone().date()
        persons = [household.member(pid) for pid in decision.person_ids]
        requester = _requester_info(request)
        purpose = _purpose_info(request)
        mail_to = _mail_to_info(decision)
        rule = decision.rule.value if decision.rule is not None else None
        with self.cache.transaction():
            issuance_no = self.cache.next_issuance_no(self.terminal_no, day)
            if replaces is not None and token is not None:
                # The old copy is voided first, in the same transaction, on the approval. No
                # certificate_voided event: the certificate_issued event that names it (with
                # the approval) voids it on the server too (server/events.py).
                void_reason = (
                    f"印刷し直しのため取消({issuance_no} で再交付、承認 {token.approver_id}:"
                    f" {token.reason})"
                )
                self.cache.void_issuance(replaces, void_reason)
                self.audit(AuditAction.VOID_CERTIFICATE, [replaces], reason=void_reason)
            if token is not None:
                # Used up with the issuance: one approval, one certificate.
                self.cache.consume_approval(token.approval_id, issuance_no, canonical_at(now))
            document = build_document(
                request,
                decision,
                household,
                issuance_no=issuance_no,
                terminal_no=self.terminal_no,
                issued_on=day,
                municipality=self.municipality,
            )
            # Rendering inside the transaction: a missing glyph rolls the number back.
            pdf = self.renderer(document, sample=False, sign=self.sign, seal_png=seal.image_png)
            digest = content_digest(document)

            def event_for(no: str) -> Event:
                # Validated here, and again before the outbox (the server validates it too).
                payload = CertificateIssuedPayload(
                    issuance_no=no,
                    kind=document.form.value,
                    household_id=household.household_id,
                    person_ids=list(decision.person_ids),
                    copies=decision.copies,
                    fee_yen=decision.fee_yen,
                    requester_kind=request.requester_kind.value,
                    content_digest=digest,
                    approved_by=token.approver_id if token else None,
                    requester=requester,
                    purpose=purpose,
                    rule=rule,
                    delivery=delivery.value,
                    mail_to=mail_to,
                    items=_items_of(decision),
                    approval=token,
                    replaces=replaces,
                )
                return new_event(
                    payload,
                    event_id=str(uuid.uuid4()),
                    occurred_at=now,
                    operator_id=self.operator.operator_id,
                    terminal_no=self.terminal_no,
                    relied_versions={p.person_id: p.version for p in persons},
                    stale_approved_by=stale_approved_by,
                )

            documents = "、".join(IDENTITY_LABELS[d] for d in request.identity_documents)
            issuance = self.cache.record_issuance(
                issuance_no=issuance_no,
                terminal_no=self.terminal_no,
                issued_at=now.astimezone(),
                operator_id=self.operator.operator_id,
                kind=document.form.value,
                household_id=household.household_id,
                person_ids=list(decision.person_ids),
                copies=decision.copies,
                fee_yen=decision.fee_yen,
                requester_kind=request.requester_kind.value,
                id_document=documents or None,
                content_digest=digest,
                event_factory=event_for,
                requester=requester,
                purpose=purpose,
                rule=rule,
                delivery=delivery.value,
                mail_to=mail_to,
                replaces=replaces,
            )
            reason = _audit_reason(request, decision, delivery, documents)
            self.audit(
                AuditAction.ISSUE_CERTIFICATE,
                [issuance_no, *decision.person_ids],
                reason=reason if replaces is None else f"{reason}・{replaces} の再交付",
            )
        return IssuedCertificate(issuance=issuance, pdf=pdf, sheets=document.sheet_count)

    def _requester_as_registered(self, request: CertificateRequest) -> CertificateRequest:
        """A requester taken from the register whose address the screen had withheld: recorded
        with the address as registered."""
        person = request.requester.person
        if person is None or person.person_id is None or not is_withheld(person.address):
            return request
        try:
            h = self.cache.household_of_person(person.person_id)
        except NotFound:
            return request
        address = h.address + (f"　{h.katagaki}" if h.katagaki else "")
        requester = dataclasses.replace(
            request.requester, person=dataclasses.replace(person, address=address)
        )
        return dataclasses.replace(request, requester=requester)

    def void(self, issuance_no: str, reason: str) -> None:
        """取消 of a misprinted or wrongly issued certificate (監督者): the issuance is marked,
        the certificate_voided event queued and the reason audited, in one transaction."""
        self._require(Permission.VOID_CERTIFICATE)
        reason = reason.strip()
        if not reason:
            raise ValidationError("reason", "取消の理由を入力してください。")
        event = new_event(
            CertificateVoidedPayload(issuance_no=issuance_no, reason=reason),
            event_id=str(uuid.uuid4()),
            occurred_at=self.clock(),
            operator_id=self.operator.operator_id,
            terminal_no=self.terminal_no,
        )
        with self.cache.transaction():
            self.cache.void_issuance(issuance_no, reason, event)
            self.audit(AuditAction.VOID_CERTIFICATE, [issuance_no], reason=reason)

    def issuances_today(self) -> list[Issuance]:
        self._require(Permission.DAILY_REPORT)
        return self.cache.issuances_on(self.today())

    def daily_totals(self, day: date | None = None) -> list[tuple[str, int, int, int, int, int]]:
        """日計: per kind (label, issued, copies, fees, voided, mailed); voided ones count no
        fee; mailed: the issued ones that left by mail (郵送)."""
        self._require(Permission.DAILY_REPORT)
        totals: dict[str, list[int]] = {}
        for i in self.cache.issuances_on(day or self.today()):
            row = totals.setdefault(KIND_LABELS.get(i.kind, i.kind), [0, 0, 0, 0, 0])
            if i.voided:
                row[3] += 1
            else:
                row[0] += 1
                row[1] += i.copies
                row[2] += i.fee_yen
                row[4] += i.mailed
        return [(kind, v[0], v[1], v[2], v[3], v[4]) for kind, v in sorted(totals.items())]

    def daily_report_pdf(self, day: date | None = None) -> bytes:
        """The 日計表 as a PDF; an export of figures only (no personal data), audited."""
        if self.daily_report_renderer is None:
            raise SessionError("日計表の印刷機能が設定されていません。")
        day = day or self.today()
        rows = self.daily_totals(day)
        pdf = self.daily_report_renderer(
            rows, day, office=self.operator.branch, terminal_no=self.terminal_no
        )
        self.audit(AuditAction.EXPORT, [daily_report_target(day)])
        return pdf

    def record_print(self, issuance_no: str, pages: int) -> None:
        """Every print is an audit entry (DESIGN.md §8: outputs to media are recorded)."""
        self.audit(AuditAction.PRINT, [issuance_no], reason=f"{pages}ページ")

    def record_export(self, target: str, medium: ExportMedium) -> None:
        """An output to media (the 日計表 saved as a PDF), recorded before the file is written:
        an output that cannot be recorded does not happen. A day's 日計表 (figures only, no
        personal data: daily_report_target) needs DAILY_REPORT; anything else EXPORT."""
        medium = ExportMedium(medium)
        if target.startswith("daily-report:"):
            self._require(Permission.DAILY_REPORT)
            try:
                date.fromisoformat(target.removeprefix("daily-report:"))
            except ValueError:
                message = "出力する日計表の日付が正しくありません。"
                raise ValidationError("target", message) from None
        else:
            self._require(Permission.EXPORT)
        self.audit(AuditAction.EXPORT, [target], reason=EXPORT_MEDIUM_LABELS[medium])


def _items_of(decision: Decision) -> dict[str, list[str]]:
    items = decision.items
    return {pid: sorted(i.value for i in items.get(pid, ())) for pid in decision.person_ids}


def _binding(
    request: CertificateRequest,
    decision: Decision,
    household: Household,
    replaces: str | None = None,
) -> dict[str, Any]:
    """What an approval is bound to: the household, the persons and items decided, who asked
    (kind and identity) and why, and the 交付番号 a reprint replaces. ApprovalToken fields; the
    server compares them with the certificate_issued payload."""
    return {
        "replaces": replaces,
        "household_id": household.household_id,
        "person_ids": sorted(decision.person_ids),
        "items": _items_of(decision),
        "requester": _requester_info(request),
        "purpose": _purpose_info(request),
    }


def _dump(value: Any) -> Any:
    return value.model_dump() if isinstance(value, BaseModel) else value


def _requester_info(request: CertificateRequest) -> RequesterInfo:
    r = request.requester
    p = r.person
    return RequesterInfo(
        kind=r.kind.value,
        name=p.name if p else "",
        address=p.address if p else "",
        birth_date=p.birth_date if p else None,
        person_id=p.person_id if p else None,
        principal_id=r.principal_id,
        representation=None if r.representation is None else r.representation.value,
        ground=None if r.ground is None else r.ground.value,
        profession=None if r.profession is None else r.profession.value,
        client_name=r.client_name,
        organization=r.organization,
        staff_title=r.staff_title,
        identity_documents=[d.value for d in request.identity_documents],
    )


def _purpose_info(request: CertificateRequest) -> PurposeInfo | None:
    p = request.purpose
    if not (p.given or p.submit_to.strip() or p.category is not None):
        return None
    return PurposeInfo(
        category=None if p.category is None else p.category.value,
        reason=p.reason.strip(),
        submit_to=p.submit_to.strip(),
    )


def _mail_to_info(decision: Decision) -> MailToInfo | None:
    m = decision.mail_to
    if m is None:
        return None
    return MailToInfo(
        postal_code=m.postal_code,
        address=m.address,
        katagaki=m.katagaki,
        addressee=m.addressee,
        person_id=m.person_id,
    )


def _audit_reason(
    request: CertificateRequest, decision: Decision, delivery: Delivery, documents: str
) -> str:
    """The issuance's audit entry names who asked, with what, why, and how it left."""
    parts = [f"請求者: {request.requester.summary()}"]
    if documents:
        parts.append(f"確認書類: {documents}")
    if request.purpose.text():
        parts.append(f"請求事由: {request.purpose.text()}")
    if decision.rule is not None:
        parts.append(f"根拠: 住民基本台帳法{decision.rule.value}")
    parts.append(f"交付方法: {DELIVERY_LABELS[delivery]}")
    if decision.mail_to is not None:
        parts.append(f"送付先: {' '.join(decision.mail_to.lines())}")
    return "　".join(parts)
