"""Key slots (argon2id + device secret, AES-GCM), the keyring device secret, fail closed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from app.store.db import create_cache, open_cache
from app.store.errors import (
    KeyringUnavailable,
    NoSlot,
    SlotDeleted,
    SlotExpired,
    WrongKey,
    WrongPassword,
)
from app.store.keys import Argon2Params, DeviceSecret, KeySlots, generate_dek

FAST = Argon2Params(time_cost=1, memory_kib=1024, parallelism=1)
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SECRET = bytes(range(32))


def test_generate_dek() -> None:
    a, b = generate_dek(), generate_dek()
    assert len(a) == 32 and a != b


def test_slot_round_trip_and_file_has_no_key(tmp_path: Path) -> None:
    dek = generate_dek()
    slots = KeySlots(tmp_path / "keyslots.json", FAST)
    slots.create_or_refresh("op1", "正しいパスワード", dek, SECRET, 7, now=NOW)
    assert slots.unwrap("op1", "正しいパスワード", SECRET, NOW + timedelta(days=6)) == dek
    raw = (tmp_path / "keyslots.json").read_bytes()
    assert dek not in raw and dek.hex().encode() not in raw and SECRET not in raw
    assert "正しいパスワード".encode() not in raw
    assert json.loads(raw)["slots"]["op1"]["argon2"]["memory_kib"] == 1024
    # Nothing else left in the directory (atomic replace cleaned its temp file).
    assert [p.name for p in tmp_path.iterdir()] == ["keyslots.json"]
    with pytest.raises(NoSlot):
        slots.unwrap("op2", "x", SECRET, NOW)


def test_wrong_device_secret_or_operator_fails(tmp_path: Path) -> None:
    dek = generate_dek()
    slots = KeySlots(tmp_path / "s.json", FAST)
    slots.create_or_refresh("op1", "pw", dek, SECRET, 7, now=NOW)
    with pytest.raises(WrongPassword):
        slots.unwrap("op1", "pw", b"\x00" * 32, NOW)
    # A slot copied under another operator's id does not open (operator id is bound as AAD).
    data = json.loads((tmp_path / "s.json").read_text())
    data["slots"]["op2"] = data["slots"]["op1"]
    (tmp_path / "s.json").write_text(json.dumps(data))
    with pytest.raises(WrongPassword):
        slots.unwrap("op2", "pw", SECRET, NOW)


def test_five_failures_delete_the_slot(tmp_path: Path) -> None:
    dek = generate_dek()
    path = tmp_path / "s.json"
    KeySlots(path, FAST).create_or_refresh("op1", "pw", dek, SECRET, 7, now=NOW)
    remaining = []
    for _ in range(4):
        with pytest.raises(WrongPassword) as exc:
            # A fresh KeySlots each time: the count lives in the file, not in memory.
            KeySlots(path, FAST).unwrap("op1", "bad", SECRET, NOW)
        remaining.append(exc.value.remaining)
    assert remaining == [4, 3, 2, 1]
    assert KeySlots(path).failures("op1") == 4
    with pytest.raises(SlotDeleted):
        KeySlots(path).unwrap("op1", "bad", SECRET, NOW)
    assert not KeySlots(path).has_slot("op1")
    with pytest.raises(NoSlot):
        KeySlots(path).unwrap("op1", "pw", SECRET, NOW)


def test_success_resets_failures_and_refresh(tmp_path: Path) -> None:
    dek = generate_dek()
    slots = KeySlots(tmp_path / "s.json", FAST)
    slots.create_or_refresh("op1", "pw", dek, SECRET, 7, now=NOW)
    with pytest.raises(WrongPassword):
        slots.unwrap("op1", "bad", SECRET, NOW)
    assert slots.unwrap("op1", "pw", SECRET, NOW) == dek
    assert slots.failures("op1") == 0
    with pytest.raises(SlotExpired):
        slots.unwrap("op1", "pw", SECRET, NOW + timedelta(days=7))
    # The next online login refreshes the slot (new password too).
    slots.create_or_refresh("op1", "new", dek, SECRET, 7, now=NOW + timedelta(days=8))
    assert slots.unwrap("op1", "new", SECRET, NOW + timedelta(days=9)) == dek
    slots.create_or_refresh("op2", "pw2", dek, SECRET, 7, now=NOW)
    assert slots.operators() == ["op1", "op2"]
    slots.delete("op1")
    assert slots.operators() == ["op2"]
    slots.delete_all()
    assert slots.operators() == []


def test_slot_opens_the_cache_and_wrong_password_never_reaches_it(tmp_path: Path) -> None:
    dek = generate_dek()
    create_cache(tmp_path / "cache.db", dek).close()
    slots = KeySlots(tmp_path / "keyslots.json", FAST)
    slots.create_or_refresh("op1", "pw", dek, SECRET, 7, now=NOW)
    with open_cache(tmp_path / "cache.db", slots.unwrap("op1", "pw", SECRET, NOW)) as c:
        assert c.cursor() == 0
    with pytest.raises(WrongKey):
        open_cache(tmp_path / "cache.db", generate_dek())


def test_no_keyring_backend_is_refused() -> None:
    saved = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with pytest.raises(KeyringUnavailable) as exc:
            DeviceSecret("test-terminal").get_or_create()
        assert "資格情報" in exc.value.message
    finally:
        keyring.set_keyring(saved)


def test_real_secret_service_keeps_the_device_secret(secret_service) -> None:
    from keyring.backends import SecretService

    assert isinstance(keyring.get_keyring(), SecretService.Keyring)
    ds = DeviceSecret("/data/terminal-a")
    assert ds.get() is None
    secret = ds.get_or_create()
    assert len(secret) == 32
    assert ds.get_or_create() == secret  # stable
    assert DeviceSecret("/data/terminal-b").get_or_create() != secret  # per data dir
    # Stored in the Secret Service itself, not only in memory.
    fresh = SecretService.Keyring()
    assert fresh.get_password("madoguchi", "device-secret:/data/terminal-a") is not None
    ds.delete()
    assert ds.get() is None
    ds.delete()  # idempotent
    DeviceSecret("/data/terminal-b").delete()


def test_wipe_removes_cache_slots_and_device_secret(tmp_path, secret_service) -> None:
    from app.store.db import cache_path, slots_path, wipe

    ds = DeviceSecret(str(tmp_path))
    secret = ds.get_or_create()
    dek = generate_dek()
    cache = create_cache(cache_path(tmp_path), dek)
    KeySlots(slots_path(tmp_path), FAST).create_or_refresh("op1", "pw", dek, secret, 7, now=NOW)
    wipe(tmp_path, cache, ds)
    assert ds.get() is None
    assert list(tmp_path.iterdir()) == []


# --- issue 21 item 11: the failure count out of reach of a restored keyslots.json ----------


class MemoryGuard:
    """A FailureGuard in memory: stands for the OS keyring here (the real one is tested below
    and in tests/e2e/test_offline_guard.py)."""

    def __init__(self) -> None:
        self.data: bytes | None = None

    def read(self) -> bytes | None:
        return self.data

    def write(self, data: bytes) -> None:
        self.data = data

    def delete(self) -> None:
        self.data = None


def _guessing(slots: KeySlots, n: int) -> list[int]:
    left = []
    for _ in range(n):
        with pytest.raises(WrongPassword) as exc:
            slots.unwrap("op1", "guess", SECRET, NOW)
        left.append(exc.value.remaining)
    return left


def test_restoring_the_slot_file_does_not_reset_the_count(tmp_path: Path) -> None:
    path, copy = tmp_path / "keyslots.json", tmp_path / "copy.json"
    dek = generate_dek()
    # Without a guard (before issue 21): the copy gives four more guesses each time.
    plain = KeySlots(path, FAST)
    plain.create_or_refresh("op1", "pw", dek, SECRET, 7, now=NOW)
    copy.write_bytes(path.read_bytes())
    assert _guessing(plain, 4) == [4, 3, 2, 1]
    path.write_bytes(copy.read_bytes())
    assert _guessing(plain, 4) == [4, 3, 2, 1]  # the finding: 8 guesses and counting

    guarded = KeySlots(path, FAST, guard=MemoryGuard())
    guarded.create_or_refresh("op1", "pw", dek, SECRET, 7, now=NOW)
    copy.write_bytes(path.read_bytes())
    assert _guessing(guarded, 4) == [4, 3, 2, 1]
    path.write_bytes(copy.read_bytes())  # the file says 0 failures again
    assert guarded.failures("op1") == 4
    with pytest.raises(SlotDeleted):
        guarded.unwrap("op1", "guess", SECRET, NOW)  # the fifth guess in all
    assert not guarded.has_slot("op1")
    # Put back once more: a deleted slot stays deleted, even with the right password.
    path.write_bytes(copy.read_bytes())
    with pytest.raises(SlotDeleted):
        guarded.unwrap("op1", "pw", SECRET, NOW)
    assert not guarded.has_slot("op1")
    # An online login makes a new slot; the count starts again for it.
    guarded.create_or_refresh("op1", "pw", dek, SECRET, 7, now=NOW)
    assert guarded.unwrap("op1", "pw", SECRET, NOW) == dek


def test_an_older_slot_put_back_is_refused(tmp_path: Path) -> None:
    from app.store.errors import SlotRolledBack

    path = tmp_path / "keyslots.json"
    dek = generate_dek()
    slots = KeySlots(path, FAST, guard=MemoryGuard())
    slots.create_or_refresh("op1", "old password", dek, SECRET, 7, now=NOW)
    old = path.read_bytes()
    slots.create_or_refresh("op1", "new password", dek, SECRET, 7, now=NOW)  # a later login
    path.write_bytes(old)
    with pytest.raises(SlotRolledBack) as exc:
        slots.unwrap("op1", "old password", SECRET, NOW)
    assert isinstance(exc.value, SlotDeleted) and "オンライン" in exc.value.message
    assert not slots.has_slot("op1")


def test_success_resets_both_counts_and_revocation_sticks(tmp_path: Path) -> None:
    path, copy = tmp_path / "keyslots.json", tmp_path / "copy.json"
    dek = generate_dek()
    slots = KeySlots(path, FAST, guard=MemoryGuard())
    slots.create_or_refresh("op1", "pw", dek, SECRET, 7, now=NOW)
    copy.write_bytes(path.read_bytes())
    _guessing(slots, 2)
    assert slots.unwrap("op1", "pw", SECRET, NOW) == dek
    assert slots.failures("op1") == 0
    slots.delete("op1")  # the server revoked the operator
    path.write_bytes(copy.read_bytes())
    with pytest.raises(SlotDeleted):
        slots.unwrap("op1", "pw", SECRET, NOW)


def test_a_slot_made_before_the_guard_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "keyslots.json"
    dek = generate_dek()
    KeySlots(path, FAST).create_or_refresh("op1", "pw", dek, SECRET, 7, now=NOW)
    _guessing(KeySlots(path, FAST), 3)  # counted in the file by the earlier version
    guard = MemoryGuard()
    slots = KeySlots(path, FAST, guard=guard)
    assert _guessing(slots, 1) == [1]  # the file's three count
    assert guard.data is not None and b'"failures": 4' in guard.data


def test_the_guard_in_the_real_keyring(tmp_path: Path, secret_service) -> None:
    path, copy = tmp_path / "keyslots.json", tmp_path / "copy.json"
    ds = DeviceSecret(str(tmp_path))
    secret = ds.get_or_create()
    dek = generate_dek()
    slots = KeySlots(path, FAST, guard=ds.failure_guard())
    slots.create_or_refresh("op1", "pw", dek, secret, 7, now=NOW)
    copy.write_bytes(path.read_bytes())
    for _ in range(4):
        with pytest.raises(WrongPassword):
            slots.unwrap("op1", "guess", secret, NOW)
    path.write_bytes(copy.read_bytes())
    # Another KeySlots on the same keyring entry (a restarted program) sees the count.
    with pytest.raises(SlotDeleted):
        KeySlots(path, FAST, guard=DeviceSecret(str(tmp_path)).failure_guard()).unwrap(
            "op1", "guess", secret, NOW
        )
    ds.delete()  # the wipe takes the guard with the secret
    assert ds.failure_guard().read() is None


def test_cache_files_are_private(tmp_path: Path) -> None:
    import os
    import stat

    from app.services.terminal import TerminalFiles, make_private

    folder = tmp_path / "terminal"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    dek = generate_dek()
    cache = create_cache(folder / "cache.db", dek)
    cache.set_local_state("x", "1")  # a write: the -wal and -shm exist now
    for name in ("cache.db", "cache.db-wal", "cache.db-shm"):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600, name
    cache.close()
    (folder / "cache.db").chmod(0o644)  # a file of an earlier version
    (folder / "terminal.json").write_text("{}", encoding="utf-8")
    (folder / "terminal.json").chmod(0o644)
    open_cache(folder / "cache.db", dek).close()
    assert stat.S_IMODE(os.stat(folder / "cache.db").st_mode) == 0o600
    make_private(TerminalFiles(folder))  # at every login
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "terminal.json").stat().st_mode) == 0o600
