"""What a sync round reports: the results of push, pull and anti-entropy, and the status bar's
view of the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.sync.errors import ServerRejected
from app.sync.freshness import Freshness
from app.sync.notices import ConflictNotice
from app.sync.protocol import Event, EventResult

# 401 codes that mean "log in again".
SESSION_CODES = frozenset({"session_invalid", "session_required"})


@dataclass(slots=True)
class PullResult:
    start_cursor: int
    cursor: int
    pages: int = 0
    items: int = 0
    latest_seq: int | None = None
    complete: bool = False
    cancelled: bool = False
    # Operators whose profile arrived inactive or deleted: delete their key slots.
    revoked_operators: list[str] = field(default_factory=list)
    terminal_revoked: bool = False
    policy_changed: bool = False
    # The server's head was below our cursor: restored from an older backup.
    server_rewound: bool = False
    # The initial sync began from the server's snapshot, at this seq (then the feed from it).
    snapshot_seq: int | None = None
    retries: int = 0
    error: Exception | None = None


@dataclass(slots=True)
class PushResult:
    sent: int = 0
    accepted: int = 0
    duplicate: int = 0
    batches: int = 0
    retries: int = 0
    conflicts: list[tuple[Event, EventResult]] = field(default_factory=list)
    notices: list[ConflictNotice] = field(default_factory=list)
    rejected: list[EventResult] = field(default_factory=list)
    # Events of a batch the server did not answer: still pending, sent again next time.
    unanswered: list[str] = field(default_factory=list)
    # Events the server failed on alone (5xx, an unreadable answer) while it answered the
    # rest: (event_id, error). Held back and counted; `quarantined` reached the limit now.
    failing: list[tuple[str, Exception]] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    remaining: int = 0  # pending in the outbox afterwards
    cancelled: bool = False
    terminal_revoked: bool = False
    error: Exception | None = None


@dataclass(slots=True)
class RepairResult:
    buckets_checked: int = 0
    differing: list[int] = field(default_factory=list)
    repaired: list[int] = field(default_factory=list)
    households_replaced: int = 0
    # Buckets whose server state changed while we repaired: the next round fixes them.
    still_differing: list[int] = field(default_factory=list)
    cancelled: bool = False
    retries: int = 0
    error: Exception | None = None


@dataclass(slots=True)
class SyncReport:
    started_at: datetime
    finished_at: datetime
    push: PushResult
    pull: PullResult | None
    repair: RepairResult | None
    online: bool
    outbox_count: int
    freshness: Freshness
    revoked_operators: list[str]
    # "none" | "wipe" (revoked, outbox empty) | "lock" (revoked, outbox not empty: keep the DB,
    # refuse to open it, tell the administrator).
    terminal_action: str
    notices: list[ConflictNotice]

    @property
    def error(self) -> Exception | None:
        for part in (self.push, self.pull, self.repair):
            if part is not None and part.error is not None:
                return part.error
        return None

    @property
    def needs_login(self) -> bool:
        """The server no longer knows the operator's session: log in again (online)."""
        err = self.error
        return isinstance(err, ServerRejected) and err.code in SESSION_CODES

    @property
    def message(self) -> str:
        """One Japanese line for the status bar."""
        if self.terminal_action != "none":
            return "この端末はサーバーで登録を取り消されました。管理者に連絡してください。"
        err = self.error
        if err is not None:
            return getattr(err, "message", None) or "同期に失敗しました。"
        if not self.online:
            return "オフラインです。"
        if self.push.quarantined:
            return (
                f"送信できないデータが{len(self.push.quarantined)}件あります。"
                "監督者が「送信保留」で確認してください。"
            )
        return f"同期しました(未送信 {self.outbox_count} 件)。"


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the status bar shows: online/offline, cache age, outbox length."""

    online: bool | None  # None: no sync attempted yet
    last_sync_at: datetime | None
    last_error: str | None
    freshness: Freshness
    outbox_count: int
    running: bool
    # Rejected or quarantined events waiting for a supervisor (never sent on their own).
    held_count: int = 0
