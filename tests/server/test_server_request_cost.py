"""What a terminal's two frequent requests cost the database (issue 21 item 12), counted, not
timed: GET /v1/changes and POST /v1/events each take ONE pooled connection (the caller is
looked up on the connection the work uses), and on PostgreSQL a page is read outside a
transaction (no BEGIN and COMMIT round trips) while a batch is one transaction with its caller.
benchmarks/bench_load.py measures what this saves."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from app.sync.protocol import SESSION_HEADER
from server.app import create_app
from server.tls import _WithTLS
from tests.support.server import ServerEnv


@dataclass
class _Seen:
    checkouts: int = 0
    statements: list[tuple[str, bool]] = field(default_factory=list)  # (SQL, in autocommit)

    def clear(self) -> None:
        self.checkouts = 0
        self.statements.clear()


@pytest.fixture
def seen(sync_server_any: ServerEnv) -> Iterator[_Seen]:
    db = sync_server_any.server.db
    record = _Seen()
    # On PostgreSQL the readers are the writer's engine with other options (one pool).
    engines = [db.writer, db.reader] if db.is_sqlite else [db.writer]

    def on_checkout(*_args: Any) -> None:
        record.checkouts += 1

    def on_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN"):  # SQLite's, issued by server.db
            return
        autocommit = bool(getattr(conn.connection.dbapi_connection, "autocommit", False))
        record.statements.append((statement, autocommit))

    for engine in engines:
        event.listen(engine.pool, "checkout", on_checkout)
        event.listen(engine, "before_cursor_execute", on_execute)
    yield record
    for engine in engines:
        event.remove(engine.pool, "checkout", on_checkout)
        event.remove(engine, "before_cursor_execute", on_execute)


def _calls(env: ServerEnv, seen: _Seen) -> dict[str, tuple[int, list[tuple[str, bool]]]]:
    """A pull and a push of 5 issuances through the app (the certificate in the ASGI TLS
    extension, as the listener puts it there); what each took of the database."""
    app = create_app(env.server.config, db=env.server.db)
    tls = {"client_cert_chain": [env.terminal.cert_path.read_text()]}
    terminal = env.terminal.terminal_no
    day = datetime.now(UTC).strftime("%Y%m%d")
    batch = [
        {
            "event_id": str(uuid.uuid4()),
            "type": "certificate_issued",
            "occurred_at": datetime.now(UTC).isoformat(),
            "operator_id": env.operator_id,
            "terminal_no": terminal,
            "payload": {
                "issuance_no": f"{terminal}-{day}-{n}",
                "kind": "juminhyo",
                "person_ids": [f"P{n * 10:08d}"],
                "copies": 1,
                "fee_yen": 300,
                "content_digest": secrets.token_hex(32),
            },
        }
        for n in range(1, 6)
    ]
    out: dict[str, tuple[int, list[tuple[str, bool]]]] = {}

    async def run() -> None:
        transport = httpx.ASGITransport(app=_WithTLS(app, tls))
        async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
            answer = await client.post(
                "/v1/sessions", json={"operator_id": env.operator_id, "password": env.password}
            )
            headers = {SESSION_HEADER: answer.json()["session_token"]}
            seen.clear()
            answer = await client.get("/v1/changes", params={"after": 0}, headers=headers)
            assert answer.status_code == 200 and answer.json()["items"]
            out["pull"] = (seen.checkouts, list(seen.statements))
            seen.clear()
            answer = await client.post("/v1/events", json={"events": batch}, headers=headers)
            assert answer.status_code == 200
            assert [r["status"] for r in answer.json()["results"]] == ["accepted"] * 5
            out["push"] = (seen.checkouts, list(seen.statements))

    asyncio.run(run())
    return out


def test_each_frequent_request_takes_one_connection(
    sync_server_any: ServerEnv, seen: _Seen
) -> None:
    calls = _calls(sync_server_any, seen)
    pull_checkouts, pull = calls["pull"]
    push_checkouts, push = calls["push"]
    # Before: one connection (and transaction, and on PostgreSQL one pre-ping) for the
    # caller, another for the work.
    assert pull_checkouts == 1, pull
    # The caller first, then the page: its head and its items in one statement.
    assert len(pull) == 2 and "sessions" in pull[0][0] and "changes" in pull[1][0], pull
    if sync_server_any.server.db.is_sqlite:
        # SQLite: the caller is read, the batch goes to the group commit's connection.
        assert push_checkouts == 2
    else:
        assert push_checkouts == 1
        assert "sessions" in push[0][0]
        # PostgreSQL: the page outside a transaction, the batch and its caller in one.
        assert all(autocommit for _sql, autocommit in pull), pull
        assert not any(autocommit for _sql, autocommit in push), push
