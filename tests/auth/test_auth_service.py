"""Login online/offline, failed logins, unlock, takeover, password change, approval, reveal.

The chain is the real one on a SQLCipher file; the server and the key slots are fakes with the
errors the real ones raise (app.sync.errors, app.store.errors).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric import ec

from app.auth.approval import approve
from app.auth.errors import (
    ApprovalRefused,
    InvalidCredentials,
    LockedOut,
    ReasonRequired,
    SessionEnded,
    WeakPassword,
)
from app.auth.idle import IdlePolicy
from app.auth.lockout import LockoutTracker
from app.auth.permissions import PermissionDenied
from app.auth.reveal import MASK, format_my_number, mask_my_number, reveal_my_number
from app.auth.service import AuthService
from app.auth.session import Session
from app.domain.passwords import PasswordRules
from app.store.audit import AUDIT_TABLE_DDL, AuditChain, signer_for
from app.store.errors import NoSlot, WrongPassword
from app.sync.errors import ServerFailed, ServerRejected, ServerUnreachable
from app.sync.protocol import OperatorProfile, Policy, SessionResponse

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

PROFILES = {
    "clerk1": OperatorProfile(
        operator_id="clerk1", display_name="職員一", roles=("clerk",), branch="端野支所"
    ),
    "issuer1": OperatorProfile(
        operator_id="issuer1", display_name="交付一", roles=("issuer",), branch="端野支所"
    ),
    "super1": OperatorProfile(
        operator_id="super1", display_name="監督一", roles=("supervisor",), branch="端野支所"
    ),
    "gone": OperatorProfile(
        operator_id="gone", display_name="退職", roles=("clerk",), branch="端野支所", active=False
    ),
}
PASSWORDS = {k: f"Pw-{k}-2026x" for k in PROFILES}


class FakeServer:
    def __init__(self) -> None:
        self.up = True
        self.calls: list[str] = []

    def login(self, operator_id: str, password: str) -> SessionResponse:
        self.calls.append(operator_id)
        if not self.up:
            raise ServerUnreachable()
        if PASSWORDS.get(operator_id) != password:
            raise ServerRejected(401, "invalid_credentials", "職員IDまたはパスワードが違います。")
        return SessionResponse(
            session_token="tok-" + operator_id,
            operator=PROFILES[operator_id],
            dek_b64="AA==",
            policy=Policy(),
            server_time=T0,
        )

    def verify(self, operator_id: str, password: str) -> OperatorProfile:
        if PASSWORDS.get(operator_id) != password:
            raise InvalidCredentials()
        return PROFILES[operator_id]

    def change(self, operator_id: str, old: str, new: str) -> None:
        if PASSWORDS[operator_id] != old:
            raise InvalidCredentials("現在のパスワードが違います。")
        PASSWORDS[operator_id] = new


class FakeSlots:
    """The offline path: NoSlot without an earlier online login, WrongPassword on a bad one."""

    def __init__(self, *with_slot: str) -> None:
        self.with_slot = set(with_slot)

    def login(self, operator_id: str, password: str) -> OperatorProfile:
        if operator_id not in self.with_slot:
            raise NoSlot()
        if PASSWORDS[operator_id] != password:
            raise WrongPassword(4)
        return PROFILES[operator_id]


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[AuditChain]:
    conn = sqlcipher3.connect(str(tmp_path / "cache.db"))
    conn.execute(f"PRAGMA key = \"x'{os.urandom(32).hex()}'\"")
    conn.execute(AUDIT_TABLE_DDL)
    conn.commit()
    yield AuditChain(conn, "T0001", signer_for(ec.generate_private_key(ec.SECP256R1())))
    conn.close()


@pytest.fixture(autouse=True)
def _reset_passwords() -> Iterator[None]:
    saved = dict(PASSWORDS)
    yield
    PASSWORDS.clear()
    PASSWORDS.update(saved)


def _service(
    server: FakeServer, slots: FakeSlots | None = None, record: Any = None, **kw: Any
) -> AuthService:
    clock = iter(T0 + timedelta(seconds=i) for i in range(10_000))
    return AuthService(
        terminal_no="T0001",
        online_login=server.login,
        offline_login=(slots or FakeSlots()).login,
        change_password=server.change,
        record=record,
        clock=lambda: next(clock),
        hasher=FAST,
        **kw,
    )


def _trail(chain: AuditChain) -> list[tuple[str, str]]:
    return [(e.operator_id, e.action) for e in chain.entries()]


def test_online_login_logout_recorded(chain: AuditChain) -> None:
    auth = _service(FakeServer(), record=chain.append)
    s = auth.login("issuer1", PASSWORDS["issuer1"])
    assert s.online and s.token == "tok-issuer1" and s.terminal_no == "T0001"
    assert "tok-issuer1" not in repr(s)
    auth.logout()
    assert _trail(chain) == [("issuer1", "login"), ("issuer1", "logout")]
    assert auth.session is None


def test_wrong_password_online_is_recorded_and_not_echoed(chain: AuditChain) -> None:
    auth = _service(FakeServer(), record=chain.append)
    with pytest.raises(ServerRejected):
        auth.login("clerk1", "guess-guess-1")
    assert _trail(chain) == [("clerk1", "login_failed")]
    assert all("guess" not in (e.reason or "") for e in chain.entries())


def test_offline_fallback_and_failures_recorded_once_the_cache_opens(chain: AuditChain) -> None:
    server = FakeServer()
    server.up = False
    auth = _service(server, FakeSlots("clerk1"))  # cache closed: no recorder yet
    with pytest.raises(WrongPassword) as exc:
        auth.login("clerk1", "wrong-password-1")
    assert "あと4回" in exc.value.message
    with pytest.raises(NoSlot):
        auth.login("issuer1", PASSWORDS["issuer1"])  # first login on a terminal is online
    s = auth.login("clerk1", PASSWORDS["clerk1"])
    assert not s.online and s.token is None
    auth.attach_recorder(chain.append)
    entries = chain.entries()
    assert [(e.operator_id, e.action) for e in entries] == [
        ("clerk1", "login_failed"),
        ("issuer1", "login_failed"),
        ("clerk1", "login"),
    ]
    assert entries[0].at < entries[2].at  # the original times, not the flush time


def test_invalid_credentials_from_the_login_callable_are_recorded(chain: AuditChain) -> None:
    def login(operator_id: str, password: str) -> SessionResponse:
        raise InvalidCredentials()

    auth = AuthService(terminal_no="T0001", online_login=login, record=chain.append, hasher=FAST)
    with pytest.raises(InvalidCredentials):
        auth.login("clerk1", "x")
    assert _trail(chain) == [("clerk1", "login_failed")]


def test_server_failure_falls_back_to_the_key_slot() -> None:
    def login(operator_id: str, password: str) -> SessionResponse:
        raise ServerFailed(503)

    auth = AuthService(
        terminal_no="T0001",
        online_login=login,
        offline_login=FakeSlots("clerk1").login,
        hasher=FAST,
    )
    assert auth.login("clerk1", PASSWORDS["clerk1"]).online is False


def test_inactive_operator_refused() -> None:
    PASSWORDS["gone"] = "Pw-gone-2026x"
    with pytest.raises(InvalidCredentials):
        _service(FakeServer()).login("gone", PASSWORDS["gone"])
    with pytest.raises(InvalidCredentials):
        _service(FakeServer()).login("  ", "")


def test_unlock_with_own_password_and_lockout_after_five(chain: AuditChain) -> None:
    auth = _service(FakeServer(), record=chain.append)
    auth.login("clerk1", PASSWORDS["clerk1"])
    auth.lock()
    with pytest.raises(InvalidCredentials):
        auth.unlock("nope")
    auth.unlock(PASSWORDS["clerk1"])
    auth.lock()
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            auth.unlock("nope")
    with pytest.raises(LockedOut):
        auth.unlock("nope")
    assert auth.session is None  # the fifth failure ends the session
    with pytest.raises(SessionEnded):
        auth.unlock(PASSWORDS["clerk1"])
    actions = [a for _, a in _trail(chain)]
    assert actions[:5] == ["login", "lock", "login_failed", "unlock", "lock"]
    assert actions[-1] == "logout" and actions.count("login_failed") == 6


def test_takeover_switches_the_session(chain: AuditChain) -> None:
    auth = _service(FakeServer(), record=chain.append)
    auth.login("clerk1", PASSWORDS["clerk1"])
    auth.lock()
    with pytest.raises(ServerRejected):
        auth.takeover("issuer1", "bad")
    assert auth.session is not None and auth.session.operator_id == "clerk1"
    s = auth.takeover("issuer1", PASSWORDS["issuer1"])
    assert s.operator_id == "issuer1" and auth.session is s
    assert _trail(chain)[-2:] == [("clerk1", "logout"), ("issuer1", "takeover")]
    assert chain.entries()[-1].target_ids == ("clerk1",)
    auth.lock()
    auth.unlock(PASSWORDS["issuer1"])  # the new operator's password unlocks now
    with pytest.raises(InvalidCredentials):
        auth.unlock(PASSWORDS["clerk1"])


def test_takeover_through_its_own_check(chain: AuditChain) -> None:
    server = FakeServer()
    auth = _service(server, record=chain.append, takeover_login=server.verify)
    auth.login("clerk1", PASSWORDS["clerk1"])
    calls_before = list(server.calls)
    with pytest.raises(InvalidCredentials):
        auth.takeover("issuer1", "bad")
    s = auth.takeover("issuer1", PASSWORDS["issuer1"])
    assert s.operator_id == "issuer1" and s.roles == ("issuer",)
    assert server.calls == calls_before  # no second login (nothing reopened)
    assert _trail(chain)[-3:] == [
        ("issuer1", "login_failed"),
        ("clerk1", "logout"),
        ("issuer1", "takeover"),
    ]


def test_password_change_policy_and_record(chain: AuditChain) -> None:
    auth = _service(FakeServer(), record=chain.append)
    auth.login("clerk1", PASSWORDS["clerk1"])
    old = PASSWORDS["clerk1"]
    with pytest.raises(WeakPassword):
        auth.change_password(old, "short")
    with pytest.raises(WeakPassword):
        auth.change_password(old, old)
    auth.change_password(old, "neue lange Kennwort-Wiese 77")
    assert PASSWORDS["clerk1"] == "neue lange Kennwort-Wiese 77"
    assert _trail(chain)[-1] == ("clerk1", "password_change")
    auth.lock()
    auth.unlock("neue lange Kennwort-Wiese 77")


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        # The terminal applies the server's rule (app.domain.passwords, issue 21): length, a
        # deny-list, runs, the id, the city's words; no composition rules.
        ("correct horse battery staple", True),
        ("kitchen lamp over the river", True),
        ("Abcdef1234", False),  # short, however mixed
        ("password12345678", False),  # a breached password with digits
        ("aaaaaaaaaaaaaaaaaaaa", False),
        ("123456789012345678", False),  # a run
        ("clerk1 is my login name", False),  # the id
        ("北見市北見市北見市12345", False),  # the city's name and digits
    ],
)
def test_password_policy(password: str, ok: bool) -> None:
    rules = PasswordRules(context_words=("北見市", "012084"))
    assert (rules.problems(password, "clerk1") == []) is ok


def test_idle_policy() -> None:
    p = IdlePolicy()
    assert p.minutes == 5
    assert not p.is_idle(100.0, 100.0 + 299)
    assert p.is_idle(100.0, 100.0 + 300)
    assert p.remaining(100.0, 160.0) == 240.0
    assert p.is_idle(T0, T0 + timedelta(minutes=5))
    with pytest.raises(ValueError):
        IdlePolicy(0)


def test_lockout_tracker_with_injected_storage() -> None:
    store: dict[str, int] = {}
    t = LockoutTracker(3, load=lambda k: store.get(k, 0), save=store.__setitem__)
    assert [t.record_failure("a"), t.record_failure("a"), t.record_failure("a")] == [2, 1, 0]
    assert t.is_locked("a") and store["a"] == 3 and not t.is_locked("b")
    t.record_success("a")
    assert not t.is_locked("a")


def _session(op: str) -> Session:
    return Session(PROFILES[op], "T0001", T0, True)


def test_supervisor_approval_rules(chain: AuditChain) -> None:
    server = FakeServer()
    clerk = _session("clerk1")
    kw: dict[str, Any] = {"verify": server.verify, "record": chain.append, "target_ids": ["P1"]}
    with pytest.raises(ReasonRequired):
        approve(clerk, "super1", PASSWORDS["super1"], "  ", **kw)
    with pytest.raises(ApprovalRefused):
        approve(_session("super1"), "super1", PASSWORDS["super1"], "本人申請", **kw)
    with pytest.raises(ApprovalRefused):
        approve(clerk, "issuer1", PASSWORDS["issuer1"], "本人申請", **kw)  # not a supervisor
    with pytest.raises(InvalidCredentials):
        approve(clerk, "super1", "wrong", "本人申請", **kw)
    a = approve(clerk, "super1", PASSWORDS["super1"], "本人申請・本人確認済み", **kw)
    assert (a.supervisor_id, a.operator_id, a.reason) == (
        "super1",
        "clerk1",
        "本人申請・本人確認済み",
    )
    last = chain.entries()[-1]
    assert (last.operator_id, last.action, last.target_ids) == ("super1", "approval", ("P1",))
    assert "clerk1" in (last.reason or "")


def test_approval_lockout(chain: AuditChain) -> None:
    lock = LockoutTracker(2)
    kw: dict[str, Any] = {"verify": FakeServer().verify, "record": chain.append, "lockout": lock}
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            approve(_session("clerk1"), "super1", "x", "理由あり", **kw)
    with pytest.raises(ApprovalRefused):
        approve(_session("clerk1"), "super1", PASSWORDS["super1"], "理由あり", **kw)


def test_reveal_needs_reason_and_permission(chain: AuditChain) -> None:
    fetched: list[str] = []

    def fetch(pid: str) -> str:
        fetched.append(pid)
        return "123456789018"

    with pytest.raises(ReasonRequired):
        reveal_my_number(_session("issuer1"), "P1", "", fetch=fetch, record=chain.append)
    with pytest.raises(ReasonRequired):
        reveal_my_number(_session("issuer1"), "P1", None, fetch=fetch, record=chain.append)
    with pytest.raises(PermissionDenied):
        reveal_my_number(_session("clerk1"), "P1", "本人確認", fetch=fetch, record=chain.append)
    assert fetched == [] and chain.entries() == []  # refused before anything was read
    got = reveal_my_number(
        _session("issuer1"), "P1", "本人確認のため", fetch=fetch, record=chain.append
    )
    assert got == "123456789018"
    e = chain.entries()[-1]
    assert (e.action, e.target_ids, e.reason) == ("reveal_my_number", ("P1",), "本人確認のため")
    assert "123456789018" not in str(e)


def test_reveal_not_returned_when_the_entry_cannot_be_written() -> None:
    def broken(*_a: Any, **_k: Any) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        reveal_my_number(_session("issuer1"), "P1", "本人確認", fetch=lambda _p: "1", record=broken)


def test_masks() -> None:
    assert mask_my_number("123456789018") == MASK
    assert not any(c.isdigit() for c in MASK)
    assert mask_my_number(None) == "(なし)"
    assert format_my_number("123456789018") == "1234 5678 9018"


# --- issue 21: the lock as state the services read; lockouts in the chain ----------------------


def test_lock_is_state_until_unlock_or_takeover(chain: AuditChain) -> None:
    from app.auth.errors import ScreenLocked

    auth = _service(FakeServer(), record=chain.append)
    auth.login("clerk1", PASSWORDS["clerk1"])
    auth.require_unlocked()
    auth.lock()
    assert auth.locked
    with pytest.raises(ScreenLocked):
        auth.require_unlocked()
    with pytest.raises(InvalidCredentials):
        auth.unlock("nope")
    assert auth.locked  # a wrong password leaves it on
    auth.unlock(PASSWORDS["clerk1"])
    auth.require_unlocked()
    auth.lock()
    auth.takeover("issuer1", PASSWORDS["issuer1"])
    assert not auth.locked


def test_unlock_lockout_is_an_audit_entry(chain: AuditChain) -> None:
    auth = _service(FakeServer(), record=chain.append)
    auth.login("clerk1", PASSWORDS["clerk1"])
    auth.lock()
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            auth.unlock("nope")
    assert "lockout" not in [a for _, a in _trail(chain)]
    with pytest.raises(LockedOut):
        auth.unlock("nope")
    trail = _trail(chain)
    assert trail[-3:] == [("clerk1", "login_failed"), ("clerk1", "lockout"), ("clerk1", "logout")]


def test_offline_slot_deleted_is_a_lockout_kept_until_the_cache_opens(chain: AuditChain) -> None:
    from app.store.errors import SlotDeleted

    def offline(operator_id: str, password: str) -> OperatorProfile:
        if password != PASSWORDS[operator_id]:
            raise SlotDeleted()
        return PROFILES[operator_id]

    server = FakeServer()
    server.up = False
    clock = iter(T0 + timedelta(seconds=i) for i in range(100))
    auth = AuthService(
        terminal_no="T0001",
        online_login=server.login,
        offline_login=offline,
        clock=lambda: next(clock),
        hasher=FAST,
    )
    with pytest.raises(SlotDeleted):
        auth.login("clerk1", "fifth-wrong-guess")
    auth.login("issuer1", PASSWORDS["issuer1"])
    auth.attach_recorder(chain.append)
    assert _trail(chain) == [
        ("clerk1", "login_failed"),
        ("clerk1", "lockout"),
        ("issuer1", "login"),
    ]


def test_server_lockout_answer_is_an_audit_entry(chain: AuditChain) -> None:
    def login(operator_id: str, password: str) -> SessionResponse:
        raise ServerRejected(403, "operator_locked", "ロックしました。")

    auth = AuthService(terminal_no="T0001", online_login=login, record=chain.append, hasher=FAST)
    with pytest.raises(ServerRejected):
        auth.login("clerk1", "x")
    assert _trail(chain) == [("clerk1", "login_failed"), ("clerk1", "lockout")]
