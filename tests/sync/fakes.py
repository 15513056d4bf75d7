"""In-memory stand-ins for the unit tests of the engine's logic (retries, splitting, notices).

The fault tests (test_faults_*.py) use the real SQLCipher cache and the real HTTPS server; these
fakes only let the decision logic be tested exhaustively and fast. FakeServer follows the wire
contract of app.sync.protocol: compacted feed, per-event idempotency, digests by bucket.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from app.domain.records import parse_household
from app.sync.errors import ServerRejected
from app.sync.protocol import (
    DIGEST_BUCKETS,
    BucketRecords,
    ChangeItem,
    ChangesPage,
    Digest,
    Event,
    EventResult,
    EventsResponse,
    Policy,
    SnapshotInfo,
    bucket_digest,
    bucket_of,
)


def _household_version(data: dict[str, Any]) -> int:
    return max(m["version"] for m in data["members"])


class FakeServer:
    def __init__(self) -> None:
        self.seq = 0
        self.feed: dict[tuple[str, str], ChangeItem] = {}
        self.households: dict[str, dict[str, Any]] = {}
        self.events: dict[str, Event] = {}
        self.event_log: list[str] = []  # every event id as received, duplicates included
        self.versions: dict[str, int] = {}  # person_id → version
        self.reject: set[str] = set()  # event ids answered "rejected"
        self.refuse_batch_with: set[str] = set()  # event ids that make the whole batch a 422

    def put(self, kind: str, key: str, data: dict[str, Any] | None, deleted: bool = False) -> int:
        self.seq += 1
        version = _household_version(data) if kind == "household" and data else 1
        self.feed[(kind, key)] = ChangeItem(
            seq=self.seq,
            kind=kind,
            key=key,
            version=version,
            deleted=deleted,
            data=data,  # type: ignore[arg-type]
        )
        if kind == "household":
            if deleted:
                self.households.pop(key, None)
            else:
                assert data is not None
                self.households[key] = data
                for m in data["members"]:
                    self.versions[m["person_id"]] = m["version"]
        return self.seq

    def changes(self, after: int, limit: int) -> ChangesPage:
        items = sorted((i for i in self.feed.values() if i.seq > after), key=lambda i: i.seq)
        page, more = items[:limit], len(items) > limit
        next_after = page[-1].seq if more else max([after, self.seq, *(i.seq for i in page)])
        return ChangesPage(items=page, next_after=next_after, has_more=more, latest_seq=self.seq)

    def push(self, events: list[Event]) -> EventsResponse:
        if any(e.event_id in self.refuse_batch_with for e in events):
            raise ServerRejected(422, "invalid_batch", "送信データが正しくありません。")
        results = []
        for e in events:
            self.event_log.append(e.event_id)
            if e.event_id in self.events:
                results.append(EventResult(event_id=e.event_id, status="duplicate"))
            elif e.event_id in self.reject:
                results.append(
                    EventResult(event_id=e.event_id, status="rejected", reason="対象がありません。")
                )
            else:
                self.events[e.event_id] = e
                stale = any(self.versions.get(p, v) > v for p, v in e.relied_versions.items())
                status = "conflict" if stale else "accepted"
                reason = "住民票が更新されています。" if stale else None
                results.append(EventResult(event_id=e.event_id, status=status, reason=reason))
        return EventsResponse(results=results)

    def digest(self) -> Digest:
        pairs: list[list[tuple[str, int]]] = [[] for _ in range(DIGEST_BUCKETS)]
        for hid, data in self.households.items():
            pairs[bucket_of(hid)].append((hid, _household_version(data)))
        return Digest(bucket_count=DIGEST_BUCKETS, buckets=[bucket_digest(p) for p in pairs])

    def records(self, bucket: int) -> BucketRecords:
        hs = [
            copy.deepcopy(d) for h, d in sorted(self.households.items()) if bucket_of(h) == bucket
        ]
        return BucketRecords(bucket=bucket, households=hs)


class FakeClient:
    """A SyncClient over a FakeServer; `faults` lets a test break the next calls."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.calls: list[str] = []
        # name → list of exceptions (or None for "answer normally") consumed call by call
        self.faults: dict[str, list[Exception | None]] = {}
        self.before: dict[str, Callable[[], None]] = {}

    def _fault(self, name: str) -> None:
        self.calls.append(name)
        if name in self.before:
            self.before[name]()
        queue = self.faults.get(name)
        if queue:
            exc = queue.pop(0)
            if exc is not None:
                raise exc

    def changes(self, after: int, limit: int = 2000) -> ChangesPage:
        self._fault("changes")
        return self.server.changes(after, limit)

    def push_events(self, events: list[Event]) -> EventsResponse:
        self._fault("push_events")
        return self.server.push(events)

    def digest(self) -> Digest:
        self._fault("digest")
        return self.server.digest()

    def records(self, bucket: int) -> BucketRecords:
        self._fault("records")
        return self.server.records(bucket)

    # The fake server has no snapshot: the initial sync is the feed from 0.
    def prepare_snapshot(self) -> SnapshotInfo | None:
        return None

    def download_snapshot(
        self,
        info: SnapshotInfo,
        path: Path | str,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> bool:
        raise AssertionError("the fake server offers no snapshot")

    def discard_snapshot(self, snapshot_id: str) -> None:
        raise AssertionError("the fake server offers no snapshot")


class FakeCache:
    """The store's contract, in memory (one 'transaction' per call)."""

    def __init__(self) -> None:
        self._cursor = 0
        self.households: dict[str, dict[str, Any]] = {}
        self.operators: dict[str, dict[str, Any]] = {}
        self._policy = Policy()
        self._revoked_terminals: dict[str, bool] = {}
        self._last_pull: datetime | None = None
        self.outbox: dict[str, Event] = {}  # pending, in insertion order
        self.done: dict[str, EventResult] = {}
        self.rejected: dict[str, EventResult] = {}
        self.attempts: dict[str, int] = {}
        self.held_until: dict[str, datetime] = {}
        self.quarantined: dict[str, Event] = {}
        self.applied_pages = 0
        self.fail_apply_after: int | None = None
        self.path = ":memory:"

    def cursor(self) -> int:
        return self._cursor

    def begin_bulk_load(self) -> bool:
        return False  # the in-memory store has nothing to gain

    def bulk_loading(self) -> bool:
        return False

    def finish_bulk_load(self) -> None:
        pass

    def apply_changes(self, items: list[ChangeItem], next_after: int) -> None:
        if next_after < self._cursor:
            raise ValueError("cursor moving back")  # as the real store refuses it
        if self.fail_apply_after is not None and self.applied_pages >= self.fail_apply_after:
            raise OSError("disk full (simulated)")
        staged = dict(self.households)
        for item in items:
            if item.kind == "household":
                if item.deleted:
                    staged.pop(item.key, None)
                else:
                    parse_household(item.data)
                    staged[item.key] = copy.deepcopy(item.data)  # type: ignore[arg-type]
            elif item.kind == "operator":
                self.operators[item.key] = dict(item.data or {})
            elif item.kind == "policy":
                self._policy = Policy(**(item.data or {}))
            elif item.kind == "terminal":
                self._revoked_terminals[item.key] = bool(item.data and item.data.get("revoked"))
        self.households = staged
        self._cursor = next_after
        self.applied_pages += 1

    def reset_cursor(self, seq: int) -> None:
        self._cursor = seq

    def terminal_revoked(self, terminal_no: str) -> bool:
        return self._revoked_terminals.get(terminal_no, False)

    def mark_pull_complete(self, at: datetime) -> None:
        self._last_pull = at

    def last_complete_pull(self) -> datetime | None:
        return self._last_pull

    def policy(self) -> Policy:
        return self._policy

    def person(self, person_id: str) -> tuple[Any, str]:
        for hid, data in self.households.items():
            for m in data["members"]:
                if m["person_id"] == person_id:
                    return parse_household(data).member(person_id), hid
        raise KeyError(person_id)

    def outbox_add(self, event: Event) -> None:
        self.outbox[event.event_id] = event

    def outbox_pending(self, limit: int, now: datetime | None = None) -> list[Event]:
        due = [
            e
            for e in self.outbox.values()
            if now is None
            or e.event_id not in self.held_until
            or self.held_until[e.event_id] <= now
        ]
        return due[:limit]

    def outbox_failed(
        self,
        event_id: str,
        reason: str,
        retry_at: Callable[[int], datetime],
        quarantine_after: int,
    ) -> int:
        if event_id not in self.outbox:
            return 0
        n = self.attempts.get(event_id, 0) + 1
        self.attempts[event_id] = n
        if n >= quarantine_after:
            self.quarantined[event_id] = self.outbox.pop(event_id)
        else:
            self.held_until[event_id] = retry_at(n)
        return n

    def outbox_held_count(self) -> int:
        return len(self.rejected) + len(self.quarantined)

    def outbox_record_results(self, results: list[EventResult]) -> None:
        for r in results:
            if r.event_id not in self.outbox:
                continue
            del self.outbox[r.event_id]
            (self.rejected if r.status == "rejected" else self.done)[r.event_id] = r

    def outbox_count(self) -> int:
        return len(self.outbox)

    def outbox_total(self) -> int:
        return len(self.outbox) + len(self.rejected) + len(self.quarantined)

    def schema_version(self) -> int:
        return 0

    def adopt_snapshot(self, snapshot: str | os.PathLike[str], seq: int) -> None:
        raise AssertionError("the fake server offers no snapshot")

    def checkpoint(self) -> tuple[int, int] | None:
        return None  # nothing in memory to copy back

    def write_outbox_status(self) -> None:
        self.status_writes = getattr(self, "status_writes", 0) + 1

    def bucket_digest(self) -> Digest:
        pairs: list[list[tuple[str, int]]] = [[] for _ in range(DIGEST_BUCKETS)]
        for hid, data in self.households.items():
            pairs[bucket_of(hid)].append((hid, _household_version(data)))
        return Digest(bucket_count=DIGEST_BUCKETS, buckets=[bucket_digest(p) for p in pairs])

    def households_in_bucket(self, bucket: int) -> list[Any]:
        items = sorted(self.households.items())
        return [parse_household(d) for h, d in items if bucket_of(h) == bucket]

    def replace_bucket(self, bucket: int, households: list[Any]) -> None:
        for hid in [h for h in self.households if bucket_of(h) == bucket]:
            del self.households[hid]
        for data in households:
            self.households[data["household_id"]] = copy.deepcopy(data)
