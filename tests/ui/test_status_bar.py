"""The status bar's wording for the states a clerk meets (offscreen Qt)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.sync.freshness import freshness
from app.sync.protocol import Policy
from app.sync.results import SyncStatus
from ui.status_bar import CounterStatusBar

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _status(last_pull: datetime | None, online: bool | None = True) -> SyncStatus:
    return SyncStatus(
        online=online,
        last_sync_at=None,
        last_error=None,
        freshness=freshness(last_pull, Policy(), NOW),
        outbox_count=2,
        running=False,
    )


def test_age_and_what_the_clerk_may_do(qtbot) -> None:
    bar = CounterStatusBar()
    qtbot.addWidget(bar)
    bar.show_status(_status(None, online=None))
    # Before the first complete sync: say that issuing waits for it, not "expired".
    assert bar.age.text() == "データ未同期(初回同期が終わるまで交付できません)"
    assert bar.connection.text() == "● 接続確認中"
    bar.show_status(_status(NOW - timedelta(hours=30), online=False))
    assert bar.age.text().endswith("(古い: 交付は監督者承認)")
    assert bar.connection.text() == "● オフライン" and bar.outbox.text() == "未送信 2件"
    bar.show_status(_status(NOW - timedelta(days=20)))
    assert bar.age.text().endswith("(期限切れ: 検索のみ)")
    bar.show_status(_status(NOW - timedelta(minutes=5)))
    assert bar.age.text() == "データ: 5分前"


def test_progress_shows_counts_or_a_busy_bar(qtbot) -> None:
    bar = CounterStatusBar()
    qtbot.addWidget(bar)
    bar.show_progress(0, 0)  # the server preparing the snapshot
    assert bar.progress.maximum() == 0 and "準備" in bar.progress.toolTip()
    bar.show_progress(6_233, 89_278)
    assert bar.progress.format() == "同期中 6,233/89,278" and bar.progress.toolTip() == ""


def test_held_events_are_a_notice_for_the_supervisor(qtbot) -> None:
    """Issue 21 item 5: a quarantined or rejected event shows, the connection stays online."""
    bar = CounterStatusBar()
    qtbot.addWidget(bar)
    bar.show()
    bar.show_status(_status(NOW - timedelta(minutes=5)))
    assert not bar.held.isVisible()
    held = SyncStatus(
        online=True,
        last_sync_at=None,
        last_error=None,
        freshness=freshness(NOW - timedelta(minutes=5), Policy(), NOW),
        outbox_count=0,
        running=False,
        held_count=1,
    )
    bar.show_status(held)
    assert bar.held.isVisible() and "送信保留 1件" in bar.held.text()
    assert bar.connection.text() == "● オンライン"
