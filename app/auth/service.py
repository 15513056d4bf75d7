"""Login (online, offline), logout, password change, unlock and takeover of the idle lock.

Pure apart from the callables it is given, so the composition root (cli/) wires the real
pieces and the tests wire fakes:

- `online_login(operator_id, password) -> SessionResponse`: app.sync.client.SyncClient.login;
  ServerUnreachable / ServerFailed fall back to the offline login; ServerRejected and
  InvalidCredentials are recorded as failed logins; other errors pass through.
- `offline_login(operator_id, password) -> OperatorProfile`: unwrap the operator's key slot
  (app/store/keys.py raises NoSlot / SlotExpired / WrongPassword / SlotDeleted), open the cache
  and read the profile from it.
- `record(operator_id, action, target_ids, reason=None, at=None)`: AuditChain.append, or None
  while the cache is closed. Failed logins (and lockouts) before the cache is open are kept in
  memory (`pending`, shared by the login window's attempts) and written with their original
  time at the next successful login on this terminal in the same run of the program.

The password itself is never kept: an argon2 hash of it, in memory only, lets the idle lock
check the password without the network or the key slot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from app.auth.errors import InvalidCredentials, LockedOut, ScreenLocked, SessionEnded
from app.auth.lockout import LockoutTracker
from app.auth.session import Session
from app.domain.errors import DomainError
from app.domain.passwords import PasswordRules
from app.store.audit import AuditAction
from app.store.errors import SlotDeleted
from app.sync.errors import ServerFailed, ServerRejected, ServerUnreachable
from app.sync.protocol import OperatorProfile, SessionResponse

log = logging.getLogger(__name__)

Record = Callable[..., Any]


@dataclass(frozen=True)
class PendingFailure:
    operator_id: str
    at: datetime
    online: bool
    # The failure that deleted the operator's offline key slot (or locked the operator).
    lockout: bool = False


class AuthService:
    def __init__(
        self,
        *,
        terminal_no: str,
        online_login: Callable[[str, str], SessionResponse] | None = None,
        offline_login: Callable[[str, str], OperatorProfile] | None = None,
        change_password: Callable[[str, str, str], None] | None = None,
        record: Record | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        policy: PasswordRules | None = None,
        unlock_lockout: LockoutTracker | None = None,
        hasher: PasswordHasher | None = None,
        takeover_login: Callable[[str, str], OperatorProfile] | None = None,
        pending: list[PendingFailure] | None = None,
    ) -> None:
        self.terminal_no = terminal_no
        self._online_login = online_login
        self._offline_login = offline_login
        self._change_password = change_password
        self._record = record
        self._clock = clock
        self.policy = policy or PasswordRules()
        self._unlock_lockout = unlock_lockout or LockoutTracker()
        self._hasher = hasher or PasswordHasher()
        # Checks the next operator at the lock screen without opening anything anew (the cache
        # is already open); the login callables are used when it is not given.
        self._takeover_login = takeover_login
        # Failures before the chain is open. The login window's LoginService passes one list to
        # each attempt's AuthService, so the failures of earlier attempts are written too.
        self._pending: list[PendingFailure] = pending if pending is not None else []
        self._verifier: dict[str, str] = {}  # operator_id → argon2 hash, this session only
        self.session: Session | None = None
        # The idle lock (lock() … unlock()/takeover()): app.services refuses every use case
        # while it is on, whatever the UI shows.
        self.locked = False
        self._login_unrecorded = False
        self._change_unrecorded = False
        self.last_response: SessionResponse | None = None

    # --- audit -----------------------------------------------------------------------------

    def attach_recorder(self, record: Record | None) -> None:
        """Set once the cache is open (after login); writes the failures kept meanwhile."""
        self._record = record
        if record is None:
            return
        pending = list(self._pending)
        self._pending.clear()
        for f in pending:
            record(
                f.operator_id,
                AuditAction.LOGIN_FAILED,
                [],
                reason="オンライン" if f.online else "オフライン",
                at=f.at,
            )
            if f.lockout:
                record(
                    f.operator_id,
                    AuditAction.LOCKOUT,
                    [],
                    reason=_lockout_reason(f.online),
                    at=f.at,
                )
        if self.session is not None and self._login_unrecorded:
            self._login_unrecorded = False
            s = self.session
            record(
                s.operator_id,
                AuditAction.LOGIN,
                [],
                reason="オンライン" if s.online else "オフライン",
                at=s.logged_in_at,
            )
        if self.session is not None and self._change_unrecorded:
            self._change_unrecorded = False
            record(
                self.session.operator_id,
                AuditAction.PASSWORD_CHANGE,
                [],
                reason="管理者による再設定後の変更(ログイン時)",
            )

    def _audit(
        self,
        operator_id: str,
        action: AuditAction,
        targets: list[str] | None = None,
        reason: str | None = None,
    ) -> None:
        if self._record is None:
            raise SessionEnded()  # an action that cannot be recorded must not happen
        self._record(operator_id, action, targets or [], reason=reason)

    def _failed(self, operator_id: str, online: bool, lockout: bool = False) -> None:
        """A failed login (and, with `lockout`, the lock it caused): in the chain now, or kept
        in memory until the cache opens (AuditAction.LOGIN_FAILED, AuditAction.LOCKOUT)."""
        if self._record is not None:
            self._record(
                operator_id,
                AuditAction.LOGIN_FAILED,
                [],
                reason="オンライン" if online else "オフライン",
            )
            if lockout:
                self._record(operator_id, AuditAction.LOCKOUT, [], reason=_lockout_reason(online))
        else:
            self._pending.append(PendingFailure(operator_id, self._clock(), online, lockout))

    # --- login -----------------------------------------------------------------------------

    def _authenticate(self, operator_id: str, password: str) -> Session:
        operator_id = operator_id.strip()
        if not operator_id or not password:
            raise InvalidCredentials("職員IDとパスワードを入力してください。")
        if self._online_login is not None:
            try:
                answer = self._online_login(operator_id, password)
            except (ServerUnreachable, ServerFailed):
                # The line or the server is down: the key slot is the way in.
                if self._offline_login is None:
                    raise
                log.info("server unavailable: offline login for operator %s", operator_id)
            except (ServerRejected, InvalidCredentials) as exc:
                self._failed(operator_id, online=True, lockout=_locked_answer(exc))
                raise
            else:
                if not answer.operator.active:
                    raise InvalidCredentials("この職員IDは利用停止されています。")
                self.last_response = answer
                return Session(
                    answer.operator, self.terminal_no, self._clock(), True, answer.session_token
                )
        if self._offline_login is None:
            raise InvalidCredentials("ログインの方法が設定されていません。")
        try:
            profile = self._offline_login(operator_id, password)
        except SlotDeleted:
            self._failed(operator_id, online=False, lockout=True)
            raise
        except DomainError:
            self._failed(operator_id, online=False)
            raise
        if not profile.active:
            raise InvalidCredentials("この職員IDは利用停止されています。")
        return Session(profile, self.terminal_no, self._clock(), False)

    def login(self, operator_id: str, password: str) -> Session:
        """Log in (online first, offline when the server is unreachable) and record it.

        When the chain is not open yet (offline: the cache opens with this login), call
        `attach_recorder(chain.append)` right after: the login entry is written then.
        """
        session = self._authenticate(operator_id, password)
        self._remember(session.operator_id, password)
        self.session = session
        self._login_unrecorded = self._record is None
        if self._record is not None:
            self._audit(
                session.operator_id,
                AuditAction.LOGIN,
                reason="オンライン" if session.online else "オフライン",
            )
        return session

    def _remember(self, operator_id: str, password: str) -> None:
        self._verifier = {operator_id: self._hasher.hash(password)}
        self._unlock_lockout.record_success(operator_id)

    def _require_session(self) -> Session:
        if self.session is None:
            raise SessionEnded()
        return self.session

    def logout(self) -> None:
        s = self.session
        if s is None:
            return
        if self._record is not None:
            self._audit(s.operator_id, AuditAction.LOGOUT)
        self.session = None
        self.locked = False
        self._verifier = {}

    # --- idle lock -------------------------------------------------------------------------

    def lock(self) -> None:
        s = self._require_session()
        self.locked = True  # first: the lock holds even if the entry cannot be written
        self._audit(s.operator_id, AuditAction.LOCK)

    def require_unlocked(self) -> None:
        """ScreenLocked while the idle lock is on (the services call this before any work)."""
        if self.locked:
            raise ScreenLocked()

    def unlock(self, password: str) -> Session:
        """The operator's own password ends the lock; 5 wrong ones end the session."""
        s = self._require_session()
        if self._unlock_lockout.is_locked(s.operator_id):
            raise LockedOut()
        try:
            self._hasher.verify(self._verifier.get(s.operator_id, ""), password)
        except (VerificationError, ValueError):
            if self._unlock_lockout.record_failure(s.operator_id) == 0:
                self._failed(s.operator_id, online=s.online, lockout=True)
                self.logout()
                raise LockedOut() from None
            self._failed(s.operator_id, online=s.online)
            raise InvalidCredentials("パスワードが違います。") from None
        self._unlock_lockout.record_success(s.operator_id)
        self._audit(s.operator_id, AuditAction.UNLOCK)
        self.locked = False
        return s

    def takeover(self, operator_id: str, password: str) -> Session:
        """Another operator logs in at the lock screen and takes the terminal over."""
        old = self._require_session()
        if self._takeover_login is not None:
            operator_id = operator_id.strip()
            try:
                profile = self._takeover_login(operator_id, password)
            except DomainError:
                self._failed(operator_id, online=old.online)
                raise
            if not profile.active:
                raise InvalidCredentials("この職員IDは利用停止されています。")
            new = Session(profile, self.terminal_no, self._clock(), old.online, old.token)
        else:
            new = self._authenticate(operator_id, password)
        self._audit(old.operator_id, AuditAction.LOGOUT, reason="引き継ぎ")
        self._remember(new.operator_id, password)
        self.session = new
        self.locked = False
        self._audit(
            new.operator_id,
            AuditAction.TAKEOVER,
            [old.operator_id],
            reason=f"{old.operator_id} から引き継ぎ",
        )
        return new

    # --- password change -------------------------------------------------------------------

    def password_changed_at_login(self, new_password: str) -> None:
        """The login replaced a password an administrator had set (the server's
        must_change_password): the idle lock now takes the new one; the change is recorded
        once the chain is open (after the login entry)."""
        s = self._require_session()
        self._remember(s.operator_id, new_password)
        if self._record is None:
            self._change_unrecorded = True
        else:
            self._audit(
                s.operator_id, AuditAction.PASSWORD_CHANGE, reason="管理者による再設定後の変更"
            )

    def change_password(self, old_password: str, new_password: str) -> None:
        s = self._require_session()
        self.policy.check(new_password, s.operator_id, previous=old_password)
        if self._change_password is None:
            raise InvalidCredentials("パスワードの変更はオンラインのときだけできます。")
        self._change_password(s.operator_id, old_password, new_password)
        self._remember(s.operator_id, new_password)
        self._audit(s.operator_id, AuditAction.PASSWORD_CHANGE)


def _lockout_reason(online: bool) -> str:
    return "サーバーで職員IDをロック" if online else "この端末のオフライン用の鍵を削除・ロック"


def _locked_answer(exc: Exception) -> bool:
    """The server's answer that this failure locked the operator (403 operator_locked)."""
    return isinstance(exc, ServerRejected) and exc.code == "operator_locked"
