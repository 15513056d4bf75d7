"""The sync engine (DESIGN.md §5): pull the change feed, push the outbox, repair by digest.

    engine = SyncEngine(cache, client, terminal_no="0001")
    report = engine.sync_once(progress=cb, cancel=event)     # push, pull (+ anti-entropy)

Guarantees, and where they come from:
- Pull resumes after any interruption: every page is applied together with the new cursor in
  ONE cache transaction (`cache.apply_changes(items, next_after)`); the next pull starts from
  `cache.cursor()`. The feed carries full states, so re-applying a page is harmless.
- The initial sync takes the server's snapshot when it has one (app/sync/bootstrap.py, docs/sync.md
  "Snapshot"): a resumable download checked by SHA-256, taken as the cache in one step
  (`cache.adopt_snapshot`), then the feed from the snapshot's seq. Otherwise, or when the
  snapshot cannot be used, the feed from 0 in bulk mode.
- Push never loses or duplicates an event, and one event never blocks the outbox
  (app/sync/push.py, the push half of this class: retries, splitting a refused batch, holding
  back and quarantining an event the server keeps failing on).
- Anti-entropy compares `client.digest()` with `cache.bucket_digest()` and replaces the
  differing buckets from `client.records(k)`. A server restored from an older backup (its
  `latest_seq` is below our cursor) is detected: the cursor moves back to the server's head
  and anti-entropy runs at once, so the cache becomes equal to the server again.
- Operator, policy and terminal changes arrive through the feed and the cache applies them; the
  engine reports revoked operators (the caller deletes their key slots) and a revoked terminal
  (`terminal_action`: "wipe" when the outbox is empty, else "lock": a revoked terminal can no
  longer push, so its database is kept, not opened, and the administrator is told).

Threading: one engine per cache; every public method takes the engine's lock, so a GUI timer
and a "sync now" button cannot run two syncs at once. Run it off the GUI thread.
Logging: ids, seqs and counts only — never names or numbers of residents.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import TypeVar

from app.domain.errors import ValidationError
from app.domain.records import parse_household
from app.sync.bootstrap import Progress, bootstrap
from app.sync.errors import MalformedAnswer, ServerFailed, ServerRejected, ServerUnreachable
from app.sync.freshness import Freshness, freshness
from app.sync.notices import conflict_notice
from app.sync.ports import SyncCache, SyncClientLike
from app.sync.protocol import (
    DEFAULT_PAGE_LIMIT,
    DIGEST_BUCKETS,
    MAX_EVENTS_PER_BATCH,
    BucketRecords,
    ChangeItem,
    ChangesPage,
    Digest,
    Policy,
    bucket_digest,
    bucket_of,
)
from app.sync.push import PushMixin, is_revocation
from app.sync.results import PullResult, PushResult, RepairResult, SyncReport, SyncStatus
from app.sync.retry import (
    DEFAULT_EVENT_BACKOFF,
    DEFAULT_RETRY,
    Cancel,
    EventBackoff,
    Retrier,
    RetryCounter,
    RetryPolicy,
    SyncCancelled,
    is_cancelled,
)

log = logging.getLogger("madoguchi.sync")

T = TypeVar("T")

# Pages of the feed after the initial sync: small, because each page is applied in one cache
# transaction that makes the counter's searches wait (see _pull).
DELTA_PAGE_LIMIT = 250
# Pages of the initial sync: the server's default. Each page of the bulk load is one commit
# (two syncs to disk), so fewer pages are faster; the GUI stall they once caused came from the
# garbage collector walking the records, which it no longer tracks (app.domain.records).
# benchmarks/bench_sync.py at 100,000 persons, gc frozen as the GUI does, three runs each:
# pages of 2000 synced in 19.3–26.3 s (median 19.8) with stalls of 16–20 ms, pages of 250 in
# 23.3–24.3 s with 14–28 ms.
INITIAL_PAGE_LIMIT = DEFAULT_PAGE_LIMIT


__all__ = [
    "Cancel",
    "Progress",
    "PullResult",
    "PushResult",
    "RepairResult",
    "RetryPolicy",
    "SyncCache",
    "SyncClientLike",
    "SyncEngine",
    "SyncReport",
    "SyncStatus",
]


class SyncEngine(PushMixin):
    def __init__(
        self,
        cache: SyncCache,
        client: SyncClientLike,
        *,
        terminal_no: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        page_limit: int = DELTA_PAGE_LIMIT,
        initial_page_limit: int = INITIAL_PAGE_LIMIT,
        batch_size: int = MAX_EVENTS_PER_BATCH,
        retry: RetryPolicy = DEFAULT_RETRY,
        event_backoff: EventBackoff = DEFAULT_EVENT_BACKOFF,
        anti_entropy_every: int = 12,
        prefetch: bool = True,
        use_snapshot: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_EVENTS_PER_BATCH:
            raise ValueError("batch_size out of range")
        self.cache = cache
        self.client = client
        self.terminal_no = terminal_no
        self.clock = clock
        self.page_limit = page_limit
        self.initial_page_limit = initial_page_limit
        self._limit = page_limit
        self.batch_size = batch_size
        self.anti_entropy_every = max(1, anti_entropy_every)
        self.prefetch = prefetch
        self.use_snapshot = use_snapshot
        self._retrier = Retrier(retry, sleep=sleep, rng=rng)
        self.event_backoff = event_backoff
        self._lock = threading.RLock()
        self._runs = 0
        self._store_rule_ok: bool | None = None
        # (last complete pull, policy, outbox length, held) as last read, for snapshot()
        self._known: tuple[datetime | None, Policy, int, int] = (None, Policy(), 0, 0)
        self._running = False
        self._online: bool | None = None
        self._last_sync_at: datetime | None = None
        self._last_error: str | None = None

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def retry(self) -> RetryPolicy:
        return self._retrier.policy

    @retry.setter
    def retry(self, policy: RetryPolicy) -> None:
        self._retrier.policy = policy

    def _call(
        self, what: str, fn: Callable[[], T], cancel: Cancel | None, counter: RetryCounter
    ) -> T:
        return self._retrier.call(what, fn, cancel, counter)

    def _current_version(self, person_id: str) -> int | None:
        try:
            person, _ = self.cache.person(person_id)
        except Exception:  # not in the cache (any store error type): version unknown
            return None
        return person.version

    # -- pull ---------------------------------------------------------------------------------

    def pull(self, progress: Progress | None = None, cancel: Cancel | None = None) -> PullResult:
        """Apply the change feed from the cache's cursor to the server's head, page by page."""
        with self._lock:
            start = self.cache.cursor()
            result = PullResult(start_cursor=start, cursor=start)
            try:
                self._pull(result, progress, cancel)
            except SyncCancelled:
                result.cancelled = True
            except ServerRejected as exc:
                result.error = exc
                result.terminal_revoked = is_revocation(exc)
            except (ServerUnreachable, ServerFailed, MalformedAnswer) as exc:
                result.error = exc
            log.info(
                "sync pull: %d→%d, %d items in %d pages, complete=%s",
                result.start_cursor,
                result.cursor,
                result.items,
                result.pages,
                result.complete,
            )
            return result

    def _fetch(self, after: int, cancel: Cancel | None, result: PullResult) -> ChangesPage:
        return self._call(
            "changes", lambda: self.client.changes(after, self._limit), cancel, result
        )

    def _prefetch(
        self, after: int, cancel: Cancel | None, result: PullResult
    ) -> Future[ChangesPage]:
        """Fetch the next page in a helper thread while this one is prepared and written.

        Only one request is ever in flight and pages are applied strictly in order; a page
        fetched for nothing (error, cancel) is simply dropped — the feed is read-only.
        The helper only waits for the server and decodes the answer: preparing the rows there
        too was slower, as two threads holding the GIL in turn slow each other down
        (benchmarks/bench_sync.py measured 15.1 s against 11.7 s at 50,000 persons).
        """
        future: Future[ChangesPage] = Future()

        def run() -> None:
            try:
                future.set_result(self._fetch(after, cancel, result))
            except BaseException as exc:  # handed to the pulling thread
                future.set_exception(exc)

        threading.Thread(target=run, name="madoguchi-sync-prefetch", daemon=True).start()
        return future

    def _pull(self, result: PullResult, progress: Progress | None, cancel: Cancel | None) -> None:
        after = result.start_cursor
        # Big pages while the cache is far behind (initial sync: nobody searches an empty
        # cache), small ones otherwise: each page holds the cache's lock while it is applied,
        # and the counter's searches wait for it.
        behind = after == 0 or self.cache.last_complete_pull() is None
        self._limit = self.initial_page_limit if behind else self.page_limit
        if (
            after == 0
            and self.use_snapshot
            and bootstrap(self.cache, self.client, self._retrier, result, progress, cancel)
        ):
            after = result.cursor
        if after == 0:
            # An empty cache loads in bulk: appended pages, indexes built once at the end.
            self.cache.begin_bulk_load()
        page = self._fetch(after, cancel, result)
        while True:
            result.latest_seq = page.latest_seq
            if page.latest_seq < after and not page.items:
                # The server is behind what we already applied: it was restored from an older
                # backup. Move our cursor back to its head (its next changes reuse those seqs)
                # and let anti-entropy make the cache equal to it.
                log.warning("sync pull: server head %d below cursor %d", page.latest_seq, after)
                self.cache.reset_cursor(page.latest_seq)
                result.server_rewound = True
                after = result.cursor = page.latest_seq
                page = self._fetch(after, cancel, result)
                continue
            self._check_page(page, after)
            upcoming = (
                self._prefetch(page.next_after, cancel, result)
                if page.has_more and self.prefetch
                else None
            )
            self.cache.apply_changes(page.items, page.next_after)
            result.pages += 1
            result.items += len(page.items)
            result.cursor = page.next_after
            self._note_control_items(page.items, result)
            if progress is not None:
                done = page.next_after - result.start_cursor
                total = max(page.latest_seq - result.start_cursor, done)
                progress(done, total)
            if not page.has_more:
                if self.cache.bulk_loading():
                    log.info("sync pull: building the indexes of the initial sync")
                    if progress is not None:
                        progress(result.cursor - result.start_cursor, 0)  # length unknown
                    self.cache.finish_bulk_load()
                self.cache.mark_pull_complete(self.clock())
                result.complete = True
                return
            after = page.next_after
            if is_cancelled(cancel):
                raise SyncCancelled
            page = upcoming.result() if upcoming is not None else self._fetch(after, cancel, result)

    @staticmethod
    def _check_page(page: ChangesPage, after: int) -> None:
        """A page that would move the cursor backwards or loop forever is not applied."""
        last = after
        for item in page.items:
            if item.seq <= last:
                raise MalformedAnswer("変更一覧の順序が正しくありません。")
            last = item.seq
        if page.next_after < last or (page.has_more and page.next_after <= after):
            raise MalformedAnswer("変更一覧の続きの位置が正しくありません。")

    def _note_control_items(self, items: Sequence[ChangeItem], result: PullResult) -> None:
        for item in items:
            if item.kind == "operator":
                active = bool(item.data.get("active", True)) if item.data else False
                if item.deleted or not active:
                    if item.key not in result.revoked_operators:
                        result.revoked_operators.append(item.key)
                elif item.key in result.revoked_operators:  # re-activated later in the feed
                    result.revoked_operators.remove(item.key)
            elif item.kind == "policy":
                result.policy_changed = True
            elif item.kind == "terminal" and item.key == self.terminal_no:
                # Only our own item: the feed carries every terminal's (without terminal_no
                # the 403 on the next request is what tells us).
                result.terminal_revoked = bool(item.data and item.data.get("revoked"))

    # -- anti-entropy -------------------------------------------------------------------------

    def anti_entropy(self, cancel: Cancel | None = None) -> RepairResult:
        """Compare bucket digests with the server's; re-fetch and replace the differing buckets."""
        with self._lock:
            result = RepairResult()
            try:
                self._anti_entropy(result, cancel)
            except SyncCancelled:
                result.cancelled = True
            except (ServerRejected, ServerUnreachable, ServerFailed, MalformedAnswer) as exc:
                result.error = exc
            log.info(
                "sync anti-entropy: %d differ, %d repaired (%d households), %d still differ",
                len(result.differing),
                len(result.repaired),
                result.households_replaced,
                len(result.still_differing),
            )
            return result

    def _anti_entropy(self, result: RepairResult, cancel: Cancel | None) -> None:
        remote: Digest = self._call("digest", self.client.digest, cancel, result)
        local = self.local_digest()
        if remote.bucket_count != DIGEST_BUCKETS or len(remote.buckets) != remote.bucket_count:
            raise MalformedAnswer("ダイジェストの形式が正しくありません。")
        result.buckets_checked = remote.bucket_count
        result.differing = [
            k for k in range(remote.bucket_count) if remote.buckets[k] != local.buckets[k]
        ]
        for k in result.differing:
            if is_cancelled(cancel):
                raise SyncCancelled
            records: BucketRecords = self._call(
                "records", functools.partial(self.client.records, k), cancel, result
            )
            if records.bucket != k:
                raise MalformedAnswer("ダイジェストの区分が正しくありません。")
            pairs = []
            for data in records.households:
                try:
                    household = parse_household(data)
                except ValidationError as exc:
                    raise MalformedAnswer("サーバーの世帯データが正しくありません。") from exc
                if bucket_of(household.household_id) != k:
                    raise MalformedAnswer("ダイジェストの区分が正しくありません。")
                pairs.append((household.household_id, household.version))
            self.cache.replace_bucket(k, records.households)
            result.repaired.append(k)
            result.households_replaced += len(records.households)
            if bucket_digest(pairs) != remote.buckets[k]:
                # The server changed this bucket after its digest: the feed or the next round
                # brings it; not an error.
                result.still_differing.append(k)
        if result.differing:
            after = self.local_digest()
            for k in result.repaired:
                if k not in result.still_differing and after.buckets[k] != remote.buckets[k]:
                    result.still_differing.append(k)

    def local_digest(self) -> Digest:
        """The cache's digest by the protocol's rule (`protocol.bucket_digest`, the server's).

        Uses `cache.bucket_digest()` when it follows that rule (checked once, on one non-empty
        bucket); otherwise recomputes from `cache.households_in_bucket(k)` — slower, but a
        difference in hashing between the two sides must not look like 256 differing buckets
        on every round.
        """
        digest = self.cache.bucket_digest()
        if self._store_rule_ok is None:
            empty = bucket_digest([])
            sample = next((k for k, h in enumerate(digest.buckets) if h != empty), None)
            if sample is None:
                return digest  # nothing to tell the rules apart yet
            self._store_rule_ok = self._bucket_hash(sample) == digest.buckets[sample]
            if not self._store_rule_ok:
                log.warning("sync: cache digest rule differs from the protocol's; recomputing")
        if self._store_rule_ok:
            return digest
        return Digest(
            bucket_count=DIGEST_BUCKETS,
            buckets=[self._bucket_hash(k) for k in range(DIGEST_BUCKETS)],
        )

    def _bucket_hash(self, k: int) -> str:
        households = self.cache.households_in_bucket(k)
        return bucket_digest((h.household_id, h.version) for h in households)

    # -- the whole round ----------------------------------------------------------------------

    def sync_once(
        self,
        *,
        anti_entropy: bool | None = None,
        progress: Progress | None = None,
        cancel: Cancel | None = None,
    ) -> SyncReport:
        """Push, then pull, then (every Nth round, on request, or after a rewind) anti-entropy.

        Never raises for network or server trouble: the report says what happened.
        """
        with self._lock:
            self._running = True
            try:
                return self._sync_once(anti_entropy, progress, cancel)
            finally:
                self._running = False

    def _sync_once(
        self, anti_entropy: bool | None, progress: Progress | None, cancel: Cancel | None
    ) -> SyncReport:
        started = self.clock()
        self._runs += 1
        push = self.push(cancel)
        pull: PullResult | None = None
        repair: RepairResult | None = None
        offline = isinstance(push.error, ServerUnreachable | ServerFailed)
        if not offline and not push.terminal_revoked and not push.cancelled:
            pull = self.pull(progress, cancel)
            wanted = (
                anti_entropy
                if anti_entropy is not None
                else self._runs % self.anti_entropy_every == 0
            )
            if pull.complete and (wanted or pull.server_rewound):
                repair = self.anti_entropy(cancel)
        # The pages applied above are in the cache's write-ahead log; copy them back into the
        # file now, in this background operation and off the cache's lock.
        self.cache.checkpoint()
        # The uninstaller's count (app/store/outbox_status.py), fresh after every round.
        self.cache.write_outbox_status()
        errors = [p.error for p in (push, pull, repair) if p is not None and p.error is not None]
        online = not any(isinstance(e, ServerUnreachable | ServerFailed) for e in errors)
        # From this round (our own feed item, or the server's 403), not from the cache's flag.
        # A revoked terminal is refused (403 terminal_revoked) on every later request, so a
        # crash between this report and the caller's wipe is detected again next time.
        revoked_terminal = push.terminal_revoked or bool(pull and pull.terminal_revoked)
        outbox = self.cache.outbox_count()
        action = "none"
        if revoked_terminal:
            # Rejected events count too: they are kept for a person to look at, so a cache
            # holding any is never deleted (app.store.db.wipe refuses it as well).
            total = self.cache.outbox_total()
            action = "wipe" if total == 0 else "lock"
            log.warning("sync: terminal revoked, action=%s, outbox=%d", action, total)
        # Notices now, after the pull, so they show the versions that caused the conflict.
        notices = [conflict_notice(e, r, self._current_version) for e, r in push.conflicts]
        finished = self.clock()
        self._online = online
        self._last_sync_at = finished
        self._last_error = next(
            (getattr(e, "message", None) or type(e).__name__ for e in errors), None
        )
        fresh = self.freshness(finished)
        self._known = (
            fresh.last_complete_pull,
            self.cache.policy(),
            outbox,
            self.cache.outbox_held_count(),
        )
        return SyncReport(
            started_at=started,
            finished_at=finished,
            push=push,
            pull=pull,
            repair=repair,
            online=online,
            outbox_count=outbox,
            freshness=fresh,
            revoked_operators=list(pull.revoked_operators) if pull else [],
            terminal_action=action,
            notices=notices,
        )

    # -- status -------------------------------------------------------------------------------

    def freshness(self, now: datetime | None = None) -> Freshness:
        return freshness(self.cache.last_complete_pull(), self.cache.policy(), now or self.clock())

    def status(self, now: datetime | None = None) -> SyncStatus:
        """Fresh status read from the cache. The cache is locked while a page is applied, so
        this may wait a moment: call it from a background operation, not from a GUI timer."""
        self._known = (
            self.cache.last_complete_pull(),
            self.cache.policy(),
            self.cache.outbox_count(),
            self.cache.outbox_held_count(),
        )
        return self.snapshot(now)

    def snapshot(self, now: datetime | None = None) -> SyncStatus:
        """Status from what the engine last saw; never touches the cache: safe on the GUI
        thread at any time (outbox length as of the last sync/status())."""
        last_pull, policy, outbox, held = self._known
        return SyncStatus(
            online=self._online,
            last_sync_at=self._last_sync_at,
            last_error=self._last_error,
            freshness=freshness(last_pull, policy, now or self.clock()),
            outbox_count=outbox,
            running=self._running,
            held_count=held,
        )
