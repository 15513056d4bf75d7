"""Issue 21 item 8: truncated and deleted chains are findings, and `audit report` says so in its
exit status. The real server over HTTPS (SQLite and PostgreSQL), the terminal's chain signed
with its enrolled key, pushed as audit_batch events, heads sent as the session sends them.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlcipher3
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import text

from app.store.audit import AUDIT_TABLE_DDL, AuditAction, AuditChain, signer_for
from app.sync.client import SyncClient, load_private_key
from app.sync.protocol import Event
from server.audit_heads import HeadFindingKind
from server.audit_report import EXIT_ANOMALIES, EXIT_INTEGRITY, build_report, report_main
from tests.support.postgres import postgres_cluster  # noqa: F401 - the fixture
from tests.support.server import ServerEnv, sync_server_any  # noqa: F401 - the fixture

TODAY = datetime.now(UTC).astimezone().date()


class Terminal:
    """The terminal side: its chain (a SQLCipher file, the enrolled key) and its client."""

    def __init__(self, env: ServerEnv, path: Any) -> None:
        self.env = env
        self.client: SyncClient = env.client
        self.conn = sqlcipher3.connect(str(path), check_same_thread=False)
        self.conn.execute(f"PRAGMA key = \"x'{os.urandom(32).hex()}'\"")
        self.conn.execute(AUDIT_TABLE_DDL)
        self.conn.commit()
        key = load_private_key(env.terminal.key_path, env.terminal.key_password)
        self.chain = AuditChain(self.conn, env.terminal.terminal_no, signer_for(key))

    def work(self, n: int) -> None:
        for i in range(n):
            self.chain.append(
                self.env.operator_id, AuditAction.SEARCH, [f"P{i:08d}"], reason="条件"
            )

    def sync(self) -> Any:
        """As SessionCore.sync_once: queue the batches, push them, then send the head."""
        while (batch := self.chain.pending_batch(50)) is not None:
            event = Event(
                event_id=str(uuid.uuid4()),
                type="audit_batch",
                occurred_at=datetime.now(UTC),
                operator_id=self.env.operator_id,
                terminal_no=self.env.terminal.terminal_no,
                payload=batch,
            )
            [result] = self.client.push_events([event]).results
            assert result.status in ("accepted", "conflict"), result.reason
            self.chain.mark_pushed(batch["last_seq"])
        return self.client.send_audit_head(self.chain.signed_head())

    def delete_local(self, from_seq: int) -> None:
        """Someone with the cache's key deletes the newest entries."""
        self.conn.execute("DELETE FROM audit_entries WHERE seq >= ?", (from_seq,))
        self.conn.commit()


@pytest.fixture
def terminal(sync_server_any: ServerEnv, tmp_path: Any) -> Iterator[Terminal]:  # noqa: F811
    t = Terminal(sync_server_any, tmp_path / "terminal-cache.db")
    yield t
    t.conn.close()


def _report(env: ServerEnv) -> Any:
    with env.server.db.read() as conn:
        return build_report(conn, TODAY - timedelta(days=1), TODAY + timedelta(days=1))


def _exit(env: ServerEnv, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    day = [(TODAY - timedelta(days=1)).isoformat(), (TODAY + timedelta(days=1)).isoformat()]
    code = report_main(
        ["--from", day[0], "--to", day[1], "--database-url", env.server.config.db_url]
    )
    return code, capsys.readouterr().out


def test_a_clean_chain_has_no_finding(terminal: Terminal, capsys) -> None:
    terminal.work(5)
    assert terminal.sync().status == "ok"
    report = _report(terminal.env)
    assert report.head_findings == [] and report.chain_problems == []
    code, out = _exit(terminal.env, capsys)
    assert code in (0, EXIT_ANOMALIES)  # five searches without a view: an anomaly at most
    assert "監査ログの欠落・巻き戻し: なし" in out


def test_the_tail_deleted_on_the_server(terminal: Terminal, capsys) -> None:
    terminal.work(12)
    terminal.sync()
    with terminal.env.server.db.write() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq > 9"))
    report = _report(terminal.env)
    assert report.chain_problems == []  # what is left is a consistent chain: the old blind spot
    [finding] = report.head_findings
    assert finding.kind is HeadFindingKind.DELETED_ON_SERVER and "seq 10〜12" in finding.detail
    code, out = _exit(terminal.env, capsys)
    assert code == EXIT_INTEGRITY and "サーバーの監査ログの欠落" in out


def test_a_whole_chain_deleted_on_the_server(terminal: Terminal, capsys) -> None:
    terminal.work(4)
    terminal.sync()
    with terminal.env.server.db.write() as conn:
        conn.execute(text("DELETE FROM audit_entries"))
    [finding] = _report(terminal.env).head_findings
    assert "全件(seq 1〜4)" in finding.detail
    assert _exit(terminal.env, capsys)[0] == EXIT_INTEGRITY


def test_a_chain_cut_short_on_the_terminal(terminal: Terminal, capsys) -> None:
    """Entries deleted on the terminal, the pushed ones too (the cache's key in hand): the next
    head ends below the one the server saw."""
    terminal.work(8)
    terminal.sync()
    terminal.delete_local(6)
    answer = terminal.sync()
    assert answer.status == "finding" and "seq 8" in (answer.message or "")
    kinds = [f.kind for f in _report(terminal.env).head_findings]
    assert kinds == [HeadFindingKind.REWOUND]
    assert _exit(terminal.env, capsys)[0] == EXIT_INTEGRITY


def test_unpushed_entries_rewritten(terminal: Terminal) -> None:
    """The newest entry replaced after its head was sent (never pushed): same seq, other hash."""
    terminal.work(3)
    terminal.sync()
    terminal.chain.append(terminal.env.operator_id, AuditAction.VIEW_HOUSEHOLD, ["H1"])
    head = terminal.chain.signed_head()
    assert terminal.client.send_audit_head(head).status == "ok"  # seq 4, not pushed yet
    terminal.delete_local(4)
    terminal.chain.append(terminal.env.operator_id, AuditAction.SEARCH, ["P1"], reason="別")
    answer = terminal.client.send_audit_head(terminal.chain.signed_head())
    assert answer.status == "finding"
    kinds = [f.kind for f in _report(terminal.env).head_findings]
    assert kinds == [HeadFindingKind.REWRITTEN]


def test_a_head_not_signed_by_the_terminal(terminal: Terminal) -> None:
    terminal.work(1)
    terminal.sync()
    other = ec.generate_private_key(ec.SECP256R1())
    forged = AuditChain(terminal.conn, terminal.env.terminal.terminal_no, signer_for(other))
    answer = terminal.client.send_audit_head(forged.signed_head())
    assert answer.status == "finding"
    bad = terminal.chain.signed_head().model_copy(
        update={"signature_b64": base64.b64encode(b"x" * 64).decode()}
    )
    assert terminal.client.send_audit_head(bad).status == "finding"
    kinds = {f.kind for f in _report(terminal.env).head_findings}
    assert kinds == {HeadFindingKind.BAD_SIGNATURE}


def test_report_exit_codes_for_errors(tmp_path: Any, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    day = date(2026, 11, 25).isoformat()
    assert report_main(["--from", day, "--to", day, "--database-url", url]) == 2
