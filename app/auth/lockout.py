"""Counting failed password attempts.

The offline login's own counter lives in the key slots (app/store/keys.py deletes a slot after
5 failed unwraps); this counter serves the places that check a password without a slot: the
idle lock's unlock and a supervisor's approval. Storage is injectable so a composer can persist
it; the default keeps counts in memory (a restart ends the session anyway).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

MAX_FAILURES = 5


class LockoutTracker:
    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        load: Callable[[str], int] | None = None,
        save: Callable[[str, int], None] | None = None,
    ) -> None:
        self.max_failures = max_failures
        self._counts: dict[str, int] = {}
        self._load = load or (lambda key: self._counts.get(key, 0))
        self._save = save or self._counts.__setitem__
        self._lock = threading.Lock()

    def failures(self, key: str) -> int:
        return self._load(key)

    def is_locked(self, key: str) -> bool:
        return self._load(key) >= self.max_failures

    def record_failure(self, key: str) -> int:
        """Count one failure; returns how many tries are left (0: locked)."""
        with self._lock:
            n = self._load(key) + 1
            self._save(key, n)
        return max(0, self.max_failures - n)

    def record_success(self, key: str) -> None:
        with self._lock:
            self._save(key, 0)
