"""The server's audit chain on PostgreSQL (production): timestamptz round trip, checks, report."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.domain.audit_chain import ProblemKind
from app.store.audit import AuditAction, AuditChain
from server.audit_ingest import ingest_audit_batch, verify_stored
from server.audit_report import build_report
from server.db import Database


@pytest.fixture
def pg(postgres_db: str) -> Iterator[Database]:
    db = Database(postgres_db)
    db.migrate()
    yield db
    db.dispose()


def test_chain_on_postgres(pg: Database, chain: AuditChain) -> None:
    t0 = datetime(2026, 11, 25, 14, 59, 59, 999999, tzinfo=UTC)  # 23:59:59 JST on the 25th
    for i in range(6):
        chain.append(
            "op1", AuditAction.SEARCH, [f"P{i}"], reason="検索 ①", at=t0 + timedelta(seconds=i)
        )
    batch: Any = chain.pending_batch(3)
    with pg.write() as conn:
        assert ingest_audit_batch(conn, "T0001", batch) == ("accepted", None)
    chain.mark_pushed(3)
    with pg.write() as conn:
        assert ingest_audit_batch(conn, "T0001", chain.pending_batch() or {}) == ("accepted", None)
    with pg.read() as conn:
        conn.execute(text("SET TIME ZONE 'Asia/Tokyo'"))  # the hash must not depend on it
        assert verify_stored(conn) == []
        report = build_report(conn, date(2026, 11, 26), date(2026, 11, 26))
    assert sum(report.operators["op1"].counts.values()) == 5  # the first is on the 25th (JST)
    kinds = {a.kind.value for a in report.anomalies()}
    assert kinds == {"outside_hours", "no_follow_up"}  # just after midnight, searches only
    with pg.write() as conn:
        conn.execute(text("UPDATE audit_entries SET target_ids = '[\"P9\"]' WHERE seq = 4"))
    with pg.read() as conn:
        assert {p.kind for p in verify_stored(conn)} == {ProblemKind.TAMPERED}
