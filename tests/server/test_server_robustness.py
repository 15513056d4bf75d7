"""Issue 21 item 10: connections that never finish, Range parsing, event ids per terminal, SQL
parameters kept out of errors — against the real server over TLS."""

from __future__ import annotations

import socket
import ssl
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.sync.protocol import SESSION_HEADER, Event
from server.db import Database
from tests.support.server import ServerEnv, make_households, start_server_env

SLOW_CONNECTIONS = 200


@pytest.fixture
def quick_deadlines(tmp_path: Path) -> Iterator[ServerEnv]:
    """A server whose header and body deadlines are 2 s (production: 10 s and 30 s)."""
    import server.embedded as embedded

    real = embedded.load_config

    def load_config(**kwargs):  # type: ignore[no-untyped-def]
        return real(**kwargs, header_timeout_s=2, body_timeout_s=2)

    embedded.load_config = load_config  # type: ignore[assignment]
    try:
        env = start_server_env(tmp_path, households=make_households(3))
    finally:
        embedded.load_config = real  # type: ignore[assignment]
    try:
        yield env
    finally:
        env.close()


def _tls(env: ServerEnv) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(env.terminal.ca_path))
    ctx.load_cert_chain(
        str(env.terminal.cert_path), str(env.terminal.key_path), password=env.terminal.key_password
    )
    return ctx


def _open(env: ServerEnv, ctx: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection((env.server.host, env.server.port), timeout=60)
    return ctx.wrap_socket(raw, server_hostname=env.server.host)


def _closed_by_server(sock: ssl.SSLSocket) -> bool:
    """Reads until the server closes (True) or 60 s pass without it (False)."""
    try:
        while sock.recv(4096):
            pass
        return True
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    finally:
        sock.close()


def test_connections_that_never_finish_their_headers_are_closed(
    quick_deadlines: ServerEnv,
) -> None:
    env = quick_deadlines
    ctx = _tls(env)
    slow = []
    for _ in range(SLOW_CONNECTIONS):
        sock = _open(env, ctx)
        sock.sendall(b"GET /v1/changes HTTP/1.1\r\nHost: madoguchi\r\nX-Slow: ")
        slow.append(sock)
    # Meanwhile the server answers everyone else.
    assert env.client.changes(0).latest_seq > 0
    assert sum(_closed_by_server(s) for s in slow) == SLOW_CONNECTIONS


def test_connections_that_never_finish_the_tls_handshake_are_closed(
    quick_deadlines: ServerEnv,
) -> None:
    """Before TLS is up the header deadline had not started: a connection that sent nothing,
    or half a ClientHello, stayed open for asyncio's 60 s handshake timeout (uvicorn sets
    none), six times the header deadline, for anyone who can reach the port."""
    env = quick_deadlines
    half_hello = bytes.fromhex("16030100c4010000c00303")
    stalled = []
    for n in range(SLOW_CONNECTIONS // 4):
        sock = socket.create_connection((env.server.host, env.server.port), timeout=30)
        if n % 2:
            sock.sendall(half_hello)
        stalled.append(sock)
    assert env.client.changes(0).latest_seq > 0
    assert sum(_closed_by_server(s) for s in stalled) == len(stalled)  # type: ignore[arg-type]


def test_a_body_that_stops_arriving_is_closed(quick_deadlines: ServerEnv) -> None:
    env = quick_deadlines
    sock = _open(env, _tls(env))
    token = (env.client.session_token or "").encode()
    sock.sendall(
        b"POST /v1/events HTTP/1.1\r\nHost: madoguchi\r\nContent-Type: application/json\r\n"
        + SESSION_HEADER.encode()
        + b": "
        + token
        + b"\r\nContent-Length: 1000\r\n\r\n"
        + b'{"events": ['
    )
    assert _closed_by_server(sock)
    assert env.client.changes(0).latest_seq > 0


def test_a_range_with_non_ascii_digits_is_a_416(sync_server: ServerEnv) -> None:
    env = sync_server
    env.server.build_snapshot()
    info = env.client.prepare_snapshot()
    assert info is not None
    url = f"{env.server.base_url}/v1/snapshot/{info.snapshot_id}/file"
    headers = {SESSION_HEADER: env.client.session_token or ""}
    with httpx.Client(verify=_tls(env)) as http:
        # Header bytes are read as Latin-1: b"\xb2" arrives as "²", which str.isdigit() takes.
        for bad in (b"bytes=\xb2-", b"bytes=0-\xb2", b"bytes=1-0", b"bytes=-5", b"octets=0-"):
            answer = http.get(url, headers={**headers, "Range": bad})  # type: ignore[dict-item]
            assert answer.status_code == 416, (bad, answer.status_code)
            assert answer.json()["code"] == "bad_range"
        answer = http.get(url, headers={**headers, "Range": "bytes=0-9"})
        assert answer.status_code == 206 and len(answer.content) == 10


def _issued(terminal_no: str, operator_id: str, event_id: str, n: int) -> Event:
    return Event(
        event_id=event_id,
        type="certificate_issued",
        occurred_at=datetime.now(UTC),
        operator_id=operator_id,
        terminal_no=terminal_no,
        payload={
            "issuance_no": f"{terminal_no}-20261204-{n}",
            "kind": "juminhyo",
            "person_ids": ["P00000010"],
            "copies": 1,
            "fee_yen": 300,
            "content_digest": "ab" * 32,
        },
    )


def test_an_event_id_belongs_to_one_terminal(sync_server: ServerEnv, tmp_path: Path) -> None:
    env = sync_server
    shared = str(uuid.uuid4())
    first = _issued(env.terminal.terminal_no, env.operator_id, shared, 1)
    assert env.client.push_events([first]).results[0].status == "accepted"
    other = env.enroll_another(tmp_path / "other")
    client = env.new_client(terminal=other)
    [answer] = client.push_events([_issued(other.terminal_no, env.operator_id, shared, 2)]).results
    # Not "duplicate": the other terminal would drop its event as delivered.
    assert answer.status == "rejected" and "別の端末" in (answer.reason or "")
    assert env.client.push_events([first]).results[0].status == "duplicate"


def test_sql_errors_never_carry_the_parameters(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_db: str
) -> None:
    for url in (f"sqlite:///{tmp_path / 'p.db'}", postgres_db):
        db = Database(url)
        try:
            with db.write() as conn:
                conn.execute(text("CREATE TABLE t (k VARCHAR(64) PRIMARY KEY)"))
                conn.execute(text("INSERT INTO t VALUES (:k)"), {"k": "secret-person-P0042"})
            with pytest.raises(IntegrityError) as info, db.write() as conn:
                conn.execute(text("INSERT INTO t VALUES (:k)"), {"k": "secret-person-P0042"})
            message = str(info.value)
            assert "INSERT INTO t" in message and "parameters hidden" in message
            # PostgreSQL's own DETAIL names the key; the statement's parameters are hidden.
            assert "[parameters:" not in message
        finally:
            db.dispose()


def test_connections_are_served_without_nagle(sync_server: ServerEnv) -> None:
    """The embedded server's and `serve --workers`'s listening sockets are made with proto 0,
    for which asyncio does not set TCP_NODELAY: the protocol sets it (Nagle's algorithm and
    the client's delayed ACK added ~45 ms to every request)."""
    env = sync_server
    env.client.changes(0, 1)  # a connection is open and idle now
    server = env.server._server
    assert server is not None
    sockets = [c.transport.get_extra_info("socket") for c in server.server_state.connections]
    assert sockets and all(
        s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0 for s in sockets
    )
