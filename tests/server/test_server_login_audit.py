"""Issue 21 item 8, server side: failed logins and lockouts are in the audit the server keeps
(login_events), and `audit report` lists them; a lockout makes it exit non-zero.

HTTP-level against the real server (mTLS), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.sync.errors import ServerRejected
from server.audit_report import EXIT_INTEGRITY, build_report, report_main
from server.tables import login_events
from tests.support.server import ServerEnv


def test_failed_logins_and_the_lockout_are_recorded_and_reported(
    sync_server_any: ServerEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    env = sync_server_any
    client = env.new_client(login=False)
    for _ in range(5):
        with pytest.raises(ServerRejected):
            client.login(env.operator_id, "a-wrong-password-typed")
    with pytest.raises(ServerRejected):
        client.login("nobody-here", "a-wrong-password-typed")
    with pytest.raises(ServerRejected) as locked:
        client.login(env.operator_id, env.password)  # the right one: locked all the same
    assert locked.value.code == "operator_locked"
    with env.server.db.read() as conn:
        rows = conn.execute(select(login_events).order_by(login_events.c.id)).all()
    kinds = [(r.operator_id, r.kind, r.terminal_no) for r in rows]
    terminal = env.terminal.terminal_no
    assert kinds == [
        *[(env.operator_id, "failed", terminal)] * 5,
        (env.operator_id, "locked", terminal),
        ("nobody-here", "failed", terminal),
        (env.operator_id, "failed", terminal),
    ]
    assert all("wrong" not in str(r) for r in rows)  # never the password

    today = datetime.now(UTC).astimezone().date()
    with env.server.db.read() as conn:
        report = build_report(conn, today - timedelta(days=1), today + timedelta(days=1))
    assert [(op, t) for _, op, t in report.lockouts] == [(env.operator_id, terminal)]
    assert report.login_failures[(env.operator_id, terminal)] == 6
    assert report.exit_code() == EXIT_INTEGRITY
    day = [(today - timedelta(days=1)).isoformat(), (today + timedelta(days=1)).isoformat()]
    code = report_main(
        ["--from", day[0], "--to", day[1], "--database-url", env.server.config.db_url]
    )
    out = capsys.readouterr().out
    assert code == EXIT_INTEGRITY
    assert "パスワード誤りによるロック: 1 件" in out and "ログイン失敗(サーバーで確認): 7 件" in out
