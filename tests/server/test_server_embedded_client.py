"""EmbeddedServer lifecycle and the client's typed errors."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from app.sync.client import SyncClient
from app.sync.errors import MalformedAnswer, ServerFailed, ServerRejected, ServerUnreachable
from server.embedded import EmbeddedServer, EmbeddedServerError
from tests.support.server import FAST_PASSWORDS, ServerEnv


def test_port_in_use_is_a_clear_japanese_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        server = EmbeddedServer(tmp_path / "s", port=port, **FAST_PASSWORDS)
        try:
            with pytest.raises(EmbeddedServerError) as info:
                server.start()
            assert f"ポート {port}" in info.value.message and "使用中" in info.value.message
        finally:
            server.close()


def test_stop_then_start_again_keeps_the_data(sync_server: ServerEnv) -> None:
    server = sync_server.server
    first_port = server.port
    before = sync_server.client.changes(0, 100).latest_seq
    server.stop()
    assert not server.running
    with pytest.raises(ServerUnreachable) as info:
        sync_server.client.changes(0, 1)
    assert "接続できません" in info.value.message
    server.start()
    assert server.running and server.port is not None
    client = sync_server.new_client()
    assert client.changes(0, 100).latest_seq == before
    assert first_port is not None


def test_base_url_before_start_is_an_error(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "s", **FAST_PASSWORDS)
    try:
        with pytest.raises(EmbeddedServerError):
            _ = server.base_url
        assert server.ca_cert_path.exists()
    finally:
        server.close()


def _client(handler, tmp_path: Path) -> SyncClient:  # type: ignore[no-untyped-def]
    from server.ca import create_ca
    from server.config import load_config

    cfg = load_config(data_dir=tmp_path / "ca", env={})
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    create_ca(cfg)
    # The CA file is real (the client loads it); the transport is fake.
    client = SyncClient(
        "https://example.invalid", cfg.ca_cert_path, transport=httpx.MockTransport(handler)
    )
    client.session_token = "s"
    return client


def test_client_maps_answers_to_typed_errors(tmp_path: Path) -> None:
    answers = {
        "/v1/digest": httpx.Response(503, json={"code": "down", "message": "停止中です。"}),
        "/v1/records": httpx.Response(200, content=b'{"bucket": 1'),
        "/v1/changes": httpx.Response(200, json={"items": [], "next_after": 0}),
        "/v1/certificates/x": httpx.Response(404, text="not json"),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/sessions":
            raise httpx.ReadTimeout("slow", request=request)
        assert request.headers["X-Madoguchi-Session"] == "s"
        return answers[request.url.path]

    client = _client(handler, tmp_path)
    with pytest.raises(ServerFailed) as failed:
        client.digest()
    assert failed.value.status == 503 and failed.value.message == "停止中です。"
    with pytest.raises(MalformedAnswer):
        client.records(1)
    with pytest.raises(MalformedAnswer):  # missing has_more / latest_seq
        client.changes(0)
    with pytest.raises(ServerRejected) as rejected:
        client.certificate("x")
    assert rejected.value.status == 404 and rejected.value.code == "http_404"
    assert "拒否" in rejected.value.message
    with pytest.raises(ServerUnreachable) as unreachable:
        client.login("a", "b")
    assert "タイムアウト" in unreachable.value.message


def test_unreadable_terminal_files_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ServerUnreachable) as info:
        SyncClient("https://127.0.0.1:1", tmp_path / "missing-ca.pem")
    assert "証明書" in info.value.message


def test_wrong_key_password_is_a_clear_error(sync_server: ServerEnv) -> None:
    t = sync_server.terminal
    with pytest.raises(ServerUnreachable):
        SyncClient(sync_server.server.base_url, t.ca_path, t.cert_path, t.key_path, b"wrong")
