"""The offline policy of DESIGN.md §5: how old may the local cache be for what.

A pure function of (last complete pull, policy, now): no I/O, no clock of its own, so the
status bar, the issuance service and the tests all get the same answer for the same inputs.

- FRESH   — age ≤ max_staleness: certificates are issued normally.
- STALE   — max_staleness < age ≤ hard_limit: issuance needs a supervisor's approval and the
            event carries `stale_approved_by`.
- EXPIRED — age > hard_limit, never synced, or a clock that runs behind the last pull: search
            only, until a complete pull succeeds.

Boundaries are inclusive on the permissive side: exactly `max_staleness` old is still FRESH,
exactly `hard_limit` old is still STALE. A clock that reads earlier than the last complete pull
(by more than CLOCK_SKEW_TOLERANCE) is treated as EXPIRED: turning the PC's clock back must not
extend offline issuance; one successful pull fixes it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.sync.protocol import Policy

CLOCK_SKEW_TOLERANCE = timedelta(minutes=5)


class FreshnessState(enum.Enum):
    FRESH = "fresh"
    STALE = "stale"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Freshness:
    state: FreshnessState
    # None when the cache never completed a pull.
    age: timedelta | None
    last_complete_pull: datetime | None
    # When the state changes next (None once EXPIRED).
    stale_at: datetime | None
    expires_at: datetime | None
    # True when the clock reads earlier than the last complete pull.
    clock_behind: bool = False

    @property
    def can_search(self) -> bool:
        return True

    @property
    def can_issue(self) -> bool:
        """Issuance allowed at all (STALE still needs `needs_approval`)."""
        return self.state is not FreshnessState.EXPIRED

    @property
    def needs_approval(self) -> bool:
        return self.state is FreshnessState.STALE

    @property
    def message(self) -> str:
        """One line for the status bar / the issuance screen (Japanese)."""
        if self.last_complete_pull is None:
            return "まだ一度もサーバーと同期していません。検索のみ利用できます。"
        if self.clock_behind:
            return (
                "端末の時計が最終同期より前を示しています。"
                "検索のみ利用できます(同期すると解除されます)。"
            )
        age = format_age(self.age or timedelta(0))
        if self.state is FreshnessState.FRESH:
            return f"データは最新です(最終同期から{age})。"
        if self.state is FreshnessState.STALE:
            return f"最終同期から{age}経過しています。証明書の交付には監督者の承認が必要です。"
        return f"最終同期から{age}経過しています。同期するまで検索のみ利用できます。"


def format_age(age: timedelta) -> str:
    """Japanese rendering of an age for the status bar: 「3分」「5時間」「2日4時間」."""
    minutes = max(0, int(age.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}日{hours}時間" if hours else f"{days}日"
    if hours:
        return f"{hours}時間{minutes}分" if minutes else f"{hours}時間"
    return f"{minutes}分"


def freshness(last_complete_pull: datetime | None, policy: Policy, now: datetime) -> Freshness:
    """State of the cache at `now`. Both datetimes must be timezone-aware."""
    if now.tzinfo is None or (last_complete_pull is not None and last_complete_pull.tzinfo is None):
        # A naive datetime would silently compare local time with UTC.
        raise ValueError("freshness() needs timezone-aware datetimes")
    if last_complete_pull is None:
        return Freshness(FreshnessState.EXPIRED, None, None, None, None)

    max_staleness = timedelta(hours=policy.max_staleness_hours)
    hard_limit = timedelta(days=policy.hard_limit_days)
    stale_at = last_complete_pull + max_staleness
    expires_at = last_complete_pull + max(hard_limit, max_staleness)
    age = now - last_complete_pull

    if age < -CLOCK_SKEW_TOLERANCE:
        return Freshness(
            FreshnessState.EXPIRED, timedelta(0), last_complete_pull, None, None, clock_behind=True
        )
    age = max(age, timedelta(0))
    if age <= max_staleness:
        state = FreshnessState.FRESH
    elif now <= expires_at:
        state = FreshnessState.STALE
    else:
        state = FreshnessState.EXPIRED
    return Freshness(
        state,
        age,
        last_complete_pull,
        stale_at,
        None if state is FreshnessState.EXPIRED else expires_at,
    )
