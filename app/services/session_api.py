"""The seam between the GUI and the counter session: what ui/ may call on a session.

`CounterSession` (app.services.session) satisfies it; the UI types its `session` with this
Protocol instead of `Any`, so the type checker holds the seam. This module is light on purpose
(types only): the login window imports it before the heavy services are loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.auth.approval import Approval
    from app.auth.idle import IdlePolicy
    from app.auth.permissions import Permission
    from app.auth.service import AuthService
    from app.domain.audit_chain import ChainEntry, Problem
    from app.domain.cards import CardFaceInfo
    from app.domain.certificates import (
        CertificateContext,
        CertificateRequest,
        Decision,
        Delivery,
    )
    from app.domain.notifications import (
        Finding,
        MoveOutCertificate,
        NotificationDraft,
        TownList,
    )
    from app.domain.records import Household, Person
    from app.services.issuance import ExportMedium, IssuedCertificate
    from app.services.notifications import FiledNotification, PreparedForm
    from app.services.records_view import PersonDetail
    from app.services.terminal import TerminalConfig
    from app.store.issuances import Issuance
    from app.store.notifications import LocalNotification
    from app.store.outbox import HeldEvent
    from app.store.search import SearchPage
    from app.sync.engine import Cancel, Progress
    from app.sync.notification_protocol import (
        NotificationDecision,
        NotificationDetail,
        NotificationSummary,
    )
    from app.sync.protocol import OperatorProfile
    from app.sync.results import SyncReport, SyncStatus


class CounterSessionApi(Protocol):
    """The use cases the counter's windows call (each checks its permission and is audited)."""

    @property
    def config(self) -> TerminalConfig: ...

    @property
    def auth(self) -> AuthService: ...

    @property
    def operator(self) -> OperatorProfile: ...

    @property
    def terminal_no(self) -> str: ...

    def can(self, permission: Permission) -> bool: ...

    def idle_policy(self) -> IdlePolicy: ...

    def today(self) -> date: ...

    # search and view
    def search(
        self,
        *,
        name: str = "",
        birth: str = "",
        sex: str | None = None,
        address: str = "",
        juminhyo_code: str = "",
        include_removed: bool = True,
        limit: int = 50,
    ) -> SearchPage: ...

    def open_household(self, household_id: str) -> Household: ...

    def reveal_my_number(self, person_id: str, reason: str) -> str | None: ...

    # 支援措置: households and hits come with a protected address withheld; shown with a reason
    def reveal_protected_address(self, household_id: str, reason: str) -> str: ...

    def person_reason_required(self, person: Person, household: Household) -> bool: ...

    def person_detail(self, person_id: str, reason: str | None = None) -> PersonDetail: ...

    # certificates
    def certificate_context(self, household: Household) -> CertificateContext: ...

    def decide(
        self,
        request: CertificateRequest,
        household: Household,
        context: CertificateContext | None = None,
    ) -> Decision: ...

    def preview(
        self,
        request: CertificateRequest,
        household: Household,
        context: CertificateContext | None = None,
    ) -> bytes: ...

    def approval_needed(self, decision: Decision) -> str | None: ...

    def approve(
        self,
        supervisor_id: str,
        password: str,
        reason: str,
        request: CertificateRequest,
        household: Household,
        replaces: str | None = None,
    ) -> Approval: ...

    def issue(
        self,
        request: CertificateRequest,
        household: Household,
        *,
        approval: Approval | None = None,
        delivery: Delivery = ...,
    ) -> IssuedCertificate: ...

    def reissue(
        self,
        issuance_no: str,
        request: CertificateRequest,
        household: Household,
        *,
        approval: Approval | None,
        delivery: Delivery = ...,
    ) -> IssuedCertificate: ...

    def void(self, issuance_no: str, reason: str) -> None: ...

    def issuances_today(self) -> list[Issuance]: ...

    def daily_report_pdf(self, day: date | None = None) -> bytes: ...

    def record_print(self, issuance_no: str, pages: int) -> None: ...

    def record_export(self, target: str, medium: ExportMedium) -> None: ...

    # 住民異動届 (app/services/notifications.py): the 異動届 desk
    def towns(self) -> TownList: ...

    def new_notification_id(self) -> str: ...

    def check_notification(self, draft: NotificationDraft) -> tuple[Finding, ...]: ...

    def move_in_certificate_from_card(self, face: CardFaceInfo) -> MoveOutCertificate: ...

    def prepare_notification_form(self, draft: NotificationDraft) -> PreparedForm: ...

    def record_notification_print(self, prepared: PreparedForm, pages: int) -> None: ...

    def record_certificate_print(self, filed: FiledNotification, pages: int) -> None: ...

    def file_notification(
        self,
        prepared: PreparedForm,
        *,
        acknowledged: Iterable[str],
        signature_confirmed: bool,
        documents_confirmed: bool,
    ) -> FiledNotification: ...

    def notifications_filed(self) -> list[LocalNotification]: ...

    def notification_decisions(self) -> list[LocalNotification]: ...

    # 住民異動届: the head office's 審査 (app/services/notification_review.py)
    def review_list(self, *, decided: bool = False) -> list[NotificationSummary]: ...

    def review_detail(self, notification_id: str) -> NotificationDetail: ...

    def review_confirm(
        self, notification_id: str, relied_versions: dict[str, int] | None = None
    ) -> NotificationDecision: ...

    def review_return(self, notification_id: str, reason: str) -> NotificationDecision: ...

    # the audit log (監査者): checked, and the viewing itself audited
    def audit_log(
        self,
        operator_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        actions: Sequence[str] | None = None,
    ) -> list[ChainEntry]: ...

    def verify_audit_chain(self) -> list[Problem]: ...

    # sync and the end of the session
    def status(self) -> SyncStatus: ...

    def held_events(self) -> list[HeldEvent]: ...

    def change_password(self, old_password: str, new_password: str) -> None: ...

    def password_problems(self, password: str, previous: str | None = None) -> list[str]: ...

    def requeue_event(self, event_id: str, reason: str) -> None: ...

    def sync_once(
        self, progress: Progress | None = None, cancel: Cancel | None = None
    ) -> SyncReport: ...

    def needs_reconnect(self, report: SyncReport) -> bool: ...

    def reconnect(self, password: str) -> None: ...

    def logout(self) -> None: ...
