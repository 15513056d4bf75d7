"""Issue 21 item 8 through the session: every online sync round sends the chain's signed head;
a chain cut short on the terminal afterwards is a finding on the server."""

from __future__ import annotations

from sqlalchemy import select

from server.audit_heads import HeadFindingKind, recorded_findings
from server.tables import audit_heads


def test_sync_sends_the_head_and_a_cut_chain_is_found(counter) -> None:
    session = counter.login("issuer01")
    try:
        assert session.sync_once().error is None
        session.search(name="さとう")
        assert session.sync_once().error is None
        last_seq, last_hash = session.chain.head()
        with counter.server.db.read() as conn:
            row = conn.execute(
                select(audit_heads).where(audit_heads.c.terminal_no == counter.config.terminal_no)
            ).one()
        assert (row.last_seq, row.last_hash) == (last_seq, last_hash)
        assert row.max_seq == last_seq

        # Someone with the cache's key deletes the newest entries, pushed ones included.
        with session.cache.transaction() as conn:
            conn.execute("DELETE FROM audit_entries WHERE seq > ?", (last_seq - 2,))
        session.sync_once()
        with counter.server.db.read() as conn:
            findings = recorded_findings(conn)
        assert [f.kind for f in findings] == [HeadFindingKind.REWOUND]
        assert findings[0].terminal_no == counter.config.terminal_no
    finally:
        session.logout()
