"""Errors of the encrypted cache and the key slots. Messages are Japanese: clerks read them.

No message carries a name, a number or a key; ids at most.
"""

from __future__ import annotations

from app.domain.errors import DomainError


class StoreError(DomainError):
    """Base of every error raised by app.store."""


class WrongKey(StoreError):
    """The database key does not open the cache file (or the file is not a cache)."""

    def __init__(
        self,
        message: str = "端末のデータベースを開けません(鍵が一致しません)。"
        "オンラインで再度ログインしてください。",
    ) -> None:
        super().__init__(message)


class CacheCorrupt(StoreError):
    """The file opened but is not a usable cache (schema newer than this program, damage)."""


class NotFound(StoreError):
    """A household, person or issuance that the cache does not hold."""


class OutboxNotEmpty(StoreError):
    def __init__(self, pending: int) -> None:
        super().__init__(
            f"未送信のデータが{pending}件あるため、端末のデータを削除できません。"
            "先に中央サーバーと同期してください。"
        )
        self.pending = pending


class KeyringUnavailable(StoreError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "OSの資格情報ストア(Windowsの資格情報マネージャー等)が使えないため、"
            "端末の鍵を保管できません。システム管理者に連絡してください。"
            + (f"({detail})" if detail else "")
        )


class NoSlot(StoreError):
    def __init__(self) -> None:
        super().__init__(
            "この端末にはこの職員のオフライン用の鍵がありません。オンラインでログインしてください。"
        )


class SlotExpired(StoreError):
    def __init__(self) -> None:
        super().__init__(
            "オフラインでログインできる期限を過ぎています。オンラインでログインしてください。"
        )


class WrongPassword(StoreError):
    def __init__(self, remaining: int) -> None:
        super().__init__(
            f"パスワードが違います。あと{remaining}回間違えると、この端末でのオフラインログインが"
            "できなくなります。"
        )
        self.remaining = remaining


class SlotDeleted(StoreError):
    def __init__(self) -> None:
        super().__init__(
            "パスワードを5回間違えたため、この端末のオフライン用の鍵を削除しました。"
            "オンラインでログインしてください。"
        )


class SlotRolledBack(SlotDeleted):
    """The key-slot file holds a slot its failure guard does not know (put back from a copy):
    deleted like a slot after five failures, with its own message."""

    def __init__(self) -> None:
        StoreError.__init__(
            self,
            "この端末のオフライン用の鍵ファイルが、記録されている状態と一致しません"
            "(古い写しで置き換えられた可能性があります)。鍵を削除しました。"
            "オンラインでログインしてください。",
        )
