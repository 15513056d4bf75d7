"""Typed errors of the sync client: the engine retries some, the UI shows all (Japanese)."""

from __future__ import annotations

from app.domain.errors import DomainError


class SyncError(DomainError):
    """Base of the sync client's errors; `message` is shown as is."""


class ServerUnreachable(SyncError):
    """Network down, refused, TLS failure or timeout: retry later with backoff."""

    def __init__(
        self,
        message: str = "サーバーに接続できません。ネットワークを確認してください。",
        *,
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.detail = detail  # exception class name etc., for logs (never personal data)


class ServerRejected(SyncError):
    """4xx: the server refused the request; retrying the same request will not help."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def terminal_revoked(self) -> bool:
        return self.code == "terminal_revoked"

    @property
    def session_expired(self) -> bool:
        return self.code in ("session_invalid", "session_required")


class ServerFailed(SyncError):
    """5xx: the server failed; retry later with backoff."""

    DEFAULT = "サーバーでエラーが発生しました。しばらくしてから再試行します。"

    def __init__(self, status: int, code: str = "server_error", message: str = DEFAULT) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class MalformedAnswer(SyncError):
    """The answer was not the JSON the protocol promises (truncated, wrong shape, ...)."""

    def __init__(
        self, message: str = "サーバーの応答の形式が正しくありません。", *, detail: str = ""
    ) -> None:
        super().__init__(message)
        self.detail = detail


class ClientTooOld(ServerRejected):
    """The server serves no program older than `minimum` (426 client_too_old): the PC needs the
    new version. Shown as is at login and in the status bar; retrying does not help."""

    def __init__(self, minimum: str | None, current: str) -> None:
        need = f"(このPC: {current}、必要: {minimum} 以上)" if minimum else f"(このPC: {current})"
        super().__init__(
            426,
            "client_too_old",
            f"このプログラムは古いため使用できません。管理者に更新を依頼してください{need}。",
        )
        self.minimum = minimum
        self.current = current
