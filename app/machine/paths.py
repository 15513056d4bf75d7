"""Where a terminal keeps its files (docs/deployment.md "Files on the PC").

Windows: one folder for the PC, `%ProgramData%\\Madoguchi\\terminal`, beside the installer's
`%ProgramData%\\Madoguchi\\provisioning.json`. Earlier versions kept the terminal per Windows
user in `%LOCALAPPDATA%\\Madoguchi\\terminal` (`legacy_user_dir`, migrated by app.machine.setup).
Elsewhere: `$XDG_DATA_HOME/madoguchi/<kind>` as before. The demo stays per user everywhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROVISIONING_FILE = "provisioning.json"
PROVISIONING_ENV = "MADOGUCHI_PROVISIONING"


def program_data() -> Path:
    # os.environ is case-insensitive on Windows.
    return Path(os.environ.get("PROGRAMDATA") or r"C:\ProgramData")


def user_data_dir(kind: str) -> Path:
    """The per-user folder: %LOCALAPPDATA%\\Madoguchi\\<kind> on Windows (not roaming),
    $XDG_DATA_HOME/madoguchi/<kind> elsewhere."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "Madoguchi" / kind
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "madoguchi" / kind


def default_data_dir(kind: str = "terminal") -> Path:
    """The terminal's folder: per machine on Windows, per user (XDG) elsewhere; the demo's
    folder ("demo") per user everywhere."""
    if sys.platform == "win32" and kind == "terminal":
        return program_data() / "Madoguchi" / "terminal"
    return user_data_dir(kind)


def legacy_user_dir() -> Path | None:
    """Where versions before per-machine data kept the terminal (Windows only)."""
    return user_data_dir("terminal") if sys.platform == "win32" else None


def provisioning_candidates(data_dir: Path) -> list[Path]:
    """Where provisioning.json is looked for, first match wins: $MADOGUCHI_PROVISIONING, the
    data directory's parent (Windows: %ProgramData%\\Madoguchi), /etc/madoguchi (not Windows)."""
    found: list[Path] = []
    if os.environ.get(PROVISIONING_ENV):
        found.append(Path(os.environ[PROVISIONING_ENV]))
    found.append(Path(data_dir).parent / PROVISIONING_FILE)
    if sys.platform != "win32":
        found.append(Path("/etc/madoguchi") / PROVISIONING_FILE)
    return found
