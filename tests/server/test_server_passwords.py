"""Issue 21 item 6: the password policy on the server, the change API, the forced change after
an administrator's reset (HTTP-level, real server; SQLite and PostgreSQL where it matters)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import httpx
import pytest

from app.domain.passwords import PasswordRules
from app.sync.errors import ServerRejected
from server.cli import main as server_main
from server.errors import AdminError
from tests.support.server import ServerEnv

GOOD = "a quiet river at dawn"
TEMPORARY = "temporary reset phrase 7"


@pytest.mark.parametrize(
    "password",
    [
        "password",
        "12345678",
        "short one",  # 9 characters
        "password1234567",  # 15, common word plus a run
        "123456789012345",  # 15, a run
        "1q2w3e4r5t6y7u8i",  # 16, in the breach list
        "qqqqqqqqqqqqqqqqqq",
        "qwertyuiopasdfgh",  # keyboard walks and repeated blocks were accepted
        "1qaz2wsx3edc4rfv5tgb",
        "zxcvbnmasdfghjkl",
        "123123123123123123",
        "abcabcabcabcabcabc",
        "new-k0123 is my name",  # the operator id
        "madoguchi北見市2026",  # the service and the city
    ],
)
def test_weak_passwords_are_refused_when_an_operator_is_added(
    sync_server: ServerEnv, password: str
) -> None:
    with pytest.raises(AdminError, match="パスワード"):
        sync_server.server.add_operator("new-k0123", "x", ["clerk"], "本庁", password)
    # An administrator's reset is held to the same rules.
    if "k0123" not in password:
        with pytest.raises(AdminError, match="パスワード"):
            sync_server.server.update_operator(sync_server.operator_id, password=password)


def test_long_passphrases_without_composition_rules_are_accepted() -> None:
    rules = PasswordRules(context_words=("北見市", "012084"))
    long_ones = [GOOD, "きたみの冬はとても長くて雪が多い", "839201746583920", "xyz" + "z" * 64]
    for ok in long_ones:
        assert rules.problems(ok, "clerk01") == [], ok
    assert rules.problems("a" * 257, "clerk01")  # past the maximum of 256
    assert PasswordRules(min_length=4).problems("abcdefg")  # never below 8


def test_cli_operator_add_refuses_a_common_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    d = ["--data-dir", str(tmp_path / "d")]
    monkeypatch.setenv("MADOGUCHI_SERVER_PASSWORD_MEMORY_KIB", "1024")
    monkeypatch.setenv("MADOGUCHI_SERVER_PASSWORD_TIME_COST", "1")
    assert server_main([*d, "init"]) == 0
    add = [*d, "operator", "add", "--id", "k1", "--name", "試験", "--roles", "clerk"]
    add += ["--branch", "本庁", "--password-stdin"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("password\n"))
    assert server_main(add) == 1
    assert "よく使われている" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("12345678\n"))
    assert server_main(add) == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO(GOOD + "\n"))
    assert server_main(add) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("password\n"))
    assert server_main([*d, "operator", "password", "k1", "--password-stdin"]) == 1


def test_an_operator_changes_their_own_password(sync_server_any: ServerEnv) -> None:
    env = sync_server_any
    client = env.client
    old_token = client.session_token
    answer = client.change_password(env.password, GOOD)
    assert answer.session_token != old_token and answer.dek_b64
    assert answer.must_change_password is False
    client.changes(0)  # the new session works
    stale = env.new_client(login=False)
    stale.session_token = old_token
    with pytest.raises(ServerRejected) as info:
        stale.changes(0)  # every earlier session ended
    assert info.value.code == "session_invalid"
    with pytest.raises(ServerRejected) as info:
        env.new_client(login=False).login(env.operator_id, env.password)
    assert info.value.code == "invalid_credentials"
    assert env.new_client(login=False).login(env.operator_id, GOOD).session_token


def test_a_change_needs_the_old_password_and_a_good_new_one(sync_server_any: ServerEnv) -> None:
    env = sync_server_any
    with pytest.raises(ServerRejected) as info:
        env.client.change_password("not the password", GOOD)
    assert info.value.status == 401 and info.value.code == "invalid_credentials"
    with pytest.raises(ServerRejected) as info:
        env.client.change_password(env.password, "password")
    assert info.value.status == 422 and info.value.code == "weak_password"
    assert "よく使われている" in info.value.message
    with pytest.raises(ServerRejected) as info:
        env.client.change_password(env.password, env.password)
    assert info.value.code == "weak_password" and "同じ" in info.value.message
    # Wrong old passwords count toward the lockout like wrong logins.
    for _ in range(3):
        with pytest.raises(ServerRejected):
            env.client.change_password("still wrong", GOOD)
    with pytest.raises(ServerRejected) as info:
        env.client.change_password("still wrong", GOOD)
    assert info.value.code == "operator_locked"


def test_after_an_administrators_reset_only_the_change_is_allowed(
    sync_server_any: ServerEnv,
) -> None:
    env = sync_server_any
    env.server.update_operator(env.operator_id, password=TEMPORARY)
    # The reset ended the open session.
    with pytest.raises(ServerRejected) as info:
        env.client.changes(0)
    assert info.value.code == "session_invalid"
    client = env.new_client(login=False)
    answer = client.login(env.operator_id, TEMPORARY)
    assert answer.must_change_password is True and answer.dek_b64 == ""
    for call in (
        lambda: client.changes(0),
        lambda: client.digest(),
        lambda: client.push_events([]),
        lambda: client.certificate("0001-20261203-1"),
    ):
        with pytest.raises(ServerRejected) as info:
            call()
        assert info.value.status == 403 and info.value.code == "password_change_required"
    answer = client.change_password(TEMPORARY, GOOD)
    assert answer.must_change_password is False and answer.dek_b64
    assert client.changes(0).latest_seq > 0


def test_the_flag_is_not_sent_when_false(sync_server: ServerEnv) -> None:
    """Terminals older than the field refuse an answer that carries it: only sent when true."""
    import ssl

    env = sync_server
    ctx = ssl.create_default_context(cafile=str(env.terminal.ca_path))
    ctx.load_cert_chain(
        str(env.terminal.cert_path), str(env.terminal.key_path), password=env.terminal.key_password
    )
    with httpx.Client(verify=ctx) as http:
        body = http.post(
            f"{env.server.base_url}/v1/sessions",
            json={"operator_id": env.operator_id, "password": env.password},
        ).json()
    assert "must_change_password" not in body and body["dek_b64"]
