"""The device secret in machine scope (Windows): a DPAPI-protected file in the data folder.

Implements app.services.terminal.SecretStore. The blob is CryptProtectData with the machine key
and an entropy naming this enrollment (install_id), so it opens on this PC only, for every
account, and only as this enrollment's secret; the folder's ACL (app.machine.api) keeps it
from anyone but the program's users. A profile reset or a new clerk's account changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from pathlib import Path

from app.machine.api import MachineApi
from app.store.errors import StoreError

SECRET_FILE = "device-secret.dpapi"
GUARD_FILE = "offline-failures.dpapi"
_ENTROPY = b"madoguchi device secret v1:"
_GUARD_ENTROPY = b"madoguchi offline failures v1:"
_HEADER = "madoguchi-device-secret-v1 "
_GUARD_HEADER = "madoguchi-offline-failures-v1 "


class MachineSecretStore:
    def __init__(self, path: Path, install_id: str, api: MachineApi) -> None:
        self.path = Path(path)
        self._entropy = _ENTROPY + install_id.encode("ascii")
        self._api = api

    def get(self) -> bytes | None:
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError):
            raise StoreError(self._damaged()) from None
        if not text.startswith(_HEADER):
            raise StoreError(self._damaged())
        try:
            secret = self._api.unprotect(base64.b64decode(text[len(_HEADER) :]), self._entropy)
        except (OSError, binascii.Error, ValueError):
            raise StoreError(self._damaged()) from None
        if len(secret) != 32:
            raise StoreError(self._damaged())
        return secret

    def get_or_create(self) -> bytes:
        existing = self.get()
        if existing is not None:
            return existing
        secret = secrets.token_bytes(32)
        self.store(secret)
        return secret

    def store(self, secret: bytes) -> None:
        """Keep `secret` (a new enrollment, or one migrated from the per-user store)."""
        from app.fileio import atomic_write_text

        blob = self._api.protect(secret, self._entropy)
        atomic_write_text(self.path, _HEADER + base64.b64encode(blob).decode("ascii") + "\n")
        if self.get() != secret:  # a store that accepts and forgets is as bad as none
            raise StoreError("端末の秘密情報を保存できません。システム管理者に連絡してください。")

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
        self.failure_guard().delete()

    def failure_guard(self) -> MachineRecord:
        """The key slots' failure counts, DPAPI-protected beside this secret. Whoever can put
        this file back can also read the secret beside it (docs/store.md)."""
        entropy = _GUARD_ENTROPY + self._entropy[len(_ENTROPY) :]
        return MachineRecord(self.path.parent / GUARD_FILE, entropy, self._api)

    @staticmethod
    def _damaged() -> str:
        return (
            "端末の秘密情報(device-secret.dpapi)を読めません。別のPCから複写されたか、壊れています。"
            "管理者に連絡して端末を登録し直してください。"
        )


class MachineRecord:
    """A small DPAPI-protected (machine key) file: app.store.keys.FailureGuard on Windows."""

    def __init__(self, path: Path, entropy: bytes, api: MachineApi) -> None:
        self.path = Path(path)
        self._entropy = entropy
        self._api = api

    def read(self) -> bytes | None:
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError):
            return b""  # damaged: the key slots treat it as vouching for nothing
        if not text.startswith(_GUARD_HEADER):
            return b""
        try:
            return self._api.unprotect(base64.b64decode(text[len(_GUARD_HEADER) :]), self._entropy)
        except (OSError, binascii.Error, ValueError):
            return b""

    def write(self, data: bytes) -> None:
        from app.fileio import atomic_write_text

        blob = self._api.protect(data, self._entropy)
        atomic_write_text(self.path, _GUARD_HEADER + base64.b64encode(blob).decode("ascii") + "\n")

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
