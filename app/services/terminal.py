"""This terminal (端末): its files, its configuration and its enrollment with the server.

Data directory layout (one per terminal):

    terminal.json   terminal_no, server URL, municipality (written atomically)
    terminal.pem    the terminal certificate issued at enrollment (mTLS, audit signatures)
    terminal.key    its private key, PKCS#8 encrypted with the device secret (OS keyring)
    ca.pem          the municipality's CA, pinned for every connection
    cache.db        the SQLCipher cache (DEK never stored in plaintext)
    keyslots.json   one key slot per operator (offline login)
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.domain.errors import DomainError
from app.fileio import atomic_write_text
from app.sync.files import CA_FILE, TERMINAL_CERT_FILE, TERMINAL_KEY_FILE

if TYPE_CHECKING:
    from app.machine.api import MachineApi

# The store and the client (sqlcipher3, httpx, cryptography) are imported where they are used:
# the GUI reads this terminal's files to show its login window before those are loaded.


class TerminalError(DomainError):
    pass


class FailureGuard(Protocol):
    """app.store.keys.FailureGuard (the key slots' failure counts beside the secret)."""

    def read(self) -> bytes | None: ...

    def write(self, data: bytes) -> None: ...

    def delete(self) -> None: ...


class SecretStore(Protocol):
    """Where the device secret lives: the OS keyring (app.store.keys.DeviceSecret), or the
    machine store on Windows (app.machine.secret.MachineSecretStore). The same place keeps the
    key slots' failure counts (`failure_guard()`), out of reach of a restored keyslots.json."""

    def get(self) -> bytes | None: ...

    def get_or_create(self) -> bytes: ...

    def delete(self) -> None: ...

    def failure_guard(self) -> FailureGuard: ...


SecretStoreFactory = Callable[[str], SecretStore]


@dataclass(frozen=True, slots=True)
class TerminalFiles:
    data_dir: Path

    @property
    def config(self) -> Path:
        return self.data_dir / "terminal.json"

    @property
    def cert(self) -> Path:
        return self.data_dir / TERMINAL_CERT_FILE

    @property
    def key(self) -> Path:
        return self.data_dir / TERMINAL_KEY_FILE

    @property
    def ca(self) -> Path:
        return self.data_dir / CA_FILE

    @property
    def cache(self) -> Path:
        from app.store.db import cache_path

        return cache_path(self.data_dir)

    @property
    def slots(self) -> Path:
        from app.store.db import slots_path

        return slots_path(self.data_dir)

    def is_enrolled(self) -> bool:
        return self.config.is_file() and self.cert.is_file() and self.key.is_file()


@dataclass(frozen=True, slots=True)
class TerminalConfig:
    install_id: str  # names the keyring entry; random, not personal
    terminal_no: str
    server_url: str
    municipality_code: str
    municipality_name: str
    # The initial sync takes the server's snapshot (docs/sync.md "Snapshot"); false: it builds
    # the cache from the feed, fewer bytes on the line for minutes more of work here (for a
    # terminal first synced over a slow branch line). Set by hand in terminal.json.
    initial_sync_snapshot: bool = True

    @classmethod
    def load(cls, files: TerminalFiles) -> TerminalConfig:
        try:
            data = json.loads(files.config.read_text(encoding="utf-8"))
            return cls(**data)
        except FileNotFoundError:
            raise TerminalError(
                "この端末はまだ登録されていません。管理者に端末登録を依頼してください。"
            ) from None
        except (ValueError, TypeError):
            raise TerminalError(
                f"端末の設定ファイル({files.config.name})が壊れています。管理者に連絡してください。"
            ) from None

    def save(self, files: TerminalFiles) -> None:
        atomic_write_text(files.config, json.dumps(asdict(self), ensure_ascii=False, indent=2))


def make_private(files: TerminalFiles) -> None:
    """POSIX: the terminal's folder 0700 and its files 0600, tightened at every login (folders
    and files of earlier versions were 0755 / 0644). Windows: the folder's ACL from enrollment
    (app.machine) already admits only the program's users; nothing to do here."""
    if os.name == "nt":
        return
    folder = files.data_dir
    if folder.stat().st_mode & 0o077:
        folder.chmod(0o700)
    for entry in folder.iterdir():
        if entry.is_file() and not entry.is_symlink() and entry.stat().st_mode & 0o077:
            entry.chmod(0o600)


def _pem_fingerprint(pem: str) -> str:
    """SHA-256 of the first certificate's DER, as `madoguchi-server ca fingerprint` prints it."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def default_secret_store(install_id: str) -> SecretStore:
    from app.store.keys import DeviceSecret

    return DeviceSecret(install_id)


class AlreadyEnrolled(TerminalError):
    def __init__(self, terminal_no: str | None) -> None:
        which = f"端末 {terminal_no} として" if terminal_no else ""
        super().__init__(
            f"このPCはすでに{which}登録されています。登録し直すには、管理者がサーバーで"
            "この端末の登録を取り消し(madoguchi-server terminal revoke)、端末のデータフォルダを"
            "片付けてから行ってください。"
        )
        self.terminal_no = terminal_no


def enrolled_terminal_no(files: TerminalFiles) -> str | None:
    try:
        return TerminalConfig.load(files).terminal_no
    except TerminalError:
        return None


def enroll(
    data_dir: Path,
    server_url: str,
    ca_cert_path: Path,
    token: str,
    secret_store_factory: SecretStoreFactory = default_secret_store,
    *,
    ca_fingerprint: str | None = None,
    users_sid: str = "AU",
    machine_api: MachineApi | None = None,
) -> TerminalConfig:
    """Enroll this terminal with a one-time token from the administrator.

    Creates the DEK, escrows it with the server, writes the terminal key (encrypted under the
    device secret in the OS store), certificate, CA and an empty encrypted cache.
    `ca_cert_path` must already be trusted (pinned); with `ca_fingerprint`, the CA the server
    answers with must be that one too. The folder is created with the machine ACL on Windows
    (app.machine.setup.ensure_data_dir; `users_sid` and `machine_api` for tests).
    """
    from app.machine.setup import ensure_data_dir
    from app.store.db import create_cache
    from app.store.keys import generate_dek
    from app.sync.client import SyncClient, generate_terminal_key, make_csr, store_enrollment

    files = TerminalFiles(Path(data_dir))
    if files.is_enrolled():
        raise AlreadyEnrolled(enrolled_terminal_no(files))
    ensure_data_dir(files.data_dir, api=machine_api, users_sid=users_sid)
    install_id = secrets.token_hex(8)
    secret_store = secret_store_factory(install_id)
    device_secret = secret_store.get_or_create()

    dek = generate_dek()
    key = generate_terminal_key()
    try:
        with SyncClient(server_url, ca_cert_path) as client:
            answer = client.enroll(token, make_csr(key, socket.gethostname()), dek)
        if ca_fingerprint is not None and _pem_fingerprint(answer.ca_chain_pem) != ca_fingerprint:
            raise TerminalError(
                "サーバーが登録時に返した認証局が、確認した認証局と違います。登録を中止しました。"
                "管理者に連絡してください。"
            )
    except BaseException:
        secret_store.delete()  # this install_id will never be used
        raise
    store_enrollment(files.data_dir, key, answer, password=device_secret)
    # A cache left by an enrollment that crashed before terminal.json was never opened by
    # anyone (its key died with that run), so it holds no outbox: replacing it loses nothing.
    for suffix in ("", "-wal", "-shm"):
        Path(str(files.cache) + suffix).unlink(missing_ok=True)
    create_cache(files.cache, dek).close()
    config = TerminalConfig(
        install_id=install_id,
        terminal_no=answer.terminal_no,
        server_url=server_url,
        municipality_code=answer.municipality_code,
        municipality_name=answer.municipality_name,
    )
    # Last: a crash before this line leaves no terminal.json, so enrollment simply reruns.
    config.save(files)
    return config
