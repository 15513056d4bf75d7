"""`madoguchi-server` end to end: init, operator add, token, import, serve (a real process)."""

from __future__ import annotations

import os
import re
import secrets
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.sync.client import SyncClient, generate_terminal_key, make_csr, store_enrollment
from app.sync.errors import ServerUnreachable
from server.cli import main
from tests.support.poll import poll_until
from tests.support.server import KEY_PASSWORD, make_households, write_jsonl


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_init_import_operator_token_and_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    env = {
        **os.environ,
        "MADOGUCHI_SERVER_DATA_DIR": str(data),
        "MADOGUCHI_SERVER_PASSWORD_MEMORY_KIB": "1024",
        "MADOGUCHI_SERVER_PASSWORD_TIME_COST": "1",
    }
    for k in (
        "MADOGUCHI_SERVER_DATA_DIR",
        "MADOGUCHI_SERVER_PASSWORD_MEMORY_KIB",
        "MADOGUCHI_SERVER_PASSWORD_TIME_COST",
    ):
        monkeypatch.setenv(k, env[k])
    assert main(["init", "--municipality-name", "北見市"]) == 0
    assert (data / "ca" / "ca.pem").exists() and (data / "server.toml").exists()
    assert main(["init"]) == 0  # idempotent

    households = make_households(3)
    bad = dict(households[0], postal_code="123")
    write_jsonl(tmp_path / "in.jsonl", [*households, bad])
    capsys.readouterr()
    assert main(["import", str(tmp_path / "in.jsonl")]) == 1  # one bad line → non-zero
    out = capsys.readouterr()
    assert (
        "in.jsonl:4:" in out.err and "郵便番号" in out.err and "何も取り込んでいません" in out.out
    )
    assert "「123」" not in out.err  # the line and the field, never the value
    write_jsonl(tmp_path / "in.jsonl", households)  # corrected: all of it goes in
    assert main(["import", str(tmp_path / "in.jsonl")]) == 0
    assert "新規 3" in capsys.readouterr().out

    # The register for initial syncs: a keyed file and its sealed key, no plaintext.
    assert main(["snapshot"]) == 0
    assert re.search(r"写しを作成しました\(同期位置 \d+、[\d.]+ MiB", capsys.readouterr().out)
    (base,) = (data / "snapshots").glob("base-*.db")
    assert households[0]["address"].encode() not in base.read_bytes()

    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("a-long-passphrase-9\n"))
    assert (
        main(
            [
                "operator",
                "add",
                "--id",
                "op9",
                "--name",
                "試験",
                "--roles",
                "clerk,issuer",
                "--branch",
                "本庁",
                "--password-stdin",
            ]
        )
        == 0
    )
    assert (
        main(["operator", "add", "--id", "op8", "--name", "x", "--roles", "clerk", "--branch", "b"])
        == 1
    )  # refuses a password on the command line (none given)
    capsys.readouterr()
    assert main(["terminal", "token"]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) > 30

    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"https://127.0.0.1:{port}"
        key = generate_terminal_key()

        def enroll() -> Any:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            with SyncClient(base, data / "ca" / "ca.pem") as anon:
                return anon.enroll(token, make_csr(key), secrets.token_bytes(32))

        answer = poll_until(
            enroll, timeout=60, interval=0.3, what="the server", retry_on=(ServerUnreachable,)
        )
        cert, key_path, ca = store_enrollment(tmp_path / "t", key, answer, KEY_PASSWORD)
        with SyncClient(base, ca, cert, key_path, KEY_PASSWORD) as client:
            client.login("op9", "a-long-passphrase-9")
            page = client.changes(0, 100)
        assert sum(1 for i in page.items if i.kind == "household") == 3
        # Two worker processes, one private log file, paths without their query strings.
        log = data / "logs" / "server.log"

        def two_workers() -> bool:
            assert proc.poll() is None
            started = re.findall(r"Started server process \[(\d+)\]", log.read_text())
            return len(set(started)) >= 2

        poll_until(two_workers, timeout=60, interval=0.2, what="two worker processes")
        text = log.read_text(encoding="utf-8")
        assert '"GET /v1/changes HTTP/1.1" 200' in text and "after=" not in text
        assert "a-long-passphrase-9" not in text
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        assert main(["terminal", "revoke", answer.terminal_no]) == 0
        assert main(["terminal", "revoke", "9999"]) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_cli_without_init_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data-dir", str(tmp_path / "none"), "terminal", "token"]) == 1
    assert "init" in capsys.readouterr().err


def test_cli_admin_commands_on_operators_terminals_and_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from server import admin
    from server.config import load_config

    d = ["--data-dir", str(tmp_path / "d")]
    monkeypatch.setenv("MADOGUCHI_SERVER_PASSWORD_MEMORY_KIB", "1024")
    monkeypatch.setenv("MADOGUCHI_SERVER_PASSWORD_TIME_COST", "1")
    assert main([*d, "init"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-passphrase-9\n"))
    assert (
        main(
            [
                *d,
                "operator",
                "add",
                "--id",
                "s1",
                "--name",
                "監督",
                "--roles",
                "supervisor",
                "--branch",
                "常呂",
                "--password-stdin",
                "--person-id",
                "P00000010",
            ]
        )
        == 0
    )
    assert main([*d, "operator", "roles", "s1", "--roles", "supervisor,auditor"]) == 0
    assert main([*d, "operator", "roles", "s1", "--roles", "emperor"]) == 1
    assert main([*d, "operator", "deactivate", "s1"]) == 0
    assert main([*d, "operator", "unlock", "nobody"]) == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO("another-passphrase-7\n"))
    assert main([*d, "operator", "password", "s1", "--password-stdin"]) == 0
    capsys.readouterr()
    assert main([*d, "operator", "list"]) == 0
    assert capsys.readouterr().out.startswith("s1\t無効\tsupervisor,auditor\t常呂")
    assert main([*d, "policy", "set", "fee_yen=350", "mayor_name=北見 次郎"]) == 0
    assert main([*d, "policy", "set", "no_such=1"]) == 1
    capsys.readouterr()
    assert main([*d, "policy", "show"]) == 0
    shown = capsys.readouterr().out
    assert '"fee_yen": 350' in shown and "北見 次郎" in shown
    assert main([*d, "terminal", "list"]) == 0
    assert main([*d, "openapi", "--out", str(tmp_path / "o.json")]) == 0
    assert (tmp_path / "o.json").read_text(encoding="utf-8").startswith("{")

    db = admin.init_server(load_config(data_dir=tmp_path / "d", env={}))
    try:
        from sqlalchemy import select

        from server.tables import operators

        with db.read() as conn:
            row = conn.execute(select(operators)).one()
        assert (row.roles, row.active, row.person_id) == ("supervisor,auditor", False, "P00000010")
        with db.read() as conn:
            assert admin.get_policy(conn).fee_yen == 350
    finally:
        db.dispose()
