"""Setting up this PC's terminal folder: create it with its ACL, choose where the device secret
lives, and bring over the per-user folder of earlier versions (docs/deployment.md)."""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.machine.api import DEFAULT_USERS_SID, MachineApi, data_dir_sddl
from app.machine.secret import SECRET_FILE, MachineSecretStore

log = logging.getLogger(__name__)

# The running program's single-instance lock belongs to the folder, not to the terminal.
NOT_MIGRATED = ("madoguchi.lock",)


def machine_api() -> MachineApi | None:
    """The real Windows API on Windows; None elsewhere (XDG folders, Secret Service keyring)."""
    if sys.platform == "win32":
        from app.machine.windows import WindowsMachineApi

        return WindowsMachineApi()
    return None


def ensure_data_dir(
    data_dir: Path, *, api: MachineApi | None = None, users_sid: str = DEFAULT_USERS_SID
) -> None:
    """Make `data_dir` a terminal folder before anything secret is written into it: created
    with the machine ACL on Windows (set as it is created), mode 0700 elsewhere. A folder that
    exists already but holds no enrollment (made by the single-instance lock, the installer, a
    user) gets the ACL put on it (Windows) or its mode tightened; an enrolled one is left."""
    data_dir = Path(data_dir)
    api = api if api is not None else machine_api()
    if data_dir.is_dir():
        from app.services.terminal import TerminalFiles

        if TerminalFiles(data_dir).config.exists():
            return
        if api is None:
            data_dir.chmod(0o700)
        else:
            api.secure_existing_dir(data_dir, data_dir_sddl(users_sid))
        return
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        if api is None:
            data_dir.mkdir(mode=0o700)
        else:
            api.create_private_dir(data_dir, data_dir_sddl(users_sid))
    except FileExistsError:
        pass  # created meanwhile (a second start): its creator set the same ACL


def secret_store_for(data_dir: Path, *, api: MachineApi | None = None) -> Callable[[str], Any]:
    """The device secret's store for the terminal in `data_dir` (install_id → SecretStore):
    a DPAPI machine-scope file in the folder on Windows, the OS keyring (Secret Service)
    elsewhere."""
    api = api if api is not None else machine_api()
    if api is None:
        from app.store.keys import DeviceSecret

        return DeviceSecret
    folder = Path(data_dir)
    return lambda install_id: MachineSecretStore(folder / SECRET_FILE, install_id, api)


@dataclass(frozen=True, slots=True)
class Migrated:
    terminal_no: str
    files: int


def migrate_legacy(
    data_dir: Path,
    legacy_dir: Path | None,
    *,
    legacy_store_factory: Callable[[str], Any],
    new_store_factory: Callable[[str], Any],
    api: MachineApi | None = None,
    users_sid: str = DEFAULT_USERS_SID,
) -> Migrated | None:
    """Bring the per-user terminal of an earlier version into the per-machine folder.

    Nothing happens unless `legacy_dir` holds an enrolled terminal and `data_dir` does not.
    The device secret moves from the user's credential store to the machine store; the files
    are copied (new files take the folder's ACL), terminal.json last, so an interrupted run
    simply runs again; then the per-user copy and credential are removed.
    """
    from app.fileio import atomic_write_text
    from app.services.terminal import TerminalConfig, TerminalError, TerminalFiles

    if legacy_dir is None:
        return None
    old, new = TerminalFiles(Path(legacy_dir)), TerminalFiles(Path(data_dir))
    if new.is_enrolled() or not old.is_enrolled():
        return None
    config = TerminalConfig.load(old)
    legacy_store = legacy_store_factory(config.install_id)
    secret = legacy_store.get()
    if secret is None:
        raise TerminalError(
            f"以前のデータフォルダ({old.data_dir})の端末を移行できません(このWindowsユーザーの"
            "資格情報に端末の秘密情報がありません)。端末を登録したユーザーでサインインして起動するか、"
            "管理者に端末の登録を依頼してください。"
        )
    ensure_data_dir(new.data_dir, api=api, users_sid=users_sid)
    new_store_factory(config.install_id).store(secret)
    copied = 0
    for entry in sorted(old.data_dir.iterdir()):
        if entry.name in (old.config.name, *NOT_MIGRATED):
            continue
        target = new.data_dir / entry.name
        if entry.is_dir():
            shutil.copytree(entry, target, dirs_exist_ok=True, copy_function=shutil.copyfile)
        else:
            shutil.copyfile(entry, target)
        copied += 1
    # Last: the folder is a terminal once terminal.json is there.
    atomic_write_text(new.config, old.config.read_text(encoding="utf-8"))
    log.info("terminal %s migrated to the machine folder (%d entries)", config.terminal_no, copied)
    try:
        legacy_store.delete()
        shutil.rmtree(old.data_dir)
    except Exception as exc:  # the copy is done; leftovers only waste space
        log.warning("per-user terminal folder not removed: %s", type(exc).__name__)
    return Migrated(config.terminal_no, copied + 1)
