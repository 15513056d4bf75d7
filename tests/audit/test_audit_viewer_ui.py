"""The 監査者 view: filters, the table, and the chain status (intact, then tampered)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtCore import QDate

from app.auth.permissions import PermissionDenied
from app.store.audit import AuditAction, AuditChain
from tests.auth.widget_support import sync_runner
from tests.support.poll import QT_WAIT_MS
from ui.audit_viewer import AuditViewer

DAY = date(2026, 11, 26)


class _S:
    def __init__(self, *roles: str) -> None:
        self.roles = roles


def _viewer(qtbot: Any, chain: AuditChain, key: Any) -> AuditViewer:
    v = AuditViewer(
        _S("auditor"),
        query=lambda op, start, end, actions: chain.query(
            operator_id=op, start=start, end=end, actions=actions
        ),
        verify=lambda: chain.verify(key.public_key()),
        today=DAY,
        runner=sync_runner,
    )
    qtbot.addWidget(v)
    v.show()
    qtbot.waitExposed(v)
    return v


@pytest.fixture
def filled(chain: AuditChain) -> AuditChain:
    t0 = datetime(2026, 11, 26, 0, 30, tzinfo=UTC)  # 09:30 in Japan
    for i in range(6):
        op = "clerk1" if i % 2 else "clerk2"
        action = AuditAction.SEARCH if i < 4 else AuditAction.PRINT
        chain.append(op, action, [f"P{i}"], at=t0 + timedelta(minutes=i))
    chain.append("clerk1", AuditAction.SEARCH, ["P9"], at=t0 - timedelta(days=3))
    return chain


def test_only_the_auditor_opens_it(qtbot: Any, chain: AuditChain) -> None:
    for roles in (("clerk",), ("supervisor",), ("admin",)):
        with pytest.raises(PermissionDenied):
            AuditViewer(_S(*roles), query=lambda *a: [], verify=lambda: [])


def test_filters_and_table(qtbot: Any, filled: AuditChain, terminal_key: Any) -> None:
    v = _viewer(qtbot, filled, terminal_key)
    v.date_from.setDate(QDate(2026, 11, 25))
    v.date_to.setDate(QDate(2026, 11, 27))
    v.refresh()
    qtbot.waitUntil(lambda: v.status.text() == "6 件", timeout=QT_WAIT_MS)
    v.operator.setText("clerk1")
    v.action.setCurrentIndex(v.action.findData("search"))
    v.refresh()
    qtbot.waitUntil(lambda: v.status.text() == "2 件", timeout=QT_WAIT_MS)
    assert v.table.item(0, 2).text() == "clerk1" and v.table.item(0, 4).text() == "検索"
    v.date_from.setDate(QDate(2026, 11, 20))
    v.refresh()
    qtbot.waitUntil(lambda: v.status.text() == "3 件", timeout=QT_WAIT_MS)


def test_chain_status(qtbot: Any, filled: AuditChain, cache: Any, terminal_key: Any) -> None:
    v = _viewer(qtbot, filled, terminal_key)
    v.check_chain()
    qtbot.waitUntil(lambda: "問題なし" in v.chain_status.text(), timeout=QT_WAIT_MS)
    cache.execute("DELETE FROM audit_entries WHERE seq = 3")
    cache.commit()
    v.check_chain()
    qtbot.waitUntil(lambda: "問題 1 件" in v.chain_status.text(), timeout=QT_WAIT_MS)
    assert "欠落" in v.chain_status.text()


def test_dates_and_reasons_read_in_japanese(
    qtbot: Any, chain: AuditChain, terminal_key: Any
) -> None:
    at = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)
    chain.append("clerk1", AuditAction.CARD_READ, [], reason="card_read", at=at)
    chain.append("clerk1", AuditAction.CARD_READ, ["P1"], reason="card_match", at=at)
    chain.append("clerk1", AuditAction.NOTIFICATION_FILED, ["N1"], reason="move_in", at=at)
    v = AuditViewer(
        _S("auditor"),
        query=lambda op, start, end, actions: chain.query(
            operator_id=op, start=start, end=end, actions=actions
        ),
        verify=lambda: [],
        today=date(2026, 12, 7),
        runner=sync_runner,
    )
    qtbot.addWidget(v)
    # As Japanese dates are written (年月日) — never the C locale's 「7 12 2026」.
    assert v.date_from.text() == "2026年12月7日" and v.date_to.text() == "2026年12月7日"
    v.refresh()
    reasons = {v.table.item(r, 6).text() for r in range(v.table.rowCount())}
    assert reasons == {"カード読取", "住民票との照合", "転入"}
    local = at.astimezone()
    assert v.table.item(0, 1).text() == (
        f"{local.year}年{local.month}月{local.day}日 {local:%H:%M:%S}"
    )
    # A date typed the Japanese way is taken.
    v.date_from.lineEdit().setText("2026年12月1日")
    v.date_from.interpretText()
    assert v.date_from.date().toPython() == date(2026, 12, 1)
