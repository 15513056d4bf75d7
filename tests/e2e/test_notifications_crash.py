"""Filing a 住民異動届 offline, and a SIGKILL between filing and delivery (issue 20): the 届出,
its outbox event and its audit entry are one fact in the SQLCipher cache, durable when filing
returns, delivered exactly once when the server is back; a kill inside the filing's
transaction leaves nothing half filed. The child is a real counter process
(tests/e2e/child_notification.py), killed at a marker line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from server import notifications
from tests.e2e import notification_helpers as N
from tests.e2e.conftest import PASSWORDS
from tests.support.crash import kill_at_marker

ROOT = Path(__file__).resolve().parents[2]


def _prepare(counter) -> str:  # type: ignore[no-untyped-def]
    """An online login first (it creates the clerk's key slot), a household to move; then the
    server goes down."""
    session = N.login_service(counter.terminal_dir).login("clerk01", PASSWORDS["clerk01"])
    try:
        assert session.sync_once().error is None
        household_id = N.plain_household(session).household_id
    finally:
        session.logout()
    counter.server.stop()
    return household_id


def _child(counter, mode: str, household_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.child_notification", mode],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdin is not None
    config = {
        "terminal_dir": str(counter.terminal_dir),
        "operator": "clerk01",
        "password": PASSWORDS["clerk01"],
        "household_id": household_id,
    }
    proc.stdin.write(json.dumps(config) + "\n")
    proc.stdin.flush()
    marker = "filed" if mode == "after-commit" else "recording"
    seen = kill_at_marker(proc, marker)
    assert proc.returncode == -9, seen
    assert "online False" in seen, seen  # it filed offline
    return seen


def test_filed_offline_and_killed_before_delivery_is_delivered_once(counter) -> None:
    household_id = _prepare(counter)
    seen = _child(counter, "after-commit", household_id)
    nid = next(s.split()[1] for s in seen if s.startswith("filed"))

    # The next start of the terminal: the 届出 is there, with its event and its audit entry.
    session = N.login_service(counter.terminal_dir).login("clerk01", PASSWORDS["clerk01"])
    try:
        assert not session.online_at_login
        [kept] = session.notifications_filed()
        assert (kept.notification_id, kept.state, kept.delivery) == (nid, "pending", "unsent")
        assert [e.event_id for e in session.cache.outbox_pending()] == [nid]
        entries = session.chain.query(operator_id="clerk01", actions=["notification_filed"])
        assert [e.target_ids[0] for e in entries] == [nid]

        counter.server.start()
        session.reconnect(PASSWORDS["clerk01"])  # the session began offline
        report = session.sync_once()
        assert report.error is None and session.cache.outbox_count() == 0
        assert session.cache.notification_filed(nid).delivery == "sent"
        assert session.sync_once().push.sent == 0  # nothing left to send
    finally:
        session.logout()
    rows = [
        r for r in notifications.list_notifications(counter.server.db) if r.notification_id == nid
    ]
    assert [(r.state, r.terminal_no) for r in rows] == [("pending", counter.config.terminal_no)]


def test_killed_inside_the_filing_leaves_nothing_half_filed(counter) -> None:
    household_id = _prepare(counter)
    _child(counter, "inside-transaction", household_id)
    session = N.login_service(counter.terminal_dir).login("clerk01", PASSWORDS["clerk01"])
    try:
        assert session.notifications_filed() == []
        assert session.cache.outbox_total() == 0 or all(
            e.type != "notification_filed" for e in session.cache.outbox_pending()
        )
        assert session.chain.query(operator_id="clerk01", actions=["notification_filed"]) == []
    finally:
        session.logout()
