"""`madoguchi enroll` against a real server on loopback (HTTPS), as the administrator runs it.

The CA's fingerprint is checked before anything is sent: with a wrong fingerprint, or a server
whose CA is not the pinned one, the server's enroll operation is never reached and the token
stays usable. The success path keeps the device secret in the real Secret Service keyring.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from app.services.terminal import TerminalConfig, TerminalFiles
from cli.main import main as madoguchi
from server import admin, setup_cli
from server.embedded import EmbeddedServer
from server.tables import enrollment_tokens, terminals
from tests.support.server import FAST_PASSWORDS

WRONG = "ab" * 32


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    srv = EmbeddedServer(tmp_path / "server", **FAST_PASSWORDS)
    srv.start()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def enroll_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every POST /v1/enroll the server handles (the route calls server.admin.enroll)."""
    calls: list[str] = []
    real = admin.enroll

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append("enroll")
        return real(*args, **kwargs)

    monkeypatch.setattr(admin, "enroll", spy)
    return calls


def _provision(tmp_path: Path, server: EmbeddedServer, **changes: str) -> Path:
    """provisioning.json beside the data folder, as the MSI installs it; → the data folder."""
    doc = setup_cli.provisioning_document(server.config, server.base_url)
    doc.update(changes)
    (tmp_path / "Madoguchi").mkdir(exist_ok=True)
    (tmp_path / "Madoguchi" / "provisioning.json").write_text(json.dumps(doc), encoding="utf-8")
    return tmp_path / "Madoguchi" / "terminal"


def _tokens_used(server: EmbeddedServer) -> int:
    with server.db.read() as conn:
        rows = conn.execute(select(enrollment_tokens.c.used_at)).all()
    return sum(1 for r in rows if r.used_at is not None)


def test_enroll_with_the_provisioned_defaults(
    server: EmbeddedServer,
    tmp_path: Path,
    secret_service,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MADOGUCHI_PROVISIONING", raising=False)
    data_dir = _provision(tmp_path, server)
    token = server.make_token()
    assert madoguchi(["enroll", "--data-dir", str(data_dir), "--token", token]) == 0
    out = capsys.readouterr().out
    assert "認証局の指紋が一致しました" in out and "登録しました" in out
    config = TerminalConfig.load(TerminalFiles(data_dir))
    assert config.server_url == server.base_url and config.municipality_code == "012084"
    assert f"端末 {config.terminal_no}" in out
    # The device secret is in the keyring, the DEK escrowed, the key encrypted.
    import keyring

    assert keyring.get_password("madoguchi", f"device-secret:{config.install_id}")
    assert b"ENCRYPTED" in (data_dir / "terminal.key").read_bytes()
    assert (data_dir / "ca.pem").read_bytes() == server.ca_cert_path.read_bytes()

    # A second run: this PC is enrolled already; the token is not consumed.
    again = server.make_token()
    assert madoguchi(["enroll", "--data-dir", str(data_dir), "--token", again]) == 6
    assert "すでに端末" in capsys.readouterr().out
    assert _tokens_used(server) == 1


def test_wrong_fingerprint_is_refused_before_the_token_is_sent(
    server: EmbeddedServer,
    tmp_path: Path,
    enroll_calls: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = server.make_token()
    data_dir = tmp_path / "terminal"
    argv = ["enroll", "--data-dir", str(data_dir), "--server", server.base_url]
    code = madoguchi([*argv, "--ca-fingerprint", WRONG, "--token", token])
    assert code == 3
    out = capsys.readouterr().out
    assert "指紋" in out and "一致しません" in out and "何も送っていません" in out
    assert enroll_calls == [] and _tokens_used(server) == 0
    assert not (data_dir / "terminal.json").exists()


def test_a_server_with_another_ca_gets_nothing(
    server: EmbeddedServer,
    tmp_path: Path,
    enroll_calls: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An impostor at the server's address: its CA is not the one the city pinned."""
    impostor = EmbeddedServer(tmp_path / "impostor", **FAST_PASSWORDS)
    impostor.start()
    try:
        data_dir = _provision(tmp_path, server)  # the real server's fingerprint
        code = madoguchi(
            ["enroll", "--data-dir", str(data_dir), "--server", impostor.base_url,
             "--token", server.make_token()]
        )  # fmt: skip
    finally:
        impostor.close()
    assert code == 3 and "一致しません" in capsys.readouterr().out
    assert enroll_calls == []


def test_used_and_expired_tokens(
    server: EmbeddedServer,
    tmp_path: Path,
    secret_service,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fp = setup_cli.ca_fingerprint(server.config)
    token = server.make_token()
    base = ["enroll", "--server", server.base_url, "--ca-fingerprint", fp, "--token"]
    assert madoguchi([*base, token, "--data-dir", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert madoguchi([*base, token, "--data-dir", str(tmp_path / "b")]) == 4
    assert "使用済み・期限切れ" in capsys.readouterr().out
    assert not (tmp_path / "b" / "terminal.json").exists()
    # Expired: a token from a server whose tokens live no time at all.
    server.config = replace(server.config, token_hours=0)
    expired = server.make_token()
    assert madoguchi([*base, expired, "--data-dir", str(tmp_path / "c")]) == 4
    # Nothing is left of the refused attempts (no device secret in the keyring).
    import keyring

    for folder in ("b", "c"):
        assert not (tmp_path / folder / "terminal.key").exists()
    assert keyring.get_keyring() is not None


def test_unreachable_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    code = madoguchi(
        ["enroll", "--data-dir", str(tmp_path / "t"), "--server", f"https://127.0.0.1:{port}",
         "--ca-fingerprint", WRONG, "--token", "x"]
    )  # fmt: skip
    assert code == 5
    assert "接続できません" in capsys.readouterr().out


def test_another_municipality_or_a_too_old_program(
    server: EmbeddedServer,
    tmp_path: Path,
    enroll_calls: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MADOGUCHI_PROVISIONING", raising=False)
    data_dir = _provision(tmp_path, server, municipality_code="011002")  # 札幌市
    assert madoguchi(["enroll", "--data-dir", str(data_dir), "--token", server.make_token()]) == 7
    assert "一致しません" in capsys.readouterr().out and enroll_calls == []

    server.stop()
    server.config = replace(server.config, min_client_version="99.0")
    server.start()
    data_dir = _provision(tmp_path, server)
    assert madoguchi(["enroll", "--data-dir", str(data_dir), "--token", server.make_token()]) == 8
    assert "古いため使用できません" in capsys.readouterr().out and enroll_calls == []


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.delenv("MADOGUCHI_PROVISIONING", raising=False)
    data_dir = tmp_path / "Madoguchi" / "terminal"
    assert madoguchi(["enroll", "--data-dir", str(data_dir), "--token", "x"]) == 2
    assert "provisioning.json" in capsys.readouterr().out
    (tmp_path / "Madoguchi").mkdir()
    (tmp_path / "Madoguchi" / "provisioning.json").write_text("{", encoding="utf-8")
    assert madoguchi(["enroll", "--data-dir", str(data_dir), "--token", "x"]) == 2
    assert "JSON" in capsys.readouterr().out


def test_terminal_row_names_the_pc(server: EmbeddedServer, tmp_path: Path, secret_service) -> None:
    fp = setup_cli.ca_fingerprint(server.config)
    argv = ["enroll", "--server", server.base_url, "--ca-fingerprint", fp]
    assert (
        madoguchi([*argv, "--token", server.make_token(), "--data-dir", str(tmp_path / "t")]) == 0
    )
    with server.db.read() as conn:
        (row,) = conn.execute(select(terminals.c.terminal_no, terminals.c.hostname)).all()
    assert row.hostname == socket.gethostname()[:255] or row.hostname == ""
