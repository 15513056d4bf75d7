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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from app.auth.approval import Approval, approve
from app.auth.errors import InvalidCredentials
from app.auth.permissions import Permission, has_permission, require_permission
from app.auth.service import AuthService
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
from app.services.seal import SealError, VerifiedSeal, current_seal, refresh_seal
from app.services.terminal import (
    SecretStoreFactory,
    TerminalConfig,
    TerminalError,
    TerminalFiles,
    default_secret_store,
)
from app.store.audit import AuditAction, AuditChain, signer_for
from app.store.db import Cache, open_cache
from app.store.keys import KeySlots
from app.store.outbox import Issuance
from app.store.search import SearchPage, SearchQuery
from app.sync.client import SyncClient, load_private_key
from app.sync.engine import SyncEngine, SyncReport, SyncStatus
from app.sync.errors import ServerRejected, ServerUnreachable
from app.sync.protocol import Event, OperatorProfile

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
        seal_png: bytes | None = None,
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


class LoginService:
    """Opens a CounterSession: online through the server, offline through this terminal's slot.

    The flow itself (online first, offline on ServerUnreachable, failures recorded once the
    chain is open) is app.auth.service.AuthService; this class wires it to the real pieces.
    """

    def __init__(
        self,
        data_dir: Path,
        renderer: Renderer,
        *,
        daily_report_renderer: DailyReportRenderer | None = None,
        secret_store_factory: SecretStoreFactory = default_secret_store,
        clock: Clock = _now,
    ) -> None:
        self.files = TerminalFiles(Path(data_dir))
        self.renderer = renderer
        self.daily_report_renderer = daily_report_renderer
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
        from app.sync.revocation import LOCKED_MESSAGE, is_locked

        if is_locked(self.files.data_dir):
            raise SessionError(LOCKED_MESSAGE)
        config = self.terminal()
        device_secret = self._device_secret(config)
        client = self.client(config, device_secret)
        slots = KeySlots(self.files.slots)
        opened: dict[str, Any] = {}

        def online_login(op_id: str, pw: str):
            try:
                answer = client.login(op_id, pw)
            except ServerRejected as exc:
                if exc.status == 401:
                    raise InvalidCredentials(exc.message) from None
                raise
            dek = base64.b64decode(answer.dek_b64)
            if "cache" not in opened:  # a takeover at the lock screen only checks credentials
                opened["cache"] = open_cache(self.files.cache, dek)
            # Refresh this operator's slot so a later offline login works (policy's validity).
            slots.create_or_refresh(op_id, pw, dek, device_secret, answer.policy.offline_login_days)
            return answer

        def offline_login(op_id: str, pw: str) -> OperatorProfile:
            now = self.clock()
            dek = slots.unwrap(op_id, pw, device_secret, now)
            if "cache" not in opened:  # a takeover at the lock screen only checks credentials
                opened["cache"] = open_cache(self.files.cache, dek)
            cache = opened["cache"]
            if cache.terminal_revoked(config.terminal_no):
                raise SessionError("この端末は登録を取り消されています。管理者に連絡してください。")
            profile = cache.operator(op_id)
            if profile is None or not profile.active:
                slots.delete(op_id)
                raise SessionError("この職員IDは無効になっています。管理者に連絡してください。")
            last = cache.last_complete_pull()
            hard_limit = timedelta(days=cache.policy().hard_limit_days)
            if last is None or now - last > hard_limit:
                raise SessionError(
                    "端末のデータが長期間同期されていないため、オフラインでは開けません。"
                    "中央サーバーに接続できるときにログインしてください。"
                )
            return profile

        auth = AuthService(
            terminal_no=config.terminal_no,
            online_login=online_login,
            offline_login=offline_login,
            clock=self.clock,
        )
        try:
            auth.login(operator_id, password)
        except BaseException:
            if "cache" in opened:
                opened["cache"].close()
            client.close()
            raise
        cache: Cache = opened["cache"]
        try:
            key = load_private_key(self.files.key, device_secret)
            session = CounterSession(
                config=config,
                auth=auth,
                cache=cache,
                client=client,
                slots=slots,
                device_secret=device_secret,
                sign=signer_for(key),
                renderer=self.renderer,
                daily_report_renderer=self.daily_report_renderer,
                clock=self.clock,
                client_factory=lambda: self.client(config, device_secret),
                secret_store=self.secret_store_factory(config.install_id),
            )
        except BaseException:
            cache.close()
            client.close()
            raise
        return session


class CounterSession:
    """One operator at one terminal: search, view, decide, issue, sync. Thread-safe enough for
    background operations (the cache serialises its own access)."""

    def __init__(
        self,
        *,
        config: TerminalConfig,
        auth: AuthService,
        cache: Cache,
        client: SyncClient,
        slots: KeySlots,
        device_secret: bytes,
        sign: Callable[[bytes], bytes],
        renderer: Renderer,
        daily_report_renderer: DailyReportRenderer | None = None,
        clock: Clock = _now,
        client_factory: Callable[[], SyncClient] | None = None,
        secret_store: Any = None,
    ) -> None:
        self.config = config
        self._secret_store = secret_store
        self.auth = auth
        self.cache = cache
        self.client = client
        self.slots = slots
        self._device_secret = device_secret
        self.sign = sign
        self.renderer = renderer
        self.daily_report_renderer = daily_report_renderer
        self.clock = clock
        self._client_factory = client_factory
        self.chain = AuditChain(cache, config.terminal_no, sign)
        self.engine = SyncEngine(
            cache,
            client,
            terminal_no=config.terminal_no,
            clock=clock,
            use_snapshot=config.initial_sync_snapshot,
        )
        self._sync_lock = threading.Lock()
        self.closed = False
        # Failed logins kept in memory and the login itself are written now that the chain is open.
        auth.attach_recorder(self.chain.append)

    @property
    def operator(self) -> OperatorProfile:
        """The operator at the counter now (an idle-lock takeover changes it)."""
        if self.auth.session is None:
            raise SessionError("ログアウトしました。もう一度ログインしてください。")
        return self.auth.session.profile

    @property
    def online_at_login(self) -> bool:
        return self.auth.session is not None and self.auth.session.online

    # -- basics ---------------------------------------------------------------------------------

    @property
    def terminal_no(self) -> str:
        return self.config.terminal_no

    @property
    def municipality(self) -> Municipality:
        """Name, and the 市長 from the signed seal (a preview without one: from the policy)."""
        try:
            seal = self.seal()
            title, name = seal.mayor_title, seal.mayor_name
        except SealError:
            policy = self.cache.policy()
            title, name = policy.mayor_title, policy.mayor_name
        return Municipality(name=self.config.municipality_name, mayor_title=title, mayor_name=name)

    def seal(self) -> VerifiedSeal:
        """The 公印 verified against the pinned CA (app/services/seal.py); SealError if none."""
        ca_path = Path(self.cache.path).parent / "ca.pem"
        return current_seal(self.cache, ca_path, self.config.municipality_code)

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
        seal = self.seal()  # no verified 公印 from the server, no issuance
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
            pdf = self.renderer(document, sample=False, sign=self.sign, seal_png=seal.image_png)
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

    def verify_audit_chain(self) -> list[Any]:
        """The chain checked against this terminal's certificate (for the 監査者)."""
        self._require(Permission.VIEW_AUDIT)
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(self.files_cert_pem())
        return self.chain.verify(cert.public_key())

    def files_cert_pem(self) -> bytes:
        return (Path(self.cache.path).parent / "terminal.pem").read_bytes()

    def record_print(self, issuance_no: str, pages: int) -> None:
        """Every print is an audit entry (DESIGN.md §8: outputs to media are recorded)."""
        self.audit(AuditAction.PRINT, [issuance_no], reason=f"{pages}ページ")

    # -- card desk --------------------------------------------------------------------------------

    def card_lookup(self, my_number: str | None, face: Any) -> list[tuple[Any, Household]]:
        """Register candidates for a card: by 個人番号 when read, else by name and birth date."""
        self._require(Permission.CARD_READ)
        if my_number:
            found = self.cache.find_by_my_number(my_number)
            if found is not None:
                person, household_id = found
                return [(person, self.cache.household(household_id))]
        page = self.cache.search(SearchQuery(name=face.name, birth_date=face.birth_date), limit=20)
        out: list[tuple[Any, Household]] = []
        for hit in page.hits:
            household = self.cache.household(hit.household_id)
            out.append((household.member(hit.person_id), household))
        return out

    def card_state(self, person_id: str) -> str | None:
        """The card's state at this desk as last recorded here (None: never recorded)."""
        return self.cache.local_state(f"card_state:{person_id}")

    def card_audit(self, action: str, details: dict[str, Any]) -> None:
        """The card desk's notes become audit entries (ids only, never card contents)."""
        targets = [str(details[k]) for k in ("person_id", "event_id") if details.get(k)]
        kind = AuditAction.CARD_EVENT if action == "card_event" else AuditAction.CARD_READ
        self.audit(kind, targets, reason=action if kind is AuditAction.CARD_READ else None)

    def record_card_event(self, recorded: Any) -> None:
        """The desk event goes to the outbox and the card's state is kept, in one transaction."""
        self._require(Permission.CARD_DESK)
        with self.cache.transaction():
            self.cache.outbox_add(recorded.event)
            self.cache.set_local_state(f"card_state:{recorded.person_id}", recorded.new_state.value)

    # -- sync -----------------------------------------------------------------------------------

    def status(self) -> SyncStatus:
        if self.closed:
            raise SessionError("ログアウトしました。")
        return self.engine.status(self.clock())

    def sync_once(self, progress: Any = None, cancel: Any = None) -> SyncReport:
        """Queue the audit trail, push the outbox, pull the feed. One sync at a time."""
        with self._sync_lock:
            if self.closed:
                raise SessionError("ログアウトしました。")
            self.queue_audit_batches()
            report = self.engine.sync_once(progress=progress, cancel=cancel)
            if report.online and report.error is None:
                self._refresh_seal()
            if report.revoked_operators or report.terminal_action != "none":
                self._apply_revocations(report)
            return report

    def _apply_revocations(self, report: SyncReport) -> None:
        """Revoked operators lose their slots; a revoked terminal is wiped (outbox empty) or
        locked (outbox not empty: the events are kept for the administrator)."""
        from app.sync.revocation import apply_revocations

        data_dir = Path(self.cache.path).parent
        if report.terminal_action == "none":
            apply_revocations(report, slots=self.slots, data_dir=data_dir, cache=self.cache)
            return
        log.warning("terminal %s revoked (%s)", self.terminal_no, report.terminal_action)
        self.closed = True
        self.client.close()
        outcome = apply_revocations(
            report,
            slots=self.slots,
            data_dir=data_dir,
            cache=self.cache,
            device_secret=self._secret_store,
        )
        if outcome.wiped:
            # Without its key and certificate the PC is no longer a terminal of the city.
            for name in ("terminal.key", "terminal.pem", "terminal.json"):
                (data_dir / name).unlink(missing_ok=True)
        else:
            self.cache.close()

    def _refresh_seal(self) -> None:
        """A newer signed 公印 from the server, if any (a failure leaves the kept one)."""
        try:
            refresh_seal(
                self.client,
                self.cache,
                Path(self.cache.path).parent / "ca.pem",
                self.config.municipality_code,
            )
        except (DomainError, OSError) as exc:
            # 404 no_seal: the administrator has not set one yet (issuance says so).
            level = logging.INFO if getattr(exc, "code", None) == "no_seal" else logging.WARNING
            log.log(level, "seal not refreshed: %s", type(exc).__name__)

    def needs_reconnect(self, report: SyncReport) -> bool:
        """True when the server is back but wants this operator to log in again (a session
        that began offline, or one that expired)."""
        return report.needs_login

    def reconnect(self, password: str) -> None:
        """Open a server session for the operator at the counter again (password re-entered)."""
        op_id = self.operator.operator_id
        try:
            answer = self.client.login(op_id, password)
        except ServerRejected as exc:
            if exc.status == 401:
                self.chain.append(op_id, AuditAction.LOGIN_FAILED, [], reason="再接続")
                raise InvalidCredentials(exc.message) from None
            raise
        dek = base64.b64decode(answer.dek_b64)
        self.slots.create_or_refresh(
            op_id, password, dek, self._device_secret, answer.policy.offline_login_days
        )
        self.audit(AuditAction.LOGIN, reason="再接続(オンライン)")

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
        # No sync here: offline, its retries would hold the window; the entry waits in the chain
        # (durable) and the next sync delivers it.
        try:
            self.auth.logout()  # writes the logout entry
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
