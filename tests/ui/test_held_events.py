"""The 送信保留 panel (issue 21 item 5): lists what the session holds, re-sends the chosen one
with the supervisor's reason through the session (which checks the role and audits)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.store.outbox import HeldEvent
from app.sync.protocol import Event
from tests.auth.widget_support import sync_runner
from ui.held_events import HeldEventsPanel


def _event(kind: str) -> Event:
    return Event(
        event_id=str(uuid.uuid4()),
        type=kind,  # type: ignore[arg-type]
        occurred_at=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        operator_id="super01",
        terminal_no="0001",
        payload={},
    )


@dataclass
class HeldSession:
    held: list[HeldEvent] = field(default_factory=list)
    requeued: list[tuple[str, str]] = field(default_factory=list)

    def held_events(self) -> list[HeldEvent]:
        return list(self.held)

    def requeue_event(self, event_id: str, reason: str) -> None:
        self.requeued.append((event_id, reason))
        self.held = [h for h in self.held if h.event.event_id != event_id]


def test_lists_and_requeues_with_a_reason(qtbot) -> None:
    at = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    poisoned, refused = _event("certificate_issued"), _event("card_event")
    session = HeldSession(
        [
            HeldEvent(
                poisoned, "quarantined", "サーバーがこのデータだけ受け取れませんでした", at, 5
            ),
            HeldEvent(refused, "rejected", "対象者が見つかりません", at, 0),
        ]
    )
    reasons: list[str | None] = [None, "サーバーの不具合が直ったため"]
    panel = HeldEventsPanel(
        session,  # type: ignore[arg-type]
        runner=sync_runner,
        ask_reason=lambda _parent, _prompt: reasons.pop(0),
    )
    qtbot.addWidget(panel)
    panel.refresh()
    assert panel.table.rowCount() == 2
    cells: list[Any] = [panel.table.item(0, c).text() for c in range(5)]
    assert cells[1:4] == ["証明書の交付", "送信保留", "5"] and "受け取れません" in cells[4]
    assert panel.table.item(1, 2).text() == "差し戻し"
    panel.requeue_selected()
    assert "1件選んで" in panel.summary.text()
    panel.table.selectRow(0)
    panel.requeue_selected()  # the supervisor cancels the reason prompt
    assert session.requeued == []
    panel.table.selectRow(0)
    panel.requeue_selected()
    assert session.requeued == [(poisoned.event_id, "サーバーの不具合が直ったため")]
    assert panel.table.rowCount() == 1
