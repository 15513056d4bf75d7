"""Login (online first, the key slot offline) and the counter session: the use cases the GUI calls.

Every call checks the operator's permission here, not only in the UI, and leaves its audit
entry. The GUI calls these from background operations; nothing here touches Qt.
"""

from __future__ import annotations

import base64
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from app.auth.permissions import Permission, has_permission, require_permission
from app.domain import wareki
from app.domain.certificates import (
    CertificateDocument,
    CertificateRequest,
    Decision,
    Municipality,
    build_document,
    content_digest,
    decide,
)
from app.domain.errors import DomainError, ValidationError
from app.domain.records import Household
from app.services.terminal import (
    SecretStoreFactory,
    TerminalConfig,
    TerminalError,
    TerminalFiles,
    default_secret_store,
)
from app.store.audit import AuditAction, AuditChain, signer_for
from app.store.db import Cache, open_cache
from app.store.errors import KeyringUnavailable
from app.store.keys import KeySlots
from app.store.outbox import Issuance
from app.store.search import SearchPage, SearchQuery
from app.sync.client import SyncClient, load_private_key
from app.sync.engine import SyncEngine, SyncReport, SyncStatus
from app.sync.errors import ServerUnreachable
from app.sync.freshness import FreshnessState
from app.sync.protocol import Event, OperatorProfile, Policy

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class SessionError(DomainError):
    pass


class Renderer(Protocol):
    """printing.render_certificate, injected by the composition root (app never imports it)."""

    def __call__(
        self,
        document: CertificateDocument,
        *,
        sample: bool,
        sign: Callable[[bytes], bytes] | None = None,
    ) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Approval:
    """A supervisor's approval, given as a second login in the same dialog."""

    supervisor_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    issuance: Issuance
    pdf: bytes
    sheets: int


class LoginService:
    """Opens a CounterSession: online through the server, offline through this terminal's slot."""

    def __init__(
        self,
        data_dir: Path,
        renderer: Renderer,
        *,
        secret_store_factory: SecretStoreFactory = default_secret_store,
        clock: Clock = _now,
    ) -> None:
        self.files = TerminalFiles(Path(data_dir))
        self.renderer = renderer
        self.secret_store_factory = secret_store_factory
        self.clock = clock

    def terminal(self) -> TerminalConfig:
        return TerminalConfig.load(self.files)

    def _device_secret(self, config: TerminalConfig) -> bytes:
        secret = self.secret_store_factory(config.install_id).get()
        if secret is None:
            raise TerminalError(
                "この端末の秘密情報が見つかりません(OSの資格情報ストア)。"
                "端末を再登録する必要があります。管理者に連絡してください。"
            )
        return secret

    def client(self, config: TerminalConfig, device_secret: bytes) -> SyncClient:
        return SyncClient(
            config.server_url,
            self.files.ca,
            self.files.cert,
            self.files.key,
            key_password=device_secret,
        )

    def login(self, operator_id: str, password: str) -> CounterSession:
        config = self.terminal()
        try:
            device_secret = self._device_secret(config)
        except KeyringUnavailable:
            raise
        client = self.client(config, device_secret)
        slots = KeySlots(self.files.slots)
        try:
            answer = client.login(operator_id, password)
        except ServerUnreachable:
            return self._offline_login(config, client, slots, device_secret, operator_id, password)
        except BaseException:
            client.close()
            raise
        dek = base64.b64decode(answer.dek_b64)
        cache = open_cache(self.files.cache, dek)
        slots.create_or_refresh(
            operator_id, password, dek, device_secret, answer.policy.offline_login_days
        )
        return self._session(config, client, cache, device_secret, answer.operator, online=True)

    def _offline_login(
        self,
        config: TerminalConfig,
        client: SyncClient,
        slots: KeySlots,
        device_secret: bytes,
        operator_id: str,
        password: str,
    ) -> CounterSession:
        now = self.clock()
        dek = slots.unwrap(operator_id, password, device_secret, now)
        cache = open_cache(self.files.cache, dek)
        try:
            if cache.terminal_revoked():
                raise SessionError("この端末は登録を取り消されています。管理者に連絡してください。")
            profile = cache.operator(operator_id)
            if profile is None or not profile.active:
                slots.delete(operator_id)
                raise SessionError("この職員IDは無効になっています。管理者に連絡してください。")
            engine = SyncEngine(cache, client, terminal_no=config.terminal_no, clock=self.clock)
            if engine.freshness(now).state is FreshnessState.EXPIRED and (
                cache.last_complete_pull() is None
                or now - cache.last_complete_pull() > _hard_limit(cache.policy())
            ):
                raise SessionError(
                    "端末のデータが長期間同期されていないため、オフラインでは開けません。"
                    "中央サーバーに接続できるときにログインしてください。"
                )
        except BaseException:
            cache.close()
            client.close()
            raise
        return self._session(config, client, cache, device_secret, profile, online=False)

    def _session(
        self,
        config: TerminalConfig,
        client: SyncClient,
        cache: Cache,
        device_secret: bytes,
        operator: OperatorProfile,
        *,
        online: bool,
    ) -> CounterSession:
        key = load_private_key(self.files.key, device_secret)
        session = CounterSession(
            config=config,
            operator=operator,
            cache=cache,
            client=client,
            sign=signer_for(key),
            renderer=self.renderer,
            clock=self.clock,
            online=online,
        )
        session.audit(AuditAction.LOGIN, reason=None if online else "オフラインログイン")
        return session


def _hard_limit(policy: Policy):
    from datetime import timedelta

    return timedelta(days=policy.hard_limit_days)


class CounterSession:
    """One operator at one terminal: search, view, decide, issue, sync. Thread-safe enough for
    background operations (the cache serialises its own access)."""

    def __init__(
        self,
        *,
        config: TerminalConfig,
        operator: OperatorProfile,
        cache: Cache,
        client: SyncClient,
        sign: Callable[[bytes], bytes],
        renderer: Renderer,
        clock: Clock = _now,
        online: bool,
    ) -> None:
        self.config = config
        self.operator = operator
        self.cache = cache
        self.client = client
        self.sign = sign
        self.renderer = renderer
        self.clock = clock
        self.started_online = online
        self.chain = AuditChain(cache, config.terminal_no, sign)
        self.engine = SyncEngine(cache, client, terminal_no=config.terminal_no, clock=clock)
        self._sync_lock = threading.Lock()
        self.closed = False

    # -- basics ---------------------------------------------------------------------------------

    @property
    def terminal_no(self) -> str:
        return self.config.terminal_no

    @property
    def municipality(self) -> Municipality:
        policy = self.cache.policy()
        return Municipality(
            name=self.config.municipality_name,
            mayor_title=policy.mayor_title,
            mayor_name=policy.mayor_name,
        )

    def can(self, permission: Permission) -> bool:
        return has_permission(self.operator.roles, permission)

    def _require(self, permission: Permission) -> None:
        if self.closed:
            raise SessionError("ログアウトしました。もう一度ログインしてください。")
        require_permission(self.operator.roles, permission)

    def audit(
        self,
        action: AuditAction,
        target_ids: tuple[str, ...] | list[str] = (),
        reason: str | None = None,
    ) -> None:
        self.chain.append(self.operator.operator_id, action, list(target_ids), reason)

    def today(self) -> date:
        # Local date at the counter (certificates carry the local 和暦 date).
        return self.clock().astimezone().date()

    # -- search and view ------------------------------------------------------------------------

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
    ) -> SearchPage:
        """4情報 search. `birth` takes a 和暦/西暦 date, or a year or era alone ("S45", "昭和")."""
        self._require(Permission.SEARCH)
        query = SearchQuery(
            name=name.strip() or None,
            sex=sex or None,
            address=address.strip() or None,
            juminhyo_code=juminhyo_code.strip() or None,
            include_removed=include_removed,
            **_birth_criteria(birth),
        )
        if query.is_empty():
            raise ValidationError("query", "検索条件を1つ以上入力してください。")
        page = self.cache.search(query, limit=limit)
        self.audit(AuditAction.SEARCH, [h.person_id for h in page.hits[:50]])
        return page

    def open_household(self, household_id: str) -> Household:
        self._require(Permission.VIEW_RECORD)
        household = self.cache.household(household_id)
        self.audit(
            AuditAction.VIEW_HOUSEHOLD, [household_id, *(m.person_id for m in household.members)]
        )
        return household

    # -- certificates ---------------------------------------------------------------------------

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

    def preview(self, request: CertificateRequest, household: Household) -> bytes:
        """A 見本 rendering: what would be printed, without a 交付番号 and without audit."""
        decision = self.decide(request, household)
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

    def _check_approval(self, approval: Approval | None, what: str) -> None:
        if approval is None:
            raise SessionError(f"{what}には監督者の承認が必要です。")
        supervisor = self.cache.operator(approval.supervisor_id)
        if supervisor is None or not has_permission(supervisor.roles, Permission.APPROVE):
            raise SessionError("承認した職員には監督者の権限がありません。")
        if supervisor.operator_id == self.operator.operator_id:
            raise SessionError("自分の請求を自分で承認することはできません。")
        if not approval.reason.strip():
            raise SessionError("承認の理由を入力してください。")

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
        if decision.needs_supervisor:
            self._check_approval(approval, "支援措置の対象者に関する交付")
        if freshness.needs_approval:
            self._check_approval(approval, "端末のデータが古いときの交付")
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
            if approval is not None:
                self.chain.append(
                    approval.supervisor_id,
                    AuditAction.APPROVAL,
                    [issuance_no, *decision.person_ids],
                    approval.reason,
                )
            self.audit(AuditAction.ISSUE_CERTIFICATE, [issuance_no, *decision.person_ids])
        return IssuedCertificate(issuance=issuance, pdf=pdf, sheets=document.sheet_count)

    def issuances_today(self) -> list[Issuance]:
        self._require(Permission.DAILY_REPORT)
        return self.cache.issuances_on(self.today())

    # -- sync -----------------------------------------------------------------------------------

    def status(self) -> SyncStatus:
        return self.engine.status(self.clock())

    def sync_once(self, progress: Any = None, cancel: Any = None) -> SyncReport:
        """Queue the audit trail, push the outbox, pull the feed. One sync at a time."""
        with self._sync_lock:
            self.queue_audit_batches()
            return self.engine.sync_once(progress=progress, cancel=cancel)

    def queue_audit_batches(self) -> int:
        """Move unpushed audit entries into the outbox (durable there; the outbox delivers)."""
        queued = 0
        while True:
            with self.cache.transaction():
                batch = self.chain.pending_batch(500)
                if batch is None:
                    return queued
                self.cache.outbox_add(
                    Event(
                        event_id=str(uuid.uuid4()),
                        type="audit_batch",
                        occurred_at=self.clock(),
                        operator_id=self.operator.operator_id,
                        terminal_no=self.terminal_no,
                        payload=batch,
                    )
                )
                self.chain.mark_pushed(batch["last_seq"])
                queued += 1

    def logout(self) -> None:
        if self.closed:
            return
        try:
            self.audit(AuditAction.LOGOUT)
            try:
                self.sync_once()
            except Exception:
                log.info("sync at logout did not complete; outbox keeps the events")
        finally:
            self.closed = True
            self.client.close()
            self.cache.close()


def _birth_criteria(text: str) -> dict[str, Any]:
    text = text.strip()
    if not text:
        return {}
    try:
        return {"birth_date": wareki.parse(text, field="birth_date")}
    except ValidationError:
        pass
    try:
        return {"birth_date": date.fromisoformat(text)}
    except ValueError:
        pass
    try:
        return {"birth_range": wareki.era_year_range(text, field="birth_date")}
    except ValidationError:
        raise ValidationError(
            "birth_date",
            f"生年月日「{text}」を読めません。"
            "例: 昭和45年3月12日、S45.3.12、S45(年だけ)、昭和(元号だけ)",
        ) from None
