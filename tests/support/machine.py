"""A Linux fake of the Windows machine seam (app.machine.api.MachineApi).

DPAPI and NTFS ACLs do not exist on Linux: this fake stands in for them so that the code above
the seam (the machine secret store, the data folder's creation, migration, enrollment, login)
runs for real in the tests. It is NOT the Windows code: `packaging/check_machine_scope.py`
runs the real ctypes implementation (under wine in the CI's Windows leg, and on a real PC).

- protect/unprotect: AES-GCM under a per-"machine" key with the entropy as associated data,
  so a blob from another machine or with another entropy fails, as DPAPI does.
- create_private_dir: mkdir, and the SDDL is recorded per path.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.machine.api import MachineApiError


@dataclass
class FakeMachineApi:
    name: str = "fake-windows"
    machine_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    acls: dict[Path, str] = field(default_factory=dict)
    protect_calls: int = 0

    def protect(self, data: bytes, entropy: bytes) -> bytes:
        self.protect_calls += 1
        nonce = os.urandom(12)
        return nonce + AESGCM(self.machine_key).encrypt(nonce, data, entropy)

    def unprotect(self, blob: bytes, entropy: bytes) -> bytes:
        try:
            return AESGCM(self.machine_key).decrypt(blob[:12], blob[12:], entropy)
        except (InvalidTag, ValueError):
            raise MachineApiError("CryptUnprotectData", 13) from None  # ERROR_INVALID_DATA

    def create_private_dir(self, path: Path, sddl: str) -> None:
        Path(path).mkdir()  # FileExistsError as CreateDirectoryW's ERROR_ALREADY_EXISTS
        self.acls[Path(path)] = sddl

    def secure_existing_dir(self, path: Path, sddl: str) -> None:
        if not Path(path).is_dir():
            raise MachineApiError("SetNamedSecurityInfoW", 2)  # ERROR_FILE_NOT_FOUND
        self.acls[Path(path)] = sddl

    def read_sddl(self, path: Path) -> str:
        return self.acls[Path(path)]
