"""The offline policy at its boundaries (DESIGN.md §5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sync.freshness import Freshness, FreshnessState, format_age, freshness
from app.sync.protocol import Policy

PULL = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
POLICY = Policy(max_staleness_hours=24, hard_limit_days=14)
TICK = timedelta(microseconds=1)


def at(delta: timedelta) -> Freshness:
    return freshness(PULL, POLICY, PULL + delta)


def test_fresh_up_to_and_including_max_staleness() -> None:
    assert at(timedelta(0)).state is FreshnessState.FRESH
    f = at(timedelta(hours=24))
    assert f.state is FreshnessState.FRESH and f.can_issue and not f.needs_approval
    assert f.age == timedelta(hours=24)


def test_stale_just_past_max_staleness_until_the_hard_limit() -> None:
    f = at(timedelta(hours=24) + TICK)
    assert f.state is FreshnessState.STALE and f.can_issue and f.needs_approval
    assert at(timedelta(days=14)).state is FreshnessState.STALE
    assert "監督者の承認" in at(timedelta(days=3)).message


def test_expired_past_the_hard_limit_search_only() -> None:
    f = at(timedelta(days=14) + TICK)
    assert f.state is FreshnessState.EXPIRED
    assert not f.can_issue and f.can_search
    assert f.expires_at is None
    assert "検索のみ" in f.message


def test_never_synced_is_expired() -> None:
    f = freshness(None, POLICY, PULL)
    assert f.state is FreshnessState.EXPIRED and f.age is None
    assert "一度も" in f.message


def test_policy_from_the_feed_sets_the_thresholds() -> None:
    strict = Policy(max_staleness_hours=2, hard_limit_days=1)
    assert freshness(PULL, strict, PULL + timedelta(hours=2)).state is FreshnessState.FRESH
    assert freshness(PULL, strict, PULL + timedelta(hours=3)).state is FreshnessState.STALE
    assert freshness(PULL, strict, PULL + timedelta(hours=25)).state is FreshnessState.EXPIRED


def test_clock_set_back_does_not_extend_issuance() -> None:
    assert at(-timedelta(minutes=4)).state is FreshnessState.FRESH  # ordinary skew tolerated
    f = at(-timedelta(days=2))
    assert f.state is FreshnessState.EXPIRED and f.clock_behind
    assert "時計" in f.message


def test_timezones_compare_as_instants_and_naive_is_refused() -> None:
    jst = timezone(timedelta(hours=9))
    now_jst = (PULL + timedelta(hours=25)).astimezone(jst)
    assert freshness(PULL, POLICY, now_jst).state is FreshnessState.STALE
    with pytest.raises(ValueError):
        freshness(PULL, POLICY, datetime(2026, 11, 21, 9, 0))


def test_format_age() -> None:
    assert format_age(timedelta(minutes=3, seconds=59)) == "3分"
    assert format_age(timedelta(hours=5)) == "5時間"
    assert format_age(timedelta(hours=5, minutes=7)) == "5時間7分"
    assert format_age(timedelta(days=2, hours=4)) == "2日4時間"
    assert format_age(timedelta(days=2)) == "2日"


@settings(max_examples=60, deadline=None)
@given(
    seconds=st.integers(min_value=0, max_value=40 * 86400),
    hours=st.integers(min_value=1, max_value=72),
    days=st.integers(min_value=1, max_value=30),
)
def test_states_are_monotonic_in_age(seconds: int, hours: int, days: int) -> None:
    policy = Policy(max_staleness_hours=hours, hard_limit_days=days)
    order = [FreshnessState.FRESH, FreshnessState.STALE, FreshnessState.EXPIRED]
    a = freshness(PULL, policy, PULL + timedelta(seconds=seconds))
    b = freshness(PULL, policy, PULL + timedelta(seconds=seconds + 3600))
    assert order.index(a.state) <= order.index(b.state)
    assert (a.state is FreshnessState.FRESH) == (seconds <= hours * 3600)
