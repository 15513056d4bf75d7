"""Per-machine terminal data (DESIGN.md §12) through the Windows seam's Linux fake.

DPAPI and NTFS ACLs cannot run here: tests.support.machine.FakeMachineApi stands in for them
(the real ctypes code runs in packaging/check_machine_scope.py, under wine in CI). Everything
above the seam is real: the secret store file, the folder's creation, enrollment against the
server on loopback, login, and the migration of an earlier per-user folder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

import pytest

from app.machine import paths
from app.machine.api import DEFAULT_USERS_SID, data_dir_sddl, valid_users_sid
from app.machine.secret import SECRET_FILE, MachineSecretStore
from app.machine.setup import ensure_data_dir, migrate_legacy, secret_store_for
from app.services.terminal import TerminalConfig, TerminalFiles, enroll
from app.store.errors import StoreError
from printing import render_certificate
from server.embedded import EmbeddedServer
from tests.support.machine import FakeMachineApi
from tests.support.server import FAST_PASSWORDS

PASSWORD = "machine-scope-1"


def test_sddl_gives_the_program_users_modify_and_nobody_else() -> None:
    sddl = data_dir_sddl()
    # Protected (no inheritance from %ProgramData%), inherited by files and folders inside.
    assert sddl.startswith("D:P")
    aces = sddl[3:].strip("()").split(")(")
    # SYSTEM and Administrators full; the users and any file's owner (OWNER RIGHTS) modify
    # only, so no clerk can change the ACL (0x1301bf has no WRITE_DAC / WRITE_OWNER).
    assert aces == [
        "A;OICI;FA;;;SY",
        "A;OICI;FA;;;BA",
        "A;OICI;0x1301bf;;;AU",
        "A;OICI;0x1301bf;;;OW",
    ]
    assert 0x1301BF & (0x40000 | 0x80000) == 0
    assert "(A;OICI;0x1301bf;;;S-1-5-21-1-2-3-1001)" in data_dir_sddl("S-1-5-21-1-2-3-1001")
    for bad in ("Everyone", "S-1", "AU)(A;;FA;;;WD", ""):
        assert not valid_users_sid(bad)
        with pytest.raises(ValueError):
            data_dir_sddl(bad)


def test_data_dir_created_with_the_acl_once(tmp_path: Path) -> None:
    api = FakeMachineApi()
    folder = tmp_path / "ProgramData" / "Madoguchi" / "terminal"
    ensure_data_dir(folder, api=api, users_sid=DEFAULT_USERS_SID)
    assert folder.is_dir() and api.acls == {folder: data_dir_sddl()}
    (folder / "terminal.json").write_text("{}", encoding="utf-8")
    api.acls.clear()
    ensure_data_dir(folder, api=api)  # an enrolled folder is left as it is
    assert api.acls == {}


def test_a_folder_made_before_enrollment_gets_the_acl(tmp_path: Path) -> None:
    """The single-instance lock (or the installer, or a user) may create the folder first: the
    ACL is put on it before enrollment writes anything secret into it."""
    api = FakeMachineApi()
    folder = tmp_path / "terminal"
    folder.mkdir()
    (folder / "madoguchi.lock").write_bytes(b"")
    ensure_data_dir(folder, api=api, users_sid="S-1-5-21-7-8-9-1105")
    assert api.acls == {folder: data_dir_sddl("S-1-5-21-7-8-9-1105")}
    plain = tmp_path / "xdg-terminal"
    plain.mkdir(mode=0o755)
    ensure_data_dir(plain, api=None)
    assert (plain.stat().st_mode & 0o777) == 0o700


def test_data_dir_elsewhere_is_private_to_the_user(tmp_path: Path) -> None:
    folder = tmp_path / "xdg" / "madoguchi" / "terminal"
    ensure_data_dir(folder, api=None)
    assert (folder.stat().st_mode & 0o777) == 0o700


def test_machine_secret_round_trip_and_refusals(tmp_path: Path) -> None:
    api = FakeMachineApi()
    path = tmp_path / SECRET_FILE
    store = MachineSecretStore(path, "abcd", api)
    assert store.get() is None
    secret = store.get_or_create()
    assert len(secret) == 32 and store.get_or_create() == secret
    assert secret not in path.read_bytes() and secret.hex() not in path.read_text()
    # Another enrollment's id, or the file copied to another PC: refused, not misread.
    with pytest.raises(StoreError, match="device-secret"):
        MachineSecretStore(path, "other", api).get()
    with pytest.raises(StoreError, match="別のPC"):
        MachineSecretStore(path, "abcd", FakeMachineApi()).get()
    path.write_text("garbage", encoding="ascii")
    with pytest.raises(StoreError):
        store.get()
    store.delete()
    assert not path.exists()


def test_offline_failure_guard_beside_the_machine_secret(tmp_path: Path) -> None:
    """Issue 21 item 11 on Windows: the key slots' failure counts in a DPAPI file beside the
    device secret, for this enrollment only; removed with the secret."""
    from datetime import UTC, datetime

    from app.machine.secret import GUARD_FILE
    from app.store.errors import SlotDeleted, WrongPassword
    from app.store.keys import Argon2Params, KeySlots

    api = FakeMachineApi()
    store = MachineSecretStore(tmp_path / SECRET_FILE, "abcd", api)
    secret = store.get_or_create()
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    slots_file, copy = tmp_path / "keyslots.json", tmp_path / "copy.json"
    slots = KeySlots(slots_file, Argon2Params(1, 1024, 1), guard=store.failure_guard())
    slots.create_or_refresh("op1", "pw", b"k" * 32, secret, 7, now=now)
    copy.write_bytes(slots_file.read_bytes())
    for _ in range(4):
        with pytest.raises(WrongPassword):
            slots.unwrap("op1", "guess", secret, now)
    guard_file = tmp_path / GUARD_FILE
    assert b'"failures"' not in guard_file.read_bytes()  # DPAPI-protected, not plain JSON
    slots_file.write_bytes(copy.read_bytes())
    with pytest.raises(SlotDeleted):
        slots.unwrap("op1", "guess", secret, now)
    # Another enrollment's id reads nothing from it (a damaged record vouches for no slot).
    assert MachineSecretStore(tmp_path / SECRET_FILE, "other", api).failure_guard().read() == b""
    store.delete()
    assert not guard_file.exists()


def test_windows_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("PROGRAMDATA", str(tmp_path / "PD"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "LAD"))
    monkeypatch.delenv(paths.PROVISIONING_ENV, raising=False)
    machine = paths.default_data_dir()
    assert machine == tmp_path / "PD" / "Madoguchi" / "terminal"
    assert paths.default_data_dir("demo") == tmp_path / "LAD" / "Madoguchi" / "demo"
    assert paths.legacy_user_dir() == tmp_path / "LAD" / "Madoguchi" / "terminal"
    assert paths.provisioning_candidates(machine) == [
        tmp_path / "PD" / "Madoguchi" / "provisioning.json"
    ]


def test_linux_paths_keep_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv(paths.PROVISIONING_ENV, raising=False)
    assert paths.default_data_dir() == tmp_path / "madoguchi" / "terminal"
    assert paths.legacy_user_dir() is None
    assert paths.provisioning_candidates(paths.default_data_dir())[-1] == Path(
        "/etc/madoguchi/provisioning.json"
    )


@pytest.fixture
def server(tmp_path: Path):
    srv = EmbeddedServer(tmp_path / "server", **FAST_PASSWORDS)
    srv.add_operator("issuer01", "試験 職員", ["issuer"], "本庁", PASSWORD)
    srv.start()
    try:
        yield srv
    finally:
        srv.close()


def _login(data_dir: Path, factory) -> str:
    from app.services.login import LoginService

    session = LoginService(data_dir, render_certificate, secret_store_factory=factory).login(
        "issuer01", PASSWORD
    )
    try:
        return session.operator.operator_id
    finally:
        session.logout()


def test_enrolled_pc_keeps_working_for_any_windows_account(
    server: EmbeddedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The device secret sits in the machine folder, DPAPI machine-scoped: a new clerk's account
    or a reset profile (another HOME, no keyring entry) logs in with no new enrollment."""
    api = FakeMachineApi()
    folder = tmp_path / "ProgramData" / "Madoguchi" / "terminal"
    config = enroll(
        folder,
        server.base_url,
        server.ca_cert_path,
        server.make_token(),
        secret_store_for(folder, api=api),
        machine_api=api,
    )
    assert api.acls[folder] == data_dir_sddl()
    assert (folder / SECRET_FILE).is_file()
    for account in ("clerk-a", "clerk-b-after-profile-reset"):
        monkeypatch.setenv("HOME", str(tmp_path / account))
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / account / "data"))
        assert _login(folder, secret_store_for(folder, api=api)) == "issuer01"
    assert TerminalConfig.load(TerminalFiles(folder)).terminal_no == config.terminal_no


class _UserCredential:
    """The per-user store of earlier versions (Credential Manager), for the migration."""

    entries: ClassVar[dict[str, bytes]] = {}

    def __init__(self, install_id: str) -> None:
        self.install_id = install_id

    def get(self) -> bytes | None:
        return self.entries.get(self.install_id)

    def get_or_create(self) -> bytes:
        import secrets

        return self.entries.setdefault(self.install_id, secrets.token_bytes(32))

    def delete(self) -> None:
        self.entries.pop(self.install_id, None)

    def failure_guard(self) -> _UserRecord:
        return _UserRecord()


class _UserRecord:
    data: ClassVar[bytes | None] = None

    def read(self) -> bytes | None:
        return _UserRecord.data

    def write(self, data: bytes) -> None:
        _UserRecord.data = data

    def delete(self) -> None:
        _UserRecord.data = None


def test_per_user_folder_of_an_earlier_version_is_migrated(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    _UserCredential.entries = {}
    legacy = tmp_path / "LocalAppData" / "Madoguchi" / "terminal"
    config = enroll(
        legacy, server.base_url, server.ca_cert_path, server.make_token(), _UserCredential
    )
    assert _login(legacy, _UserCredential) == "issuer01"  # a cache with a key slot in it
    (legacy / "settings.json").write_text('{"printer": "窓口1"}', encoding="utf-8")
    (legacy / "madoguchi.lock").write_bytes(b"old")  # an earlier run's lock stays behind

    api = FakeMachineApi()
    folder = tmp_path / "ProgramData" / "Madoguchi" / "terminal"
    migrated = migrate_legacy(
        folder,
        legacy,
        legacy_store_factory=_UserCredential,
        new_store_factory=secret_store_for(folder, api=api),
        api=api,
    )
    assert migrated is not None and migrated.terminal_no == config.terminal_no
    assert not legacy.exists() and _UserCredential.entries == {}
    assert api.acls[folder] == data_dir_sddl()
    assert (folder / "settings.json").read_text(encoding="utf-8") == '{"printer": "窓口1"}'
    assert not (folder / "madoguchi.lock").exists()
    assert _login(folder, secret_store_for(folder, api=api)) == "issuer01"
    # Once is enough: nothing to do the second time.
    assert (
        migrate_legacy(
            folder,
            legacy,
            legacy_store_factory=_UserCredential,
            new_store_factory=secret_store_for(folder, api=api),
            api=api,
        )
        is None
    )


def test_migration_without_the_users_credential_says_what_to_do(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    from app.services.terminal import TerminalError

    _UserCredential.entries = {}
    legacy = tmp_path / "legacy"
    enroll(legacy, server.base_url, server.ca_cert_path, server.make_token(), _UserCredential)
    _UserCredential.entries = {}  # another Windows user: not their credential
    folder = tmp_path / "machine"
    with pytest.raises(TerminalError, match="端末を登録したユーザー"):
        migrate_legacy(
            folder,
            legacy,
            legacy_store_factory=_UserCredential,
            new_store_factory=secret_store_for(folder, api=FakeMachineApi()),
            api=FakeMachineApi(),
        )
    assert (legacy / "terminal.json").is_file() and not (folder / "terminal.json").exists()
