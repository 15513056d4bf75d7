"""The counter session's core: the operator, the cache, the audit chain and the sync engine.

Every call checks the operator's permission here, not only in the UI, and leaves its audit
entry. The GUI calls these from background operations; nothing here touches Qt.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from app.auth.approval import normalise_reason
from app.auth.errors import InvalidCredentials
from app.auth.idle import IdlePolicy
from app.auth.permissions import Permission, has_permission, require_permission
from app.auth.reveal import mask_household, reveal_my_number
from app.auth.service import AuthService
from app.domain import wareki
from app.domain.certificates import Municipality
from app.domain.errors import DomainError, ValidationError
from app.domain.protected_address import ADDRESS_WITHHELD, AddressShield
from app.domain.records import Household
from app.services.revocation import apply_revocations
from app.services.seal import SealError, VerifiedSeal, current_seal, refresh_seal
from app.services.terminal import TerminalConfig, TerminalFiles
from app.store.audit import AuditAction, AuditChain, AuditEntry, Problem, public_key_from_pem
from app.store.db import Cache
from app.store.keys import KeySlots
from app.store.outbox import HeldEvent
from app.store.search import SearchHit, SearchPage, SearchQuery
from app.sync.client import SyncClient
from app.sync.engine import Cancel, Progress, SyncEngine
from app.sync.errors import ServerRejected
from app.sync.protocol import AuditBatchPayload, OperatorProfile, new_event
from app.sync.results import SyncReport, SyncStatus

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SessionError(DomainError):
    pass


class SessionCore:
    """One operator at one terminal: the state every use case shares, and search, view, status,
    sync and logout. Thread-safe enough for background operations (the cache serialises its
    own access). The use cases of the certificate desk and the card desk are mixins on it
    (app.services.issuance, app.services.card_adapters); CounterSession puts them together."""

    def __init__(
        self,
        *,
        config: TerminalConfig,
        files: TerminalFiles,
        auth: AuthService,
        cache: Cache,
        client: SyncClient,
        slots: KeySlots,
        device_secret: bytes,
        sign: Callable[[bytes], bytes],
        clock: Clock = utc_now,
        client_factory: Callable[[], SyncClient] | None = None,
        secret_store: Any = None,
    ) -> None:
        self.config = config
        self.files = files
        self._secret_store = secret_store
        self.auth = auth
        self.cache = cache
        self.client = client
        self.slots = slots
        self._device_secret = device_secret
        self.sign = sign
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
        return current_seal(self.cache, self.files.ca, self.config.municipality_code)

    def _refresh_seal(self) -> None:
        """A newer signed 公印 from the server, if any (a failure leaves the kept one)."""
        try:
            refresh_seal(
                self.client,
                self.cache,
                self.files.ca,
                self.config.municipality_code,
            )
        except (DomainError, OSError) as exc:
            # 404 no_seal: the administrator has not set one yet (issuance says so).
            level = logging.INFO if getattr(exc, "code", None) == "no_seal" else logging.WARNING
            log.log(level, "seal not refreshed: %s", type(exc).__name__)

    def idle_policy(self) -> IdlePolicy:
        """The idle lock of this municipality's policy (pushed through the feed)."""
        return IdlePolicy(minutes=self.cache.policy().idle_lock_minutes)

    def can(self, permission: Permission) -> bool:
        return has_permission(self.operator.roles, permission)

    def _check_open(self) -> None:
        """Every use case starts here: not after logout, and not under the idle lock
        (auth.lock() … unlock()/takeover()), whatever the UI shows."""
        if self.closed:
            raise SessionError("ログアウトしました。もう一度ログインしてください。")
        self.auth.require_unlocked()

    def _require(self, permission: Permission) -> None:
        self._check_open()
        require_permission(self.operator.roles, permission)

    def audit(
        self,
        action: AuditAction,
        target_ids: tuple[str, ...] | list[str] = (),
        reason: str | None = None,
    ) -> None:
        self._check_open()  # nothing is done (or recorded as done) under the lock
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
        self.audit(
            AuditAction.SEARCH,
            [h.person_id for h in page.hits[:50]],
            reason=search_criteria(
                name=name,
                birth=birth,
                sex=sex,
                address=address,
                juminhyo_code=juminhyo_code,
                include_removed=include_removed,
                hits=len(page.hits),
            ),
        )
        shield = self.address_shield()
        return SearchPage([_screen_hit(h, shield) for h in page.hits], page.total)

    def open_household(self, household_id: str) -> Household:
        """The household for the screen: every 個人番号 masked (reveal_my_number shows one), a
        protected address withheld (reveal_protected_address shows it with a reason)."""
        self._require(Permission.VIEW_RECORD)
        household = self.cache.household(household_id)
        self.audit(
            AuditAction.VIEW_HOUSEHOLD, [household_id, *(m.person_id for m in household.members)]
        )
        return mask_household(self.screen_household(household))

    # -- 支援措置: protected addresses withheld at the source -----------------------------------

    def address_shield(self) -> AddressShield:
        """Today's protected addresses (app.domain.protected_address), from the register."""
        return AddressShield.of(self.cache.protected_addresses(self.today()))

    def screen_household(self, household: Household) -> Household:
        """What the screen may hold of a household (the register's copy stays in app/)."""
        return self.address_shield().screen_copy(household, self.today())

    def register_household(self, household_id: str) -> Household:
        """The household as registered, for the rules and the print (never for the screen:
        what the UI holds is the screen copy, whose address may be withheld)."""
        return self.cache.household(household_id)

    def reveal_my_number(self, person_id: str, reason: str) -> str | None:
        """One person's 個人番号 for the screen: the permission, a reason, and the audit entry
        (written before the number is read) — app.auth.reveal.reveal_my_number."""
        self._check_open()
        session = self.auth.session
        if session is None:
            raise SessionError("ログアウトしました。もう一度ログインしてください。")
        return reveal_my_number(
            session,
            person_id,
            reason,
            fetch=lambda pid: self.cache.person(pid)[0].my_number,
            record=self.chain.append,
        )

    def audit_log(
        self,
        operator_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        actions: Sequence[str] | None = None,
    ) -> list[AuditEntry]:
        """監査ログの閲覧 (監査者), newest first, `end` exclusive: checked, and itself audited."""
        self._require(Permission.VIEW_AUDIT)
        entries = self.chain.query(operator_id=operator_id, start=start, end=end, actions=actions)
        self.audit(AuditAction.VIEW_AUDIT_LOG, [operator_id] if operator_id else [])
        return entries

    def verify_audit_chain(self) -> list[Problem]:
        """The chain checked against this terminal's certificate (for the 監査者)."""
        self._require(Permission.VIEW_AUDIT)
        return self.chain.verify(public_key_from_pem(self.files_cert_pem()))

    def files_cert_pem(self) -> bytes:
        return self.files.cert.read_bytes()

    # -- sync -----------------------------------------------------------------------------------

    def status(self) -> SyncStatus:
        """Counts and times only (no personal data): answered under the idle lock too."""
        if self.closed:
            raise SessionError("ログアウトしました。")
        return self.engine.status(self.clock())

    def sync_once(
        self, progress: Progress | None = None, cancel: Cancel | None = None
    ) -> SyncReport:
        """Queue the audit trail, push the outbox, pull the feed. One sync at a time."""
        with self._sync_lock:
            self._check_open()
            self.queue_audit_batches()
            report = self.engine.sync_once(progress=progress, cancel=cancel)
            if report.online and report.terminal_action == "none":
                self._send_audit_head()
            if report.online and report.error is None:
                self._refresh_seal()
            if report.revoked_operators or report.terminal_action != "none":
                self._apply_revocations(report)
            return report

    def _send_audit_head(self) -> None:
        """The chain's signed head to the server (issue 21 item 8): it sees a chain that later
        ends lower, or vanishes. A failure leaves it for the next round."""
        try:
            answer = self.client.send_audit_head(self.chain.signed_head(self.clock()))
        except (DomainError, OSError) as exc:
            log.info("audit head not sent: %s", type(exc).__name__)
            return
        if answer.status != "ok":
            log.warning(
                "audit head: the server recorded a finding for terminal %s", self.terminal_no
            )

    def _apply_revocations(self, report: SyncReport) -> None:
        """Revoked operators lose their slots; a revoked terminal is wiped (outbox empty) or
        locked (outbox not empty: the events are kept for the administrator)."""
        data_dir = self.files.data_dir
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
            for path in (self.files.key, self.files.cert, self.files.config):
                path.unlink(missing_ok=True)
        else:
            self.cache.close()

    def needs_reconnect(self, report: SyncReport) -> bool:
        """True when the server is back but wants this operator to log in again (a session
        that began offline, or one that expired)."""
        return report.needs_login

    def reconnect(self, password: str) -> None:
        """Open a server session for the operator at the counter again (password re-entered)."""
        self._check_open()
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

    def change_password(self, old_password: str, new_password: str) -> None:
        """The operator's own change (online): the server's rule checked here first, then
        POST /v1/password; this terminal's key slot is wrapped with the new password, the idle
        lock takes it, and the change is an audit entry (app.auth.service)."""
        self._check_open()
        self.auth.change_password(old_password, new_password)

    def password_problems(self, password: str, previous: str | None = None) -> list[str]:
        """What the server's rule (app.domain.passwords) says of a new password, in Japanese,
        for the dialog to show as the clerk types; nothing is sent."""
        return self.auth.policy.problems(password, self.operator.operator_id, previous)

    def held_events(self) -> list[HeldEvent]:
        """Events the server rejected or kept failing on (quarantined), for the supervisor."""
        self._require(Permission.APPROVE)
        return self.cache.outbox_held()

    def requeue_event(self, event_id: str, reason: str) -> None:
        """A supervisor puts a held event back in the queue (after the cause is fixed); the
        decision and its reason are an audit entry in the same transaction."""
        self._require(Permission.APPROVE)
        text = normalise_reason(reason, "送信保留データの再送")
        with self.cache.transaction():
            self.cache.outbox_requeue(event_id)
            self.audit(AuditAction.OUTBOX_REQUEUE, [event_id], reason=text)

    def queue_audit_batches(self) -> int:
        """Move unpushed audit entries into the outbox (durable there; the outbox delivers)."""
        queued = 0
        while True:
            with self.cache.transaction():
                batch = self.chain.pending_batch(500)
                if batch is None:
                    return queued
                self.cache.outbox_add(
                    new_event(
                        AuditBatchPayload.model_validate(batch),
                        event_id=str(uuid.uuid4()),
                        occurred_at=self.clock(),
                        operator_id=self.operator.operator_id,
                        terminal_no=self.terminal_no,
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


def _screen_hit(hit: SearchHit, shield: AddressShield) -> SearchHit:
    if not shield.hit_withheld(protected=hit.protected, address=hit.address):
        return hit
    return dataclasses.replace(hit, address=ADDRESS_WITHHELD, katagaki=None, address_withheld=True)


_SEX_LABELS = {"male": "男", "female": "女"}
_CRITERION_CHARS = 100


def search_criteria(
    *,
    name: str = "",
    birth: str = "",
    sex: str | None = None,
    address: str = "",
    juminhyo_code: str = "",
    include_removed: bool = True,
    hits: int = 0,
) -> str:
    """The search's criteria for its audit entry (docs/audit.md "Search criteria"): which
    fields were used and what was typed, so an auditor can tell a search that served a
    counter visit from one that did not (DESIGN.md §8). The 住民票コード keeps its last four
    digits only (the hits name the person); a 個人番号 is never a search criterion here."""

    def cut(text: str) -> str:
        text = " ".join(text.split())
        return text if len(text) <= _CRITERION_CHARS else text[:_CRITERION_CHARS] + "…"

    parts: list[str] = []
    if name.strip():
        parts.append(f"氏名「{cut(name)}」")
    if birth.strip():
        parts.append(f"生年月日「{cut(birth)}」")
    if sex:
        parts.append(f"性別「{_SEX_LABELS.get(sex, cut(sex))}」")
    if address.strip():
        parts.append(f"住所「{cut(address)}」")
    code = juminhyo_code.strip()
    if code:
        parts.append(f"住民票コード「{'＊' * max(0, len(code) - 4)}{cut(code[-4:])}」")
    if not include_removed:
        parts.append("除票を除く")
    return f"条件: {' '.join(parts) or 'なし'} / 該当 {hits}件"


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
