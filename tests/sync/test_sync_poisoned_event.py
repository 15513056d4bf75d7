"""Issue 21 item 5: one poisoned event never blocks the outbox.

The real server over HTTPS/mTLS and the real SQLCipher cache; the fault is injected in the
server: an ASGI wrapper around the real app answers 500 to any POST /v1/events whose batch holds
a poisoned event id (the way a bug in the server's handling of one event looks from outside).
The issuance queued behind it arrives, the round reads online, the poisoned event is held back,
then quarantined for a supervisor, and delivered once put back after the fix.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import server.embedded
from app.sync.retry import EventBackoff
from tests.sync.rig import Rig, Template

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class PoisonFault:
    """500 for every POST /v1/events whose body names one of `poisoned` (or every one with
    `all_events`); the body of each such request is kept in `bodies`."""

    def __init__(self) -> None:
        self.poisoned: set[str] = set()
        self.all_events = False
        self.bodies: list[bytes] = []

    def wrap(self, app: Any) -> Any:
        fault = self

        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            if not (
                scope["type"] == "http"
                and scope["method"] == "POST"
                and scope["path"].endswith("/events")
            ):
                await app(scope, receive, send)
                return
            messages: list[Message] = []
            body = b""
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            fault.bodies.append(body)
            if fault.all_events or any(e.encode() in body for e in fault.poisoned):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send(
                    {
                        "type": "http.response.body",
                        "body": b'{"code":"server_error","message":"injected"}',
                    }
                )
                return
            replay = iter(messages)

            async def again() -> Message:
                return next(replay, None) or await receive()

            await app(scope, again, send)

        return asgi


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return Template.make(tmp_path_factory.mktemp("poison-template"), n_households=20, members=2)


@pytest.fixture
def fault(monkeypatch: pytest.MonkeyPatch) -> PoisonFault:
    fault = PoisonFault()
    real = server.embedded.create_app
    monkeypatch.setattr(server.embedded, "create_app", lambda *a, **kw: fault.wrap(real(*a, **kw)))
    return fault


@pytest.fixture
def rig(tmp_path: Path, template: Template, fault: PoisonFault) -> Iterator[Rig]:
    r = Rig.start(
        tmp_path,
        template,
        clock=Clock(),
        event_backoff=EventBackoff(quarantine_after=3, base_seconds=60, cap_seconds=600),
    )
    try:
        yield r
    finally:
        r.close()


def _sent(fault: PoisonFault, event_id: str) -> int:
    return sum(event_id.encode() in b for b in fault.bodies)


def test_issuance_behind_a_poisoned_event_arrives(rig: Rig, fault: PoisonFault) -> None:
    assert rig.engine.sync_once().error is None  # the initial sync
    poisoned, behind = rig.issue_events(2)
    fault.poisoned.add(poisoned.event_id)

    report = rig.engine.sync_once()
    assert report.online and report.error is None, report.message
    assert rig.server_event_ids() >= {behind.event_id}
    assert poisoned.event_id not in rig.server_event_ids()
    assert [e for e, _ in report.push.failing] == [poisoned.event_id]
    assert rig.engine.status().online is True  # what the status bar reads
    assert rig.cache.outbox_count() == 1  # the poisoned one is still there, never lost

    # Held back: the next round does not send it, and what is queued after it goes through.
    clock: Clock = rig.engine.clock  # type: ignore[assignment]
    sent_before = _sent(fault, poisoned.event_id)
    [later] = rig.issue_events(1, day="20261127")
    report = rig.engine.sync_once()
    assert report.online and report.error is None
    assert later.event_id in rig.server_event_ids()
    assert _sent(fault, poisoned.event_id) == sent_before

    # Due again after its backoff; it keeps failing alone: quarantined at the third attempt.
    for _ in range(2):
        clock.now += timedelta(minutes=30)
        report = rig.engine.sync_once()
        assert report.online and report.error is None
    assert report.push.quarantined == [poisoned.event_id]
    assert "送信できないデータ" in report.message
    status = rig.engine.status()
    assert status.online and status.outbox_count == 0 and status.held_count == 1
    [held] = rig.cache.outbox_held()
    assert held.event.event_id == poisoned.event_id and held.state == "quarantined"
    assert held.attempts == 3 and "HTTP 500" in (held.reason or "")
    assert rig.cache.outbox_total() == 1  # kept: the cache is never deleted with it

    # Never sent again on its own; after the fix a supervisor puts it back and it arrives.
    clock.now += timedelta(hours=5)
    sent_before = _sent(fault, poisoned.event_id)
    rig.engine.sync_once()
    assert _sent(fault, poisoned.event_id) == sent_before
    fault.poisoned.clear()
    rig.cache.outbox_requeue(poisoned.event_id)
    report = rig.engine.sync_once()
    assert report.error is None and poisoned.event_id in rig.server_event_ids()
    assert rig.cache.outbox_total() == 0
    rows, distinct = rig.server_events()
    assert rows == distinct


def test_a_server_that_takes_no_event_quarantines_nothing(rig: Rig, fault: PoisonFault) -> None:
    """Every POST /v1/events fails (the server's events table is broken): no event is to blame,
    none is held back or quarantined, and the round says the server failed."""
    assert rig.engine.sync_once().error is None
    events = rig.issue_events(3)
    fault.all_events = True
    clock: Clock = rig.engine.clock  # type: ignore[assignment]
    for _ in range(4):
        report = rig.engine.sync_once()
        assert report.error is not None and not report.push.quarantined
        clock.now += timedelta(hours=1)
    assert rig.cache.outbox_count() == 3 and rig.cache.outbox_held_count() == 0
    fault.all_events = False
    assert rig.engine.sync_once().error is None
    assert {e.event_id for e in events} <= rig.server_event_ids()


def test_the_line_down_blames_no_event(rig: Rig, fault: PoisonFault) -> None:
    assert rig.engine.sync_once().error is None
    rig.issue_events(2)
    rig.proxy.down = True
    for _ in range(3):
        report = rig.engine.sync_once()
        assert not report.online and not report.push.failing
    rig.proxy.down = False
    assert rig.engine.sync_once().error is None
    assert rig.cache.outbox_total() == 0
