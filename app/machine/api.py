"""The seam to the Windows-only APIs a per-machine terminal needs (real one: app.machine.windows).

Two things, both in machine scope so that every clerk's Windows account on the PC shares one
enrollment and one cache (DESIGN.md §12):

- DPAPI with CRYPTPROTECT_LOCAL_MACHINE: the device secret is encrypted with the machine's key,
  which any account of this PC can use, and no other PC; the file's ACL (below) limits who
  can read it. Credential Manager was not used: its entries are per user (a profile reset or
  another clerk's account would not see it) and limited to 2,560 bytes.
- The data folder's ACL, set when the folder is created (or, for a folder something else made
  first, when enrollment makes it a terminal folder): SYSTEM and Administrators full control,
  the program's users (default Authenticated Users, "AU"; a city may name its own group's SID in
  provisioning.json) modify; inheritance from %ProgramData% cut, so nobody else. An OWNER RIGHTS
  entry gives a file's owner (the clerk whose program created it) no more than modify: nobody
  but SYSTEM and Administrators can change the ACL.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

DEFAULT_USERS_SID = "AU"  # Authenticated Users (S-1-5-11): every clerk's Windows account
# FILE_GENERIC_READ | FILE_GENERIC_WRITE | FILE_GENERIC_EXECUTE | DELETE: "Modify" in Explorer.
MODIFY_RIGHTS = 0x1301BF
_SID = re.compile(r"^(?:[A-Z]{2}|S-1-\d+(?:-\d+){1,14})$")


class MachineApiError(OSError):
    """A Windows call failed; `winerror` is GetLastError's value (or the returned status)."""

    def __init__(self, call: str, winerror: int) -> None:
        super().__init__(f"{call} failed (Windows error {winerror})")
        self.call = call
        self.winerror = winerror


def valid_users_sid(sid: str) -> bool:
    """An SDDL SID alias ("AU", "BU") or a SID string ("S-1-5-21-…")."""
    return bool(_SID.fullmatch(sid))


def data_dir_sddl(users_sid: str = DEFAULT_USERS_SID) -> str:
    """The data folder's DACL as SDDL: protected (P, no inheritance from above), inherited by
    everything created inside (OICI)."""
    if not valid_users_sid(users_sid):
        raise ValueError(f"not a SID: {users_sid!r}")
    modify = f"0x{MODIFY_RIGHTS:x}"
    return (
        f"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;{modify};;;{users_sid})(A;OICI;{modify};;;OW)"
    )


class MachineApi(Protocol):
    name: str

    def protect(self, data: bytes, entropy: bytes) -> bytes:
        """DPAPI CryptProtectData with the machine key (CRYPTPROTECT_LOCAL_MACHINE)."""
        ...

    def unprotect(self, blob: bytes, entropy: bytes) -> bytes:
        """CryptUnprotectData; MachineApiError when the blob is not this PC's or was altered."""
        ...

    def create_private_dir(self, path: Path, sddl: str) -> None:
        """CreateDirectoryW with the security descriptor `sddl` (atomic: never a moment with
        another ACL). FileExistsError if it exists."""
        ...

    def secure_existing_dir(self, path: Path, sddl: str) -> None:
        """Put the DACL of `sddl` on an existing folder (SetNamedSecurityInfoW, protected; the
        entries are inherited by what it holds). MachineApiError when not allowed."""
        ...

    def read_sddl(self, path: Path) -> str:
        """The DACL of `path` as SDDL (for checks and diagnostics)."""
        ...
