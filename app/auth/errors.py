"""Errors of login, lock and approval. Messages are Japanese and never echo a password."""

from __future__ import annotations

from app.domain.errors import DomainError
from app.domain.passwords import WeakPassword

__all__ = [
    "ApprovalRefused",
    "AuthError",
    "InvalidCredentials",
    "LockedOut",
    "PasswordChangeRequired",
    "ReasonRequired",
    "ScreenLocked",
    "SessionEnded",
    "WeakPassword",  # the password rule's (app.domain.passwords), raised by app.auth too
]


class AuthError(DomainError):
    """Base of the errors of app.auth; `message` is shown to the clerk as is."""


class InvalidCredentials(AuthError):
    def __init__(self, message: str = "職員IDまたはパスワードが違います。") -> None:
        super().__init__(message)


class LockedOut(AuthError):
    def __init__(self) -> None:
        super().__init__(
            "パスワードを続けて間違えたため、この操作はできません。もう一度ログインしてください。"
        )


class ReasonRequired(AuthError):
    def __init__(self, what: str = "この操作") -> None:
        super().__init__(f"{what}には理由の入力が必要です。")


class ApprovalRefused(AuthError):
    """The second credential does not make a valid approval (wrong role, same person...)."""


class SessionEnded(AuthError):
    def __init__(self) -> None:
        super().__init__("セッションは終了しています。もう一度ログインしてください。")


class ScreenLocked(AuthError):
    """The idle lock is on: every use case waits for the unlock (or a takeover)."""

    def __init__(self) -> None:
        super().__init__(
            "画面がロックされています。パスワードでロックを解除してから操作してください。"
        )


class PasswordChangeRequired(AuthError):
    """The server answered must_change_password: an administrator set this password, and
    nothing opens until the operator has chosen a new one (the login window asks for it)."""

    def __init__(self) -> None:
        super().__init__(
            "管理者がパスワードを再設定しました。ほかの操作の前に、新しいパスワードを決めてください。"
        )
