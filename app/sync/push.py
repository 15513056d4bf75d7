"""Push: the outbox to the server in batches (a part of SyncEngine, app/sync/engine.py).

- Events stay in the outbox until the server answered them; the server deduplicates by
  `event_id`, so a batch re-sent after a cut connection comes back `duplicate`.
- A batch the server refuses as a whole (400/413/422) is split in halves until the offending
  event is alone; that one is `rejected` with the server's reason: kept and shown, never
  retried automatically, never blocking the queue.
- A batch that still fails with 5xx or an unreadable answer after the retries (issue 21): if
  the server answers another request, the batch is split (one try per part) until the failing
  events are alone; the rest is delivered, and each one that failed alone is held back
  (EventBackoff) and, after `quarantine_after` such rounds, quarantined for a supervisor.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from app.sync.errors import MalformedAnswer, ServerFailed, ServerRejected, ServerUnreachable
from app.sync.notices import conflict_notice
from app.sync.ports import SyncCache, SyncClientLike
from app.sync.protocol import Event, EventResult, EventsResponse
from app.sync.results import PushResult
from app.sync.retry import Cancel, EventBackoff, RetryCounter, SyncCancelled, is_cancelled

log = logging.getLogger("madoguchi.sync")

T = TypeVar("T")

# Whole-batch refusals that name no event: split the batch to find the one at fault.
SPLIT_STATUSES = frozenset({400, 413, 422})


def is_revocation(exc: ServerRejected) -> bool:
    """A 403 that says this terminal is revoked (the server refuses it on every request)."""
    return exc.status == 403 and "revoked" in (exc.code or "").lower()


def _failure_reason(exc: Exception) -> str:
    """What the supervisor reads about an event the server kept failing on (Japanese)."""
    what = f"HTTP {exc.status}" if isinstance(exc, ServerFailed) else "応答の形式の誤り"
    return (
        f"サーバーがこのデータだけ受け取れませんでした({what})。ほかのデータは送信済みです。"
        "繰り返し失敗したら、監督者が内容を確認し、管理者に連絡してください。"
    )


class PushMixin:
    """The push half of SyncEngine; the engine provides what is declared here."""

    cache: SyncCache
    client: SyncClientLike
    clock: Callable[[], datetime]
    batch_size: int
    event_backoff: EventBackoff
    _lock: threading.RLock

    if TYPE_CHECKING:  # provided by SyncEngine (app/sync/engine.py)

        def _call(
            self, what: str, fn: Callable[[], T], cancel: Cancel | None, counter: RetryCounter
        ) -> T: ...

        def _current_version(self, person_id: str) -> int | None: ...

    def push(self, cancel: Cancel | None = None) -> PushResult:
        """Send the outbox in batches until it is empty (or the server cannot be reached)."""
        with self._lock:
            result = PushResult()
            tried: set[str] = set()
            now = self.clock()
            try:
                while True:
                    if is_cancelled(cancel):
                        raise SyncCancelled
                    pending = self.cache.outbox_pending(self.batch_size, now)
                    batch = [e for e in pending if e.event_id not in tried]
                    if not batch:
                        break
                    tried.update(e.event_id for e in batch)
                    self._send(batch, result, cancel)
            except SyncCancelled:
                result.cancelled = True
            except ServerRejected as exc:
                result.error = exc
                result.terminal_revoked = is_revocation(exc)
            except (ServerUnreachable, ServerFailed, MalformedAnswer) as exc:
                result.error = exc
            self._settle_failing(result, now)
            result.remaining = self.cache.outbox_count()
            result.notices = [
                conflict_notice(e, r, self._current_version) for e, r in result.conflicts
            ]
            log.info(
                "sync push: %d sent, %d accepted, %d duplicate, %d conflict, %d rejected, %d left",
                result.sent,
                result.accepted,
                result.duplicate,
                len(result.conflicts),
                len(result.rejected),
                result.remaining,
            )
            return result

    def _send(
        self,
        batch: list[Event],
        result: PushResult,
        cancel: Cancel | None,
        *,
        isolating: bool = False,
    ) -> None:
        try:
            if isolating:  # one try per part: the retries were spent on the whole batch
                response: EventsResponse = self.client.push_events(batch)
            else:
                response = self._call(
                    "events", lambda: self.client.push_events(batch), cancel, result
                )
        except (ServerFailed, MalformedAnswer) as exc:
            # The server, or something in this batch? Only a server that answers another
            # request tells them apart; one that does not is down: the round ends here.
            if not isolating and not self._server_answers():
                raise
            if is_cancelled(cancel):
                raise SyncCancelled from None
            if len(batch) > 1:
                mid = len(batch) // 2
                self._send(batch[:mid], result, cancel, isolating=True)
                self._send(batch[mid:], result, cancel, isolating=True)
                return
            result.failing.append((batch[0].event_id, exc))
            log.warning(
                "sync push: event %s fails alone (%s)", batch[0].event_id, type(exc).__name__
            )
            return
        except ServerRejected as exc:
            if exc.status not in SPLIT_STATUSES:
                raise
            if len(batch) > 1:
                mid = len(batch) // 2
                self._send(batch[:mid], result, cancel, isolating=isolating)
                self._send(batch[mid:], result, cancel, isolating=isolating)
                return
            # This one event is what the server refuses: keep it as rejected, go on.
            refused = EventResult(event_id=batch[0].event_id, status="rejected", reason=exc.message)
            response = EventsResponse(results=[refused])
            log.warning(
                "sync push: event %s refused as a batch of one (%s)", batch[0].event_id, exc.status
            )
        result.batches += 1
        result.sent += len(batch)
        by_id = {e.event_id: e for e in batch}
        answered: dict[str, EventResult] = {}
        for r in response.results:
            if r.event_id in by_id and r.event_id not in answered:
                answered[r.event_id] = r
            else:
                log.warning("sync push: unexpected result for event %s ignored", r.event_id)
        self.cache.outbox_record_results(list(answered.values()))
        for r in answered.values():
            if r.status == "accepted":
                result.accepted += 1
            elif r.status == "duplicate":
                result.duplicate += 1
            elif r.status == "conflict":
                result.conflicts.append((by_id[r.event_id], r))
                log.warning("sync push: event %s accepted with conflict", r.event_id)
            else:
                result.rejected.append(r)
                log.warning("sync push: event %s rejected", r.event_id)
        result.unanswered.extend(eid for eid in by_id if eid not in answered)

    def _server_answers(self) -> bool:
        """One cheap read of the feed (one try): does the server answer anything just now?"""
        try:
            self.client.changes(self.cache.cursor(), 1)
        except ServerRejected:
            return True  # it answered, if only to refuse
        except (ServerUnreachable, ServerFailed, MalformedAnswer):
            return False
        return True

    def _settle_failing(self, result: PushResult, now: datetime) -> None:
        """Count the events that failed alone. Only when the server took something else this
        round (or the one failing event was all there was to send): several failing and none
        taken means the server cannot take events at all now, which is no event's fault."""
        if not result.failing:
            return
        taken = result.accepted + result.duplicate + len(result.conflicts) + len(result.rejected)
        if not taken and (len(result.failing) > 1 or result.error is not None):
            if result.error is None:
                result.error = result.failing[0][1]
            return
        backoff = self.event_backoff
        for event_id, exc in result.failing:
            reason = _failure_reason(exc)
            attempts = self.cache.outbox_failed(
                event_id, reason, lambda n: backoff.retry_at(n, now), backoff.quarantine_after
            )
            if attempts >= backoff.quarantine_after:
                result.quarantined.append(event_id)
                log.warning("sync push: event %s quarantined after %d tries", event_id, attempts)
