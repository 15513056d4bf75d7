"""Login: online first (the server releases the DEK), the operator's key slot offline.

The flow itself (online first, offline on ServerUnreachable, failures recorded once the chain is
open) is app.auth.service.AuthService; LoginService wires it to this terminal's real pieces and
returns a CounterSession (app.services.session).
"""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

from app.auth.errors import InvalidCredentials, PasswordChangeRequired
from app.auth.service import AuthService, PendingFailure
from app.domain.passwords import PasswordRules, WeakPassword, context_words_of
from app.services.issuance import DailyReportRenderer, Renderer
from app.services.revocation import LOCKED_MESSAGE, is_locked
from app.services.session import CounterSession, NotificationTools
from app.services.session_core import Clock, SessionError, utc_now
from app.services.terminal import (
    SecretStoreFactory,
    TerminalConfig,
    TerminalError,
    TerminalFiles,
    default_secret_store,
    make_private,
)
from app.store.audit import signer_for
from app.store.db import Cache, open_cache
from app.store.keys import KeySlots
from app.sync.client import SyncClient, load_private_key
from app.sync.errors import ServerRejected, ServerUnreachable
from app.sync.protocol import OperatorProfile, SessionResponse


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
        clock: Clock = utc_now,
        notification_tools: NotificationTools | None = None,
    ) -> None:
        self.files = TerminalFiles(Path(data_dir))
        self.renderer = renderer
        self.notification_tools = notification_tools
        self.daily_report_renderer = daily_report_renderer
        self.secret_store_factory = secret_store_factory
        self.clock = clock
        # Failed attempts before any cache was open, shared by every attempt of this login
        # window: the next successful login writes them all into the audit chain.
        self._pending_failures: list[PendingFailure] = []

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

    def login(
        self, operator_id: str, password: str, new_password: str | None = None
    ) -> CounterSession:
        """Log in; `new_password` answers the server's must_change_password (an administrator
        reset this operator's password: PasswordChangeRequired until a new one is given; it is
        checked here by the server's rule, then set, before anything opens)."""
        if is_locked(self.files.data_dir):
            raise SessionError(LOCKED_MESSAGE)
        config = self.terminal()
        secret_store = self.secret_store_factory(config.install_id)
        device_secret = self._device_secret(config)
        make_private(self.files)
        client = self.client(config, device_secret)
        # The failure counts live beside the device secret too (issue 21: a restored
        # keyslots.json must not give a guesser five more tries).
        slots = KeySlots(self.files.slots, guard=secret_store.failure_guard())
        opened: dict[str, Cache] = {}
        rules = PasswordRules(
            context_words=context_words_of(config.municipality_name, config.municipality_code)
        )
        changed: dict[str, str] = {}

        def set_password(op_id: str, old: str, new: str) -> SessionResponse:
            """POST /v1/password, and this operator's key slot wrapped with the new password."""
            try:
                answer = client.change_password(old, new)
            except ServerRejected as exc:
                if exc.status == 401 and exc.code == "invalid_credentials":
                    raise InvalidCredentials("現在のパスワードが違います。") from None
                if exc.code == "weak_password":
                    raise WeakPassword([exc.message]) from None
                if exc.status == 401:
                    raise SessionError(
                        "パスワードの変更には中央サーバーへの接続が必要です。"
                        "オンラインでログインし直してから変更してください。"
                    ) from None
                raise
            except ServerUnreachable:
                raise SessionError(
                    "中央サーバーに接続できないため、パスワードを変更できません。"
                ) from None
            dek = base64.b64decode(answer.dek_b64)
            slots.create_or_refresh(
                op_id, new, dek, device_secret, answer.policy.offline_login_days
            )
            return answer

        def change_password(op_id: str, old: str, new: str) -> None:
            set_password(op_id, old, new)

        def online_login(op_id: str, pw: str) -> SessionResponse:
            try:
                answer = client.login(op_id, pw)
            except ServerRejected as exc:
                if exc.status == 401:
                    raise InvalidCredentials(exc.message) from None
                raise
            if answer.must_change_password:
                # A password an administrator set opens nothing: not the cache (no DEK came),
                # not an offline slot (the old one is removed).
                slots.delete(op_id)
                if new_password is None or "cache" in opened:
                    raise PasswordChangeRequired()
                rules.check(new_password, op_id, previous=pw)
                answer = set_password(op_id, pw, new_password)
                changed[op_id] = pw = new_password
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
            pending=self._pending_failures,
            policy=rules,
            change_password=change_password,
        )
        try:
            auth.login(operator_id, password)
            if operator_id.strip() in changed:
                auth.password_changed_at_login(changed[operator_id.strip()])
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
                files=self.files,
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
                secret_store=secret_store,
                notification_tools=self.notification_tools,
            )
        except BaseException:
            cache.close()
            client.close()
            raise
        return session
