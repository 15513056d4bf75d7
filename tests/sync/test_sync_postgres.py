"""The engine against the server on PostgreSQL (the production database): sync, cut answers,
duplicates and repair end with the cache equal to the server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import postgres_cluster, postgres_db  # noqa: F401
from tests.support.server import start_server_env
from tests.sync.data import households
from tests.sync.rig import Rig


@pytest.fixture
def pg_rig(tmp_path: Path, postgres_db: str) -> Iterator[Rig]:  # noqa: F811
    items = households(120, 3)
    env = start_server_env(tmp_path, database_url=postgres_db, households=items)
    rig = Rig.on_env(tmp_path, env, {h["household_id"]: h for h in items})
    try:
        yield rig
    finally:
        rig.close()


def test_sync_push_and_repair_on_postgresql(pg_rig: Rig) -> None:
    rig = pg_rig
    report = rig.engine.sync_once(anti_entropy=True)
    assert report.online and report.pull is not None and report.pull.complete
    assert report.repair is not None and report.repair.differing == []
    assert rig.engine.local_digest() == rig.server_digest()

    events = rig.issue_events(25)
    rig.change_households(10, seed=7, new=3)
    rig.proxy.cut_after(3000)  # somewhere in the next answers
    report = rig.engine.sync_once()
    assert report.online and report.outbox_count == 0
    assert rig.engine.local_digest() == rig.server_digest()
    again = rig.client.push_events(events[:5])
    assert {r.status for r in again.results} == {"duplicate"}

    # A household lost from the cache behind the engine's back is found and put back.
    with rig.cache.transaction() as conn:
        conn.execute("DELETE FROM households WHERE household_id = 'H0000007'")
    assert rig.engine.local_digest() != rig.server_digest()
    repair = rig.engine.anti_entropy()
    assert len(repair.repaired) == 1 and repair.still_differing == []
    assert rig.engine.local_digest() == rig.server_digest()
    assert rig.cache.household("H0000007").household_id == "H0000007"


def test_initial_sync_from_a_snapshot_built_on_postgresql(pg_rig: Rig) -> None:
    rig = pg_rig
    seq = rig.server.build_snapshot()
    rig.change_households(6, seed=8, new=2)  # after the snapshot: through the feed
    result = rig.engine.pull()
    assert result.complete and result.snapshot_seq == seq and result.items == 8
    assert rig.engine.local_digest() == rig.server_digest()
