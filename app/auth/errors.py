"""Errors of login, lock and approval. Messages are Japanese and never echo a password."""

from __future__ import annotations

from app.domain.errors import DomainError


class AuthError(DomainError):
    """Base of the errors of app.auth; `message` is shown to the clerk as is."""


class InvalidCredentials(AuthError):
    def __init__(self, message: str = "職員IDまたはパスワードが違います。") -> None:
        super().__init__(message)


class WeakPassword(AuthError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("パスワードが条件を満たしていません: " + " ".join(problems))
        self.problems = problems


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
