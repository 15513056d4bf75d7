"""The certificate desk's use cases: decide, preview, approval, issue, void, the daily report.

A mixin on SessionCore (app.services.session puts it together): every call checks the permission
and leaves its audit entry; `issue` records the issuance, its outbox event and its audit entry in
ONE transaction with the render inside.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from app.auth.approval import Approval, approve
from app.auth.errors import InvalidCredentials
from app.auth.permissions import Permission
from app.domain.certificates import (
    CertificateDocument,
    CertificateRequest,
    Decision,
    build_document,
    content_digest,
    decide,
)
from app.domain.errors import ValidationError
from app.domain.records import Household
from app.services.session_core import SessionCore, SessionError
from app.store.audit import AuditAction
from app.store.outbox import Issuance
from app.sync.errors import ServerRejected, ServerUnreachable
from app.sync.protocol import Event, OperatorProfile


class Renderer(Protocol):
    """printing.render_certificate, injected by the composition root (app never imports it)."""

    def __call__(
        self,
        document: CertificateDocument,
        *,
        sample: bool,
        sign: Callable[[bytes], bytes] | None = None,
    ) -> bytes: ...


class DailyReportRenderer(Protocol):
    """printing.render_daily_report, injected like Renderer."""

    def __call__(
        self,
        rows: list[tuple[str, int, int, int, int]],
        day: date,
        *,
        office: str,
        terminal_no: str,
    ) -> bytes: ...


KIND_LABELS = {
    "household": "住民票の写し(世帯連記式)",
    "individual": "住民票の写し(個人票)",
    "removed": "住民票の除票の写し",
}


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    issuance: Issuance
    pdf: bytes
    sheets: int


class IssuanceDesk(SessionCore):
    """The certificate desk (mixin on SessionCore; CounterSession sets the renderers)."""

    renderer: Renderer
    daily_report_renderer: DailyReportRenderer | None

    def decide(
        self,
        request: CertificateRequest,
        household: Household,
        requester_person_id: str | None = None,
    ) -> Decision:
        self._require(Permission.ISSUE_CERTIFICATE)
        return decide(
            request,
            household,
            self.today(),
            requester_person_id,
            fee_per_copy=self.cache.policy().fee_yen,
        )

    def preview(
        self,
        request: CertificateRequest,
        household: Household,
        requester_person_id: str | None = None,
    ) -> bytes:
        """A 見本 rendering: what would be printed, without a 交付番号 and without audit."""
        decision = self.decide(request, household, requester_person_id)
        if not decision.allowed:
            raise SessionError("\n".join(decision.reasons))
        document = build_document(
            request,
            decision,
            household,
            issuance_no=f"{self.terminal_no}-{self.today():%Y%m%d}-0000",
            terminal_no=self.terminal_no,
            issued_on=self.today(),
            municipality=self.municipality,
        )
        return self.renderer(document, sample=True)

    def approval_needed(self, decision: Decision) -> str | None:
        """Why this issuance needs a supervisor (the dialog shows it), or None."""
        if decision.needs_supervisor:
            return "支援措置の対象者に関する交付には監督者の承認が必要です。"
        if self.engine.freshness(self.clock()).needs_approval:
            return "端末のデータが古いため、交付には監督者の承認が必要です。"
        return None

    def approve(
        self, supervisor_id: str, password: str, reason: str, target_ids: list[str]
    ) -> Approval:
        """A supervisor's second login in the same dialog: verified, then recorded in the chain.

        Online the server checks the password (a separate, short-lived session); offline the
        supervisor's key slot on this terminal does.
        """
        if self.auth.session is None:
            raise SessionError("ログアウトしました。もう一度ログインしてください。")

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

        return approve(
            self.auth.session,
            supervisor_id,
            password,
            reason,
            verify=verify,
            record=self.chain.append,
            target_ids=target_ids,
            clock=self.clock,
        )

    def _check_approval(self, approval: Approval | None, why: str, targets: list[str]) -> None:
        if approval is None:
            raise SessionError(why)
        if approval.operator_id != self.operator.operator_id or not set(targets) <= set(
            approval.target_ids
        ):
            raise SessionError("承認の対象がこの請求と一致しません。もう一度承認を受けてください。")
        if self.clock() - approval.at > timedelta(minutes=15):
            raise SessionError("承認から時間が経っています。もう一度承認を受けてください。")

    def issue(
        self,
        request: CertificateRequest,
        household: Household,
        *,
        requester_person_id: str | None = None,
        id_document: str | None = None,
        approval: Approval | None = None,
    ) -> IssuedCertificate:
        """Decide, (approve), allocate the 交付番号, render, and record issuance + outbox event +
        audit entry in ONE transaction: a certificate that failed to render was never issued."""
        self._require(Permission.ISSUE_CERTIFICATE)
        decision = self.decide(request, household, requester_person_id)
        if not decision.allowed:
            raise SessionError("\n".join(decision.reasons))
        now = self.clock()
        freshness = self.engine.freshness(now)
        if not freshness.can_issue:
            raise SessionError(freshness.message)
        stale_approved_by = None
        why = self.approval_needed(decision)
        if why is not None:
            self._check_approval(approval, why, list(decision.person_ids))
        if freshness.needs_approval:
            stale_approved_by = approval.supervisor_id  # type: ignore[union-attr]

        day = now.astimezone().date()
        persons = [household.member(pid) for pid in decision.person_ids]
        with self.cache.transaction():
            issuance_no = self.cache.next_issuance_no(self.terminal_no, day)
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
            pdf = self.renderer(document, sample=False, sign=self.sign)
            digest = content_digest(document)

            def event_for(no: str) -> Event:
                return Event(
                    event_id=str(uuid.uuid4()),
                    type="certificate_issued",
                    occurred_at=now,
                    operator_id=self.operator.operator_id,
                    terminal_no=self.terminal_no,
                    relied_versions={p.person_id: p.version for p in persons},
                    stale_approved_by=stale_approved_by,
                    payload={
                        "issuance_no": no,
                        "kind": document.form.value,
                        "household_id": household.household_id,
                        "person_ids": list(decision.person_ids),
                        "copies": decision.copies,
                        "fee_yen": decision.fee_yen,
                        "requester_kind": request.requester_kind.value,
                        "content_digest": digest,
                        "approved_by": approval.supervisor_id if approval else None,
                    },
                )

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
                id_document=id_document,
                content_digest=digest,
                event_factory=event_for,
            )
            self.audit(AuditAction.ISSUE_CERTIFICATE, [issuance_no, *decision.person_ids])
        return IssuedCertificate(issuance=issuance, pdf=pdf, sheets=document.sheet_count)

    def void(self, issuance_no: str, reason: str) -> None:
        """取消 of a misprinted or wrongly issued certificate (監督者): the issuance is marked,
        the certificate_voided event queued and the reason audited, in one transaction."""
        self._require(Permission.VOID_CERTIFICATE)
        reason = reason.strip()
        if not reason:
            raise ValidationError("reason", "取消の理由を入力してください。")
        event = Event(
            event_id=str(uuid.uuid4()),
            type="certificate_voided",
            occurred_at=self.clock(),
            operator_id=self.operator.operator_id,
            terminal_no=self.terminal_no,
            payload={"issuance_no": issuance_no, "reason": reason},
        )
        with self.cache.transaction():
            self.cache.void_issuance(issuance_no, reason, event)
            self.audit(AuditAction.VOID_CERTIFICATE, [issuance_no], reason=reason)

    def issuances_today(self) -> list[Issuance]:
        self._require(Permission.DAILY_REPORT)
        return self.cache.issuances_on(self.today())

    def daily_totals(self, day: date | None = None) -> list[tuple[str, int, int, int, int]]:
        """日計: per kind (label, issued, copies, fees, voided); voided ones count no fee."""
        self._require(Permission.DAILY_REPORT)
        totals: dict[str, list[int]] = {}
        for i in self.cache.issuances_on(day or self.today()):
            row = totals.setdefault(KIND_LABELS.get(i.kind, i.kind), [0, 0, 0, 0])
            if i.voided:
                row[3] += 1
            else:
                row[0] += 1
                row[1] += i.copies
                row[2] += i.fee_yen
        return [(kind, *values) for kind, values in sorted(totals.items())]  # type: ignore[misc]

    def daily_report_pdf(self, day: date | None = None) -> bytes:
        """The 日計表 as a PDF; an export of figures only (no personal data), audited."""
        if self.daily_report_renderer is None:
            raise SessionError("日計表の印刷機能が設定されていません。")
        day = day or self.today()
        rows = self.daily_totals(day)
        pdf = self.daily_report_renderer(
            rows, day, office=self.operator.branch, terminal_no=self.terminal_no
        )
        self.audit(AuditAction.EXPORT, [f"daily-report:{day.isoformat()}"])
        return pdf

    def record_print(self, issuance_no: str, pages: int) -> None:
        """Every print is an audit entry (DESIGN.md §8: outputs to media are recorded)."""
        self.audit(AuditAction.PRINT, [issuance_no], reason=f"{pages}ページ")
