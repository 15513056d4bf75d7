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
