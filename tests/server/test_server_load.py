"""Issue 21 item 12: 100 concurrent initial-sync pages do not stall the server.

A page streamed from an open cursor held a pooled database connection between its chunks, and
each next chunk needed one of anyio's worker threads: with every thread waiting for a
connection, nothing moved until SQLAlchemy's pool timeout (30 s) answered 500s — 55 concurrent
`GET /v1/changes?after=0&limit=2000` were enough on SQLite, 64 on PostgreSQL. Here 100 fire at
once against the real server, on both; every one must come back whole with a 200.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.sync.protocol import SESSION_HEADER
from tests.support.server import ServerEnv, make_households, start_server_env

CONCURRENT = 100
HOUSEHOLDS = 2500  # a page of 2,000 is ~1.4 MB: two dozen chunks


@pytest.fixture(params=["sqlite", "postgres"])
def big_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerEnv]:
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_cluster").create_database()
    env = start_server_env(tmp_path, database_url=url, households=make_households(HOUSEHOLDS))
    try:
        yield env
    finally:
        env.close()


def test_100_concurrent_first_pages_all_answer(big_server: ServerEnv) -> None:
    env = big_server
    ctx = ssl.create_default_context(cafile=str(env.terminal.ca_path))
    ctx.load_cert_chain(
        str(env.terminal.cert_path), str(env.terminal.key_path), password=env.terminal.key_password
    )
    url = f"{env.server.base_url}/v1/changes"
    headers = {SESSION_HEADER: env.client.session_token or ""}
    ready = threading.Barrier(CONCURRENT)
    outcomes: list[tuple[int, int] | str] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            with httpx.Client(verify=ctx, timeout=300) as http:
                http.get(f"{env.server.base_url}/v1/digest", headers=headers)  # TLS set up
                ready.wait()
                answer = http.get(url, params={"after": 0, "limit": 2000}, headers=headers)
                items = len(json.loads(answer.content)["items"]) if answer.status_code == 200 else 0
                result: tuple[int, int] | str = (answer.status_code, items)
        except Exception as exc:  # reported below
            result = f"{type(exc).__name__}: {exc}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=one) for _ in range(CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=str) == [(200, 2000)] * CONCURRENT
