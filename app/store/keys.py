"""Keys of the cache (DESIGN.md §4): the DEK, the device secret, per-operator key slots.

- `generate_dek()`: 32 random bytes, the raw SQLCipher key. Never written in plaintext.
- `DeviceSecret(terminal_id)`: 32 random bytes in the OS store through `keyring` (service
  "madoguchi", user "device-secret:<terminal_id>"; use the data directory or terminal number as
  the id). On Windows the credential is persisted to the local machine, not roaming with the
  profile. No usable backend (keyring's fail / null backends, or errors) → KeyringUnavailable:
  keys are never kept in plain files.
- `KeySlots(path)`: a small JSON file beside the database with one slot per operator:
  `AES-256-GCM(KEK, DEK)`, `KEK = HKDF-SHA256(argon2id(password, salt) ‖ device_secret)`,
  the operator id as associated data. The file is replaced atomically (app.fileio). Failed
  unwraps are counted in the file; the 5th deletes the slot. A slot carries its expiry
  (policy.offline_login_days from the online login).
- The failure count is also kept in a `FailureGuard` record where the device secret lives (the
  OS keyring; on Windows a DPAPI file, app.machine.secret), bound to the slot it counts for:
  restoring an older keyslots.json neither resets the count nor brings back a deleted slot
  (docs/store.md "Offline failure counter").

Argon2id costs default to t=3, m=64 MiB, p=4 (≈0.2–0.5 s on a counter PC); tests pass a cheaper
`Argon2Params` to KeySlots. The parameters are stored in each slot, so unwrap always uses the
ones the slot was made with.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.fileio import atomic_write_text

from .errors import (
    KeyringUnavailable,
    NoSlot,
    SlotDeleted,
    SlotExpired,
    SlotRolledBack,
    StoreError,
    WrongPassword,
)

KEYRING_SERVICE = "madoguchi"
MAX_FAILURES = 5
_SLOT_FORMAT = 1
_HKDF_INFO = b"madoguchi key slot v1"


def generate_dek() -> bytes:
    return secrets.token_bytes(32)


# -- device secret (OS keyring) ----------------------------------------------------------------


def _usable_keyring() -> Any:
    import keyring
    import keyring.backends.fail
    import keyring.backends.null

    backend = keyring.get_keyring()
    unusable = (keyring.backends.fail.Keyring, keyring.backends.null.Keyring)
    if isinstance(backend, unusable):
        raise KeyringUnavailable(type(backend).__module__)
    chained = getattr(backend, "backends", None)
    if chained is not None and not chained:
        raise KeyringUnavailable("no backend")
    # Windows Credential Manager: keep the entry on this machine (not a roaming credential).
    if type(backend).__name__ == "WinVaultKeyring":
        win_vault: Any = backend  # WinVaultKeyring's own attribute, not KeyringBackend's
        win_vault.persist = "local_machine"
    return backend


class DeviceSecret:
    """The terminal's device secret in the OS credential store."""

    def __init__(self, terminal_id: str) -> None:
        self.username = f"device-secret:{terminal_id}"

    def get(self) -> bytes | None:
        import keyring.errors

        backend = _usable_keyring()
        try:
            value = backend.get_password(KEYRING_SERVICE, self.username)
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(type(exc).__name__) from None
        if value is None:
            return None
        secret = base64.b64decode(value)
        if len(secret) != 32:
            raise StoreError("端末の秘密情報が壊れています。オンラインでログインしてください。")
        return secret

    def get_or_create(self) -> bytes:
        existing = self.get()
        if existing is not None:
            return existing
        import keyring.errors

        secret = secrets.token_bytes(32)
        backend = _usable_keyring()
        try:
            backend.set_password(
                KEYRING_SERVICE, self.username, base64.b64encode(secret).decode("ascii")
            )
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(type(exc).__name__) from None
        # Read back: a store that accepts and forgets is as bad as none.
        if self.get() != secret:
            raise KeyringUnavailable("read-back mismatch")
        return secret

    def delete(self) -> None:
        import keyring.errors

        backend = _usable_keyring()
        try:
            backend.delete_password(KEYRING_SERVICE, self.username)
        except keyring.errors.PasswordDeleteError:
            pass  # already gone
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(type(exc).__name__) from None
        self.failure_guard().delete()

    def failure_guard(self) -> KeyringRecord:
        """Where the key slots' failure counts live (beside this secret, in the OS keyring)."""
        return KeyringRecord(self.username.replace("device-secret:", "offline-failures:", 1))


class FailureGuard(Protocol):
    """A small record kept where restoring the data folder's files cannot roll it back: beside
    the device secret (KeyringRecord; app.machine.secret.MachineRecord on Windows)."""

    def read(self) -> bytes | None: ...

    def write(self, data: bytes) -> None: ...

    def delete(self) -> None: ...


class KeyringRecord:
    """A FailureGuard in the OS keyring (service "madoguchi", user `username`)."""

    def __init__(self, username: str) -> None:
        self.username = username

    def read(self) -> bytes | None:
        import keyring.errors

        try:
            value = _usable_keyring().get_password(KEYRING_SERVICE, self.username)
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(type(exc).__name__) from None
        return None if value is None else base64.b64decode(value)

    def write(self, data: bytes) -> None:
        import keyring.errors

        try:
            _usable_keyring().set_password(
                KEYRING_SERVICE, self.username, base64.b64encode(data).decode("ascii")
            )
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(type(exc).__name__) from None

    def delete(self) -> None:
        import keyring.errors

        try:
            _usable_keyring().delete_password(KEYRING_SERVICE, self.username)
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(type(exc).__name__) from None


# -- key slots ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Argon2Params:
    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4


DEFAULT_ARGON2 = Argon2Params()


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _kek(password: str, salt: bytes, device_secret: bytes, params: Argon2Params) -> bytes:
    stretched = hash_secret_raw(
        password.encode("utf-8"),
        salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=32,
        type=Type.ID,
    )
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        stretched + device_secret
    )


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("key slot times must be timezone-aware")
    return dt


def _slot_id(slot: dict[str, Any]) -> str:
    """What names one wrapping of the DEK (a new online login makes a new one)."""
    material = (slot["salt"] + slot["nonce"] + slot["wrapped"]).encode("ascii")
    return hashlib.sha256(material).hexdigest()[:32]


# The guard's entry of an operator whose slot was deleted: no slot in any file matches it.
_DELETED = "deleted"


class KeySlots:
    """The key-slot file of one data directory (app.store.db.slots_path(data_dir)).

    With a `guard`, each operator's failure count is kept there too, bound to the slot's id:
    the count an unwrap starts from is the larger of the two, a slot the guard does not know
    (the file was restored from a copy) is refused, and a deleted slot stays deleted.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        argon2: Argon2Params = DEFAULT_ARGON2,
        guard: FailureGuard | None = None,
    ):
        self.path = Path(path)
        self.argon2 = argon2
        self.guard = guard

    # the guard: {"format": 1, "slots": {operator_id: {"slot": id | "deleted", "failures": n}}}

    def _guard_load(self) -> dict[str, dict[str, Any]]:
        if self.guard is None:
            return {}
        raw = self.guard.read()
        if raw is None:
            return {}
        try:
            data = json.loads(raw.decode("utf-8"))
            slots = data["slots"]
            if data.get("format") != _SLOT_FORMAT or not isinstance(slots, dict):
                raise ValueError("format")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            # Damaged: nothing vouches for any slot; the online login starts afresh.
            return {op: {"slot": _DELETED, "failures": MAX_FAILURES} for op in self.operators()}
        return slots

    def _guard_set(self, operator_id: str, slot_id: str, failures: int) -> None:
        if self.guard is None:
            return
        slots = self._guard_load()
        slots[operator_id] = {"slot": slot_id, "failures": failures}
        payload = {"format": _SLOT_FORMAT, "slots": slots}
        self.guard.write(json.dumps(payload, sort_keys=True).encode("utf-8"))

    # file I/O

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"format": _SLOT_FORMAT, "slots": {}}
        try:
            data: dict[str, Any] = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            raise StoreError(
                "鍵ファイルが壊れています。オンラインでログインしてください。"
            ) from None
        if data.get("format") != _SLOT_FORMAT or not isinstance(data.get("slots"), dict):
            raise StoreError("鍵ファイルの形式が不明です。オンラインでログインしてください。")
        return data

    def _save(self, data: dict[str, Any]) -> None:
        atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True))

    # operations

    def operators(self) -> list[str]:
        return sorted(self._load()["slots"])

    def has_slot(self, operator_id: str) -> bool:
        return operator_id in self._load()["slots"]

    def create_or_refresh(
        self,
        operator_id: str,
        password: str,
        dek: bytes,
        device_secret: bytes,
        valid_days: int,
        now: datetime | None = None,
    ) -> None:
        """At an online login: (re)wrap the DEK for this operator, valid for `valid_days`."""
        now = _aware(now) if now is not None else datetime.now().astimezone()
        salt = secrets.token_bytes(16)
        nonce = secrets.token_bytes(12)
        kek = _kek(password, salt, device_secret, self.argon2)
        wrapped = AESGCM(kek).encrypt(nonce, dek, operator_id.encode("utf-8"))
        data = self._load()
        slot = {
            "salt": _b64(salt),
            "nonce": _b64(nonce),
            "wrapped": _b64(wrapped),
            "argon2": asdict(self.argon2),
            "created_at": now.isoformat(),
            "expires_at": (now + timedelta(days=valid_days)).isoformat(),
            "failures": 0,
        }
        data["slots"][operator_id] = slot
        # The guard first: should the file's write fail, the old slot no longer matches it and
        # is refused (fail closed; the next online login writes both again).
        self._guard_set(operator_id, _slot_id(slot), 0)
        self._save(data)

    def unwrap(self, operator_id: str, password: str, device_secret: bytes, now: datetime) -> bytes:
        """Offline login: the DEK, or NoSlot / SlotExpired / WrongPassword(n) / SlotDeleted."""
        now = _aware(now)
        data = self._load()
        slot = data["slots"].get(operator_id)
        if slot is None:
            raise NoSlot()
        slot_id = _slot_id(slot)
        guarded = self._guard_load().get(operator_id)
        if guarded is not None and guarded.get("slot") != slot_id:
            # Not the slot the guard counts for: an older keyslots.json put back (or a slot
            # deleted after five failures, restored). Refused and removed.
            self._drop(operator_id)
            if guarded.get("slot") == _DELETED:
                raise SlotDeleted()
            raise SlotRolledBack()
        failures = max(
            int(slot.get("failures", 0)), int(guarded["failures"]) if guarded is not None else 0
        )
        if failures >= MAX_FAILURES:
            self._drop(operator_id)
            self._guard_set(operator_id, _DELETED, MAX_FAILURES)
            raise SlotDeleted()
        if now >= datetime.fromisoformat(slot["expires_at"]):
            raise SlotExpired()
        if guarded is None and self.guard is not None:
            self._guard_set(operator_id, slot_id, failures)  # a slot made before the guard
        kek = _kek(
            password,
            base64.b64decode(slot["salt"]),
            device_secret,
            Argon2Params(**slot["argon2"]),
        )
        try:
            dek = AESGCM(kek).decrypt(
                base64.b64decode(slot["nonce"]),
                base64.b64decode(slot["wrapped"]),
                operator_id.encode("utf-8"),
            )
        except InvalidTag:
            # Count before answering, from a fresh read, so parallel attempts add up; the
            # guard first (the file alone can be put back).
            data = self._load()
            slot = data["slots"].get(operator_id)
            if slot is None:
                raise SlotDeleted() from None
            guarded = self._guard_load().get(operator_id)
            n = 1 + max(
                int(slot.get("failures", 0)),
                int(guarded["failures"]) if guarded is not None else 0,
            )
            if n >= MAX_FAILURES:
                self._guard_set(operator_id, _DELETED, MAX_FAILURES)
                del data["slots"][operator_id]
                self._save(data)
                raise SlotDeleted() from None
            self._guard_set(operator_id, slot_id, n)
            slot["failures"] = n
            self._save(data)
            raise WrongPassword(MAX_FAILURES - n) from None
        if failures:
            self._guard_set(operator_id, slot_id, 0)
            slot["failures"] = 0
            self._save(data)
        return dek

    def _drop(self, operator_id: str) -> None:
        data = self._load()
        if data["slots"].pop(operator_id, None) is not None:
            self._save(data)

    def failures(self, operator_id: str) -> int:
        slot = self._load()["slots"].get(operator_id)
        guarded = self._guard_load().get(operator_id)
        counted = int(guarded["failures"]) if guarded is not None else 0
        return max(counted, 0 if slot is None else int(slot.get("failures", 0)))

    def delete(self, operator_id: str) -> None:
        """When the server revokes the operator (or after a password change elsewhere)."""
        if self.guard is not None:
            self._guard_set(operator_id, _DELETED, MAX_FAILURES)
        self._drop(operator_id)

    def delete_all(self) -> None:
        if self.guard is not None:
            for operator_id in {*self.operators(), *self._guard_load()}:
                self._guard_set(operator_id, _DELETED, MAX_FAILURES)
        if self.path.exists():
            self._save({"format": _SLOT_FORMAT, "slots": {}})
