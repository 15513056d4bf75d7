"""Offline login through the store's real key slots: lockout after 5, failures audited."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlcipher3
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric import ec

from app.auth.service import AuthService
from app.store.audit import AUDIT_TABLE_DDL, AuditChain, signer_for
from app.store.errors import NoSlot, SlotDeleted, SlotExpired, WrongPassword
from app.store.keys import Argon2Params, KeySlots
from app.sync.errors import ServerUnreachable
from app.sync.protocol import OperatorProfile, SessionResponse

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
DEVICE_SECRET = os.urandom(32)
PROFILE = OperatorProfile(
    operator_id="clerk1", display_name="職員", roles=("clerk",), branch="留辺蘂支所"
)


@pytest.fixture
def slots(tmp_path: Path) -> KeySlots:
    s = KeySlots(tmp_path / "slots.json", Argon2Params(time_cost=1, memory_kib=1024, parallelism=1))
    s.create_or_refresh("clerk1", "Right-pass-77", os.urandom(32), DEVICE_SECRET, 7, now=NOW)
    return s


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[AuditChain]:
    conn = sqlcipher3.connect(str(tmp_path / "cache.db"))
    conn.execute(f"PRAGMA key = \"x'{os.urandom(32).hex()}'\"")
    conn.execute(AUDIT_TABLE_DDL)
    conn.commit()
    yield AuditChain(conn, "T0001", signer_for(ec.generate_private_key(ec.SECP256R1())))
    conn.close()


def _auth(slots: KeySlots, now: datetime = NOW) -> AuthService:
    def unreachable(_op: str, _pw: str) -> SessionResponse:
        raise ServerUnreachable()

    def offline(op: str, pw: str) -> OperatorProfile:
        slots.unwrap(op, pw, DEVICE_SECRET, now)  # the DEK would open the cache here
        return PROFILE

    return AuthService(
        terminal_no="T0001",
        online_login=unreachable,
        offline_login=offline,
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )


def test_offline_login_and_lockout_through_the_slots(slots: KeySlots, chain: AuditChain) -> None:
    auth = _auth(slots)
    remaining = []
    for _ in range(4):
        with pytest.raises(WrongPassword) as exc:
            auth.login("clerk1", "wrong")
        remaining.append(exc.value.remaining)
    assert remaining == [4, 3, 2, 1]
    assert auth.login("clerk1", "Right-pass-77").online is False  # success resets the count
    auth.attach_recorder(chain.append)
    assert [e.action for e in chain.entries()] == ["login_failed"] * 4 + ["login"]
    auth.logout()
    for _ in range(4):
        with pytest.raises(WrongPassword):
            auth.login("clerk1", "wrong")
    with pytest.raises(SlotDeleted) as deleted:
        auth.login("clerk1", "wrong")
    assert "オンライン" in deleted.value.message
    with pytest.raises(NoSlot):
        auth.login("clerk1", "Right-pass-77")  # the slot is gone: online only now
    # The fifth failure deleted the slot: a lockout entry follows it (issue 21 item 8).
    actions = [e.action for e in chain.entries()][-7:]
    assert actions == ["login_failed"] * 5 + ["lockout", "login_failed"]
    assert all("wrong" not in (e.reason or "") for e in chain.entries())


def test_expired_slot_needs_an_online_login(slots: KeySlots) -> None:
    with pytest.raises(SlotExpired):
        _auth(slots, NOW + timedelta(days=8)).login("clerk1", "Right-pass-77")
