"""The engine's decisions, against in-memory fakes of the cache and the client.

Retries and backoff, page validation, batch splitting, rejected/conflict handling, revocations,
rewinds. The same behaviours against the real cache and the real HTTPS server are in
test_sync_faults.py.
"""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.sync.engine import SyncEngine
from app.sync.errors import MalformedAnswer, ServerFailed, ServerRejected, ServerUnreachable
from app.sync.protocol import ChangeItem, ChangesPage, Event
from app.sync.retry import RetryPolicy
from tests.sync.data import bumped, households
from tests.sync.fakes import FakeCache, FakeClient, FakeServer

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def unreachable() -> ServerUnreachable:
    return ServerUnreachable("サーバーに接続できません。")


def failed() -> ServerFailed:
    return ServerFailed(503)


def make(n_households: int = 30, **kw):  # type: ignore[no-untyped-def]
    server = FakeServer()
    for h in households(n_households):
        server.put("household", h["household_id"], h)
    client = FakeClient(server)
    cache = FakeCache()
    sleeps: list[float] = []
    kw.setdefault("page_limit", 7)
    kw.setdefault("initial_page_limit", 7)
    kw.setdefault("use_snapshot", False)  # the fake server has no snapshot to offer
    engine = SyncEngine(
        cache,
        client,
        terminal_no="0001",
        clock=lambda: NOW,
        sleep=sleeps.append,
        rng=random.Random(1),
        **kw,
    )
    return server, client, cache, engine, sleeps


def event(relied: dict[str, int] | None = None, issuance_no: str = "0001-20261126-0001") -> Event:
    return Event(
        event_id=str(uuid.uuid4()),
        type="certificate_issued",
        occurred_at=NOW,
        operator_id="op1",
        terminal_no="0001",
        relied_versions=relied or {},
        payload={"issuance_no": issuance_no},
    )


# -- pull -----------------------------------------------------------------------------------


def test_initial_pull_pages_to_the_head_and_marks_complete() -> None:
    server, _, cache, engine, _ = make(30)
    seen: list[tuple[int, int]] = []
    result = engine.pull(progress=lambda d, t: seen.append((d, t)))
    assert result.complete and result.error is None
    assert result.pages == 5 and result.items == 30  # 7 per page
    assert cache.cursor() == server.seq == 30
    assert cache.households == server.households
    assert cache.last_complete_pull() == NOW
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (30, 30)
    assert all(t == 30 for _, t in seen)


def test_delta_pull_after_changes_brings_only_the_new_items() -> None:
    server, _, cache, engine, _ = make(10)
    engine.pull()
    changed = bumped(server.households["H0000003"])
    server.put("household", "H0000003", changed)
    server.put("household", "H0000004", None, deleted=True)
    result = engine.pull()
    assert result.items == 2 and result.complete
    assert cache.households == server.households
    assert "H0000004" not in cache.households


def test_network_errors_are_retried_with_bounded_exponential_backoff() -> None:
    server, client, cache, engine, sleeps = make(
        10, retry=RetryPolicy(attempts=4, base_seconds=1.0, cap_seconds=3.0)
    )
    client.faults["changes"] = [None, unreachable(), failed(), MalformedAnswer("x")]
    result = engine.pull()
    assert result.complete and result.retries == 3
    # uniform(0, min(cap, base·2^(n-1))): ceilings 1, 2, 3 (capped)
    assert len(sleeps) == 3
    assert all(0 <= s <= c for s, c in zip(sleeps, [1.0, 2.0, 3.0], strict=True))
    assert cache.households == server.households


def test_pull_gives_up_after_the_bounded_tries_and_resumes_later() -> None:
    server, client, cache, engine, sleeps = make(30, retry=RetryPolicy(attempts=3))
    client.faults["changes"] = [None, None, unreachable(), unreachable(), unreachable()]
    result = engine.pull()
    assert not result.complete and isinstance(result.error, ServerUnreachable)
    assert cache.cursor() == 14 and len(sleeps) == 2  # two pages applied, then three failures
    assert cache.last_complete_pull() is None
    again = engine.pull()
    assert again.start_cursor == 14 and again.complete
    assert cache.households == server.households


def test_rejected_request_is_not_retried() -> None:
    _, client, _, engine, sleeps = make(5)
    client.faults["changes"] = [ServerRejected(401, "session_invalid", "ログインしてください。")]
    result = engine.pull()
    assert isinstance(result.error, ServerRejected) and sleeps == [] and not result.terminal_revoked


def test_cancel_stops_between_pages_and_keeps_what_was_applied() -> None:
    server, _, cache, engine, _ = make(30)
    stop = threading.Event()
    result = engine.pull(progress=lambda d, t: stop.set() if d >= 14 else None, cancel=stop)
    assert result.cancelled and not result.complete and cache.cursor() == 14
    assert engine.pull().complete and cache.households == server.households


def test_a_page_that_goes_backwards_is_not_applied() -> None:
    server, client, cache, _, _ = make(5)
    item = server.feed[("household", "H0000001")]
    bad = ChangesPage(items=[item, item], next_after=5, has_more=False, latest_seq=5)
    client.faults["changes"] = []
    client.server.changes = lambda after, limit: bad  # type: ignore[method-assign]
    result = SyncEngine(cache, client, retry=RetryPolicy(attempts=1)).pull()
    assert isinstance(result.error, MalformedAnswer) and cache.cursor() == 0
    assert cache.applied_pages == 0


def test_a_page_without_progress_does_not_loop() -> None:
    _, client, cache, _, _ = make(5)
    stuck = ChangesPage(items=[], next_after=0, has_more=True, latest_seq=5)
    client.server.changes = lambda after, limit: stuck  # type: ignore[method-assign]
    result = SyncEngine(cache, client, retry=RetryPolicy(attempts=2), sleep=lambda s: None).pull()
    assert isinstance(result.error, MalformedAnswer)


def test_cache_failure_propagates_and_cursor_stays() -> None:
    server, _, cache, engine, _ = make(30)
    cache.fail_apply_after = 2
    with pytest.raises(OSError):
        engine.pull()
    assert cache.cursor() == 14
    cache.fail_apply_after = None
    assert engine.pull().complete and cache.households == server.households


def test_operator_and_terminal_changes_are_reported() -> None:
    server, client, cache, engine, _ = make(3)
    engine.pull()
    profile = {"operator_id": "op2", "display_name": "x", "roles": ["clerk"], "branch": "端野"}
    server.put("operator", "op2", {**profile, "active": False})
    server.put("operator", "op3", None, deleted=True)
    server.put("terminal", "0002", {"revoked": True})  # another terminal: not us
    server.put("policy", "policy", {"max_staleness_hours": 12})
    result = engine.pull()
    assert result.revoked_operators == ["op2", "op3"]
    assert result.policy_changed and not result.terminal_revoked
    report = engine.sync_once()
    assert report.terminal_action == "none"
    server.put("terminal", "0001", {"revoked": True})
    cache.outbox_add(event())
    client.faults["push_events"] = [ServerRejected(403, "x", "y")]  # cannot push anymore
    report = engine.sync_once()
    assert report.terminal_action == "lock"  # outbox not empty: keep, do not wipe
    assert cache.outbox_count() == 1


def test_revoked_terminal_refused_by_the_server_means_wipe_when_outbox_is_empty() -> None:
    _, client, _, engine, _ = make(3)
    revoked = ServerRejected(403, "terminal_revoked", "この端末は登録を取り消されています。")
    client.faults["push_events"] = []
    client.faults["changes"] = [revoked]
    report = engine.sync_once()
    assert report.terminal_action == "wipe" and report.online
    assert "取り消" in report.message


def test_server_restored_from_an_older_backup_rewinds_and_repairs() -> None:
    server, _, cache, engine, _ = make(20)
    engine.pull()
    # The server loses its last 5 changes (restore) and then gets new ones.
    for key in [k for k, i in server.feed.items() if i.seq > 15]:
        del server.feed[key]
        server.households.pop(key[1])
    server.seq = 15
    report = engine.sync_once()
    assert report.pull is not None and report.pull.server_rewound
    assert cache.cursor() == 15
    assert report.repair is not None and len(report.repair.repaired) >= 1
    assert cache.households == server.households
    server.put("household", "H0000099", households(1, start=99)[0])
    assert engine.pull().items == 1 and cache.households == server.households


# -- push -----------------------------------------------------------------------------------


def test_push_sends_batches_and_empties_the_outbox() -> None:
    server, _, cache, engine, _ = make(3, batch_size=4)
    events = [event() for _ in range(10)]
    for e in events:
        cache.outbox_add(e)
    result = engine.push()
    assert result.batches == 3 and result.accepted == 10 and result.remaining == 0
    assert sorted(server.events) == sorted(e.event_id for e in events)


def test_the_same_batch_twice_comes_back_duplicate_and_nothing_is_doubled() -> None:
    server, client, cache, engine, _ = make(3)
    e = event()
    cache.outbox_add(e)
    # The server applies the batch but the answer is lost on the way back.
    real = client.server.push

    def lost_answer(events: list[Event]):  # type: ignore[no-untyped-def]
        real(events)
        client.server.push = real  # type: ignore[method-assign]
        raise unreachable()

    client.server.push = lost_answer  # type: ignore[method-assign]
    result = engine.push()
    assert result.duplicate == 1 and result.retries == 1 and result.remaining == 0
    assert server.event_log == [e.event_id, e.event_id] and len(server.events) == 1


def test_rejected_events_are_kept_and_do_not_block_the_queue() -> None:
    server, _, cache, engine, _ = make(3, batch_size=2)
    events = [event() for _ in range(5)]
    server.reject = {events[0].event_id, events[3].event_id}
    for e in events:
        cache.outbox_add(e)
    result = engine.push()
    assert result.accepted == 3 and len(result.rejected) == 2
    assert set(cache.rejected) == {events[0].event_id, events[3].event_id}
    assert result.remaining == 0 and cache.rejected[events[0].event_id].reason


def test_a_batch_refused_as_a_whole_is_split_to_find_the_bad_event() -> None:
    server, _, cache, engine, _ = make(3)
    events = [event() for _ in range(9)]
    server.refuse_batch_with = {events[5].event_id}
    for e in events:
        cache.outbox_add(e)
    result = engine.push()
    assert result.accepted == 8 and [r.event_id for r in result.rejected] == [events[5].event_id]
    assert cache.rejected[events[5].event_id].reason == "送信データが正しくありません。"
    assert result.remaining == 0 and events[5].event_id not in server.events


def test_push_offline_keeps_everything_and_reports_offline() -> None:
    _, client, cache, engine, sleeps = make(3, retry=RetryPolicy(attempts=3))
    for _ in range(3):
        cache.outbox_add(event())
    client.faults["push_events"] = [unreachable()] * 3
    report = engine.sync_once()
    assert not report.online and report.pull is None
    assert report.outbox_count == 3 and len(sleeps) == 2
    assert engine.status(NOW).online is False and engine.status(NOW).outbox_count == 3
    assert engine.sync_once().online and cache.outbox_count() == 0


def test_conflict_becomes_a_notice_with_the_changed_persons() -> None:
    server, _, cache, engine, _ = make(3)
    engine.pull()
    # Issued from the cache at version 1, while the server already changed the household.
    e = event(relied={"P0000010": 1, "P0000011": 1}, issuance_no="0001-20261126-0007")
    cache.outbox_add(e)
    server.put("household", "H0000001", bumped(server.households["H0000001"]))
    report = engine.sync_once()
    assert report.push.accepted == 0 and len(report.notices) == 1
    notice = report.notices[0]
    assert notice.issuance_no == "0001-20261126-0007" and notice.event_id == e.event_id
    assert [(c.person_id, c.relied_version, c.current_version) for c in notice.changed] == [
        ("P0000010", 1, 2),
        ("P0000011", 1, 2),
    ]
    assert "0001-20261126-0007" in notice.text and "本庁" in notice.text
    assert "試験" not in notice.text  # ids only, no names


# -- anti-entropy ---------------------------------------------------------------------------


def test_anti_entropy_finds_and_repairs_differing_buckets() -> None:
    server, _, cache, engine, _ = make(40)
    engine.pull()
    assert engine.anti_entropy().differing == []
    # Corrupt the cache behind the engine's back: one lost, one stale, one extra household.
    cache.households.pop("H0000005")
    server.households["H0000006"] = bumped(server.households["H0000006"])  # missed change
    cache.households["H0000777"] = households(1, start=777)[0]
    result = engine.anti_entropy()
    assert len(result.differing) in (1, 2, 3)
    assert result.repaired == result.differing
    assert result.still_differing == []
    assert cache.households == server.households
    assert cache.bucket_digest() == server.digest()


def test_sync_once_runs_anti_entropy_every_nth_round() -> None:
    _, _, _, engine, _ = make(5, anti_entropy_every=3)
    reports = [engine.sync_once() for _ in range(6)]
    assert [r.repair is not None for r in reports] == [False, False, True, False, False, True]
    assert engine.sync_once(anti_entropy=True).repair is not None


def test_status_and_freshness_for_the_status_bar() -> None:
    _, _, _, engine, _ = make(3)
    status = engine.status(NOW)
    assert status.online is None and status.freshness.state.value == "expired"
    engine.sync_once()
    later = engine.status(NOW + timedelta(hours=30))
    assert later.online and later.freshness.needs_approval and later.outbox_count == 0


def test_items_passed_to_the_cache_are_the_servers() -> None:
    _, _, cache, engine, _ = make(2)
    applied: list[list[ChangeItem]] = []
    real = cache.apply_changes
    cache.apply_changes = lambda items, n: (applied.append(items), real(items, n))  # type: ignore[method-assign]
    engine.pull()
    assert [i.key for page in applied for i in page] == ["H0000001", "H0000002"]
