"""Issue 21 item 9: every request of the terminal names its protocol and program version (the
version handshake's headers), as the real server receives them: login, the feed, the events,
the digest and the audit head of a whole sync round."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import server.embedded
from app.sync.client import CLIENT_VERSION
from app.sync.protocol import (
    API_PREFIX,
    CLIENT_VERSION_HEADER,
    PROTOCOL_VERSION,
    PROTOCOL_VERSION_HEADER,
)
from tests.sync.rig import Rig, Template


class HeaderLog:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def wrap(self, app: Any) -> Any:
        log = self

        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
                log.requests.append((scope["method"], scope["path"], headers))
            await app(scope, receive, send)

        return asgi


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return Template.make(tmp_path_factory.mktemp("headers-template"), n_households=10, members=2)


@pytest.fixture
def headers(monkeypatch: pytest.MonkeyPatch) -> HeaderLog:
    log = HeaderLog()
    real = server.embedded.create_app
    monkeypatch.setattr(server.embedded, "create_app", lambda *a, **kw: log.wrap(real(*a, **kw)))
    return log


@pytest.fixture
def rig(tmp_path: Path, template: Template, headers: HeaderLog) -> Iterator[Rig]:
    r = Rig.start(tmp_path, template)
    try:
        yield r
    finally:
        r.close()


def test_every_request_names_its_versions(rig: Rig, headers: HeaderLog) -> None:
    rig.client.login(rig.env.operator_id, rig.env.password)
    rig.issue_events(2)
    report = rig.engine.sync_once(anti_entropy=True)
    assert report.error is None, report.message
    paths = {path for _, path, _ in headers.requests}
    assert {f"{API_PREFIX}/sessions", f"{API_PREFIX}/changes", f"{API_PREFIX}/events"} <= paths
    assert f"{API_PREFIX}/digest" in paths
    for method, path, sent in headers.requests:
        if not path.startswith(API_PREFIX + "/"):
            continue
        assert sent.get(PROTOCOL_VERSION_HEADER.lower()) == str(PROTOCOL_VERSION), (method, path)
        assert sent.get(CLIENT_VERSION_HEADER.lower()) == CLIENT_VERSION, (method, path)
