"""Issue 21 item 9: a newer server may add fields to its answers; this terminal keeps syncing.

The real server runs behind a small ASGI wrapper that adds an unknown field to every protocol
object it answers (sessions, feed pages and their items, operator and policy items, events
answers, digest, records, snapshot info, certificate info, error bodies) — what a future
server version would send. Today's client models and engine must take it. What the server
parses from terminals stays strict (tests/server: extra keys are refused).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.store.db import create_cache
from app.sync.engine import SyncEngine
from app.sync.errors import ServerRejected
from app.sync.protocol import EnrollRequest, Event, SessionRequest
from tests.support.server import ServerEnv, make_households, start_server_env

FUTURE = {"added_in_a_later_version": {"nested": [1, 2, 3]}}


def _extend(obj: Any, inside_record: bool = False) -> Any:
    """Add FUTURE to every protocol object; household records (the interchange format, versioned
    on its own, docs/record-format.md) are left as they are."""
    if isinstance(obj, list):
        return [_extend(x, inside_record) for x in obj]
    if not isinstance(obj, dict) or inside_record:
        return obj
    out = {}
    for key, value in obj.items():
        record = key == "households" or (key == "data" and obj.get("kind") == "household")
        out[key] = _extend(value, record)
    return {**out, **FUTURE}


class AddedFields:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Plain bodies to rewrite: no gzip from the app behind.
        headers = [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]
        scope = {**scope, "headers": headers}
        start: dict[str, Any] = {}
        body: list[bytes] = []

        async def rewrite(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            data = b"".join(body)
            head = dict(start["headers"])
            if head.get(b"content-type", b"").startswith(b"application/json") and data:
                data = json.dumps(_extend(json.loads(data)), ensure_ascii=False).encode()
            start["headers"] = [(k, v) for k, v in start["headers"] if k != b"content-length"] + [
                (b"content-length", str(len(data)).encode())
            ]
            await send(start)
            await send({"type": "http.response.body", "body": data})

        await self.app(scope, receive, rewrite)


@pytest.fixture
def newer_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerEnv]:
    import server.embedded as embedded

    real = embedded.create_app
    monkeypatch.setattr(embedded, "create_app", lambda cfg, db=None: AddedFields(real(cfg, db=db)))
    env = start_server_env(tmp_path, households=make_households(30))
    try:
        yield env
    finally:
        env.close()


def test_a_terminal_syncs_with_a_server_that_added_fields(
    newer_server: ServerEnv, tmp_path: Path
) -> None:
    env = newer_server
    client = env.new_client()  # login: SessionResponse, OperatorProfile, Policy with the field
    # The feed, with the field on pages, items, operator and policy records.
    cache = create_cache(tmp_path / "cache.db", env.terminal.dek)
    try:
        engine = SyncEngine(cache, client, terminal_no=env.terminal.terminal_no)
        report = engine.sync_once()
        assert report.error is None, report.error
        assert cache.counts()["households"] == 30
        assert engine.anti_entropy().still_differing == []  # digest and records answers
    finally:
        cache.close()
    event = Event(
        event_id="7e57a2b4-9d6c-4c54-9a57-1b6c3e1f0d21",
        type="certificate_issued",
        occurred_at=datetime.now(UTC),
        operator_id=env.operator_id,
        terminal_no=env.terminal.terminal_no,
        payload={
            "issuance_no": f"{env.terminal.terminal_no}-20261205-1",
            "kind": "juminhyo",
            "person_ids": ["P00000010"],
            "copies": 1,
            "fee_yen": 300,
            "content_digest": "ab" * 32,
        },
    )
    assert client.push_events([event]).results[0].status == "accepted"
    assert client.certificate(f"{env.terminal.terminal_no}-20261205-1").copies == 1
    env.server.build_snapshot()
    assert client.prepare_snapshot() is not None
    # An error body with the field is still read as the error it is.
    with pytest.raises(ServerRejected) as info:
        client.certificate("0001-20261205-404")
    assert info.value.status == 404 and info.value.code == "certificate_unknown"


def test_what_the_server_reads_from_terminals_stays_strict() -> None:
    with pytest.raises(ValueError):
        SessionRequest.model_validate({"operator_id": "a", "password": "b", **FUTURE})
    with pytest.raises(ValueError):
        EnrollRequest.model_validate(
            {"token": "t", "csr_pem": "c", "escrowed_dek_b64": "d", **FUTURE}
        )
