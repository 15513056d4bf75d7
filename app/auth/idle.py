"""Idle policy: the screen locks after `minutes` without input (DESIGN.md §8, default 5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

DEFAULT_IDLE_MINUTES = 5


def _seconds(value: float | datetime) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


@dataclass(frozen=True)
class IdlePolicy:
    minutes: float = DEFAULT_IDLE_MINUTES

    def __post_init__(self) -> None:
        if self.minutes <= 0:
            raise ValueError("idle minutes must be positive")

    @property
    def seconds(self) -> float:
        return self.minutes * 60.0

    def is_idle(self, last_input: float | datetime, now: float | datetime) -> bool:
        """Times are monotonic seconds or aware datetimes (both the same kind)."""
        return _seconds(now) - _seconds(last_input) >= self.seconds

    def remaining(self, last_input: float | datetime, now: float | datetime) -> float:
        """Seconds until the lock (0 when idle)."""
        return max(0.0, self.seconds - (_seconds(now) - _seconds(last_input)))
