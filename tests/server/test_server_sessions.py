"""Enrollment tokens, operator logins, lockout, sessions, the escrowed DEK."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from app.sync.client import SyncClient, generate_terminal_key, make_csr
from app.sync.errors import ServerRejected
from server import security
from server.errors import AdminError
from tests.support.server import ServerEnv


def test_login_returns_profile_policy_and_this_terminals_dek(sync_server: ServerEnv) -> None:
    answer = sync_server.client.login(sync_server.operator_id, sync_server.password)
    assert answer.operator.operator_id == sync_server.operator_id
    assert set(answer.operator.roles) == {"clerk", "issuer"}
    assert base64.b64decode(answer.dek_b64) == sync_server.terminal.dek
    assert answer.policy.fee_yen == 300


def test_each_terminal_gets_its_own_dek(sync_server: ServerEnv, tmp_path: Path) -> None:
    other = sync_server.enroll_another(tmp_path / "second")
    assert other.terminal_no != sync_server.terminal.terminal_no
    client = sync_server.new_client(login=False, terminal=other)
    answer = client.login(sync_server.operator_id, sync_server.password)
    assert base64.b64decode(answer.dek_b64) == other.dek != sync_server.terminal.dek


def test_a_token_enrolls_once(sync_server: ServerEnv) -> None:
    server = sync_server.server
    token = server.make_token()
    with SyncClient(server.base_url, server.ca_cert_path) as anonymous:
        anonymous.enroll(token, make_csr(generate_terminal_key()), b"k" * 32)
        with pytest.raises(ServerRejected) as info:
            anonymous.enroll(token, make_csr(generate_terminal_key()), b"k" * 32)
        assert info.value.status == 401 and info.value.code == "token_invalid"
        with pytest.raises(ServerRejected) as info:
            anonymous.enroll("made-up", make_csr(generate_terminal_key()), b"k" * 32)
        assert info.value.code == "token_invalid"


def test_bad_csr_and_bad_dek_are_refused_without_using_the_token(sync_server: ServerEnv) -> None:
    server = sync_server.server
    token = server.make_token()
    with SyncClient(server.base_url, server.ca_cert_path) as anonymous:
        with pytest.raises(ServerRejected) as info:
            anonymous.enroll(token, "-----BEGIN CERTIFICATE REQUEST-----\nxx\n", b"k" * 32)
        assert info.value.code == "bad_csr"
        with pytest.raises(ServerRejected) as info:
            anonymous.enroll(token, make_csr(generate_terminal_key()), b"short")
        assert info.value.code == "bad_dek"
        # The token is still good.
        assert anonymous.enroll(token, make_csr(generate_terminal_key()), b"k" * 32).terminal_no


def test_wrong_password_then_lockout_after_five(sync_server_any: ServerEnv) -> None:
    sync_server = sync_server_any
    client = sync_server.new_client(login=False)
    for _ in range(4):
        with pytest.raises(ServerRejected) as info:
            client.login(sync_server.operator_id, "wrong password")
        assert info.value.status == 401 and info.value.code == "invalid_credentials"
    with pytest.raises(ServerRejected) as info:
        client.login(sync_server.operator_id, "wrong password")
    assert info.value.code == "operator_locked"
    with pytest.raises(ServerRejected) as info:
        client.login(sync_server.operator_id, sync_server.password)
    assert info.value.code == "operator_locked" and "ロック" in info.value.message
    sync_server.server.update_operator(sync_server.operator_id, unlock=True)
    assert client.login(sync_server.operator_id, sync_server.password).session_token


def test_unknown_operator_gets_the_same_answer_as_a_wrong_password(
    sync_server: ServerEnv,
) -> None:
    client = sync_server.new_client(login=False)
    with pytest.raises(ServerRejected) as info:
        client.login("nobody", "whatever")
    assert info.value.code == "invalid_credentials"


def test_feed_needs_a_session_of_this_terminal(sync_server: ServerEnv, tmp_path: Path) -> None:
    client = sync_server.new_client(login=False)
    with pytest.raises(ServerRejected) as info:
        client.changes(0)
    assert info.value.code == "session_required" and info.value.session_expired
    client.session_token = "forged"
    with pytest.raises(ServerRejected) as info:
        client.changes(0)
    assert info.value.code == "session_invalid"
    # A session opened on one terminal does not work from another.
    other = sync_server.new_client(login=False, terminal=sync_server.enroll_another(tmp_path / "o"))
    other.session_token = sync_server.client.session_token
    with pytest.raises(ServerRejected) as info:
        other.changes(0)
    assert info.value.code == "session_invalid"


def test_deactivated_operator_loses_session_and_login(sync_server: ServerEnv) -> None:
    sync_server.server.update_operator(sync_server.operator_id, active=False)
    with pytest.raises(ServerRejected) as info:
        sync_server.client.changes(0)
    assert info.value.code == "session_invalid"
    with pytest.raises(ServerRejected) as info:
        sync_server.client.login(sync_server.operator_id, sync_server.password)
    assert info.value.code == "operator_inactive"


def test_admin_refuses_bad_operator_data(sync_server: ServerEnv) -> None:
    with pytest.raises(AdminError, match="役割"):
        sync_server.server.add_operator("x1", "x", ["wizard"], "本庁", "long enough")
    with pytest.raises(AdminError, match="15文字"):
        sync_server.server.add_operator("x2", "x", ["clerk"], "本庁", "short")
    with pytest.raises(AdminError, match="すでに"):
        sync_server.server.add_operator(
            sync_server.operator_id, "x", ["clerk"], "本庁", "long enough to pass"
        )


def test_production_password_hash_is_argon2id_at_full_cost() -> None:
    security.configure_hasher(3, 65536)
    stored = security.hash_password("秘密のパスワード")
    assert stored.startswith("$argon2id$") and "m=65536,t=3" in stored
    assert security.verify_password(stored, "秘密のパスワード")
    assert not security.verify_password(stored, "違う")
    assert not security.verify_password("not a hash", "x")


def test_escrowed_dek_is_bound_to_its_terminal() -> None:
    key = b"m" * 32
    sealed = security.seal_dek(key, "0001", b"d" * 32)
    assert b"d" * 32 not in sealed
    assert security.open_dek(key, "0001", sealed) == b"d" * 32
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        security.open_dek(key, "0002", sealed)
