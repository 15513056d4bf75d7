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
import secrets
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from app.domain.errors import DomainError
from app.fileio import atomic_write_text

# The store and the client (sqlcipher3, httpx, cryptography) are imported where they are used:
# the GUI reads this terminal's files to show its login window before those are loaded.


class TerminalError(DomainError):
    pass


class SecretStore(Protocol):
    """Where the device secret lives: the OS keyring (app.store.keys.DeviceSecret)."""

    def get(self) -> bytes | None: ...

    def get_or_create(self) -> bytes: ...

    def delete(self) -> None: ...


SecretStoreFactory = Callable[[str], SecretStore]


@dataclass(frozen=True, slots=True)
class TerminalFiles:
    data_dir: Path

    @property
    def config(self) -> Path:
        return self.data_dir / "terminal.json"

    @property
    def cert(self) -> Path:
        return self.data_dir / "terminal.pem"

    @property
    def key(self) -> Path:
        return self.data_dir / "terminal.key"

    @property
    def ca(self) -> Path:
        return self.data_dir / "ca.pem"

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


def default_secret_store(install_id: str) -> SecretStore:
    from app.store.keys import DeviceSecret

    return DeviceSecret(install_id)


def enroll(
    data_dir: Path,
    server_url: str,
    ca_cert_path: Path,
    token: str,
    secret_store_factory: SecretStoreFactory = default_secret_store,
) -> TerminalConfig:
    """Enroll this terminal with a one-time token from the administrator.

    Creates the DEK, escrows it with the server, writes the terminal key (encrypted under the
    device secret in the OS keyring), certificate, CA and an empty encrypted cache.
    """
    from app.store.db import create_cache
    from app.store.keys import generate_dek
    from app.sync.client import SyncClient, generate_terminal_key, make_csr, store_enrollment

    files = TerminalFiles(Path(data_dir))
    if files.is_enrolled():
        raise TerminalError("この端末はすでに登録されています。")
    files.data_dir.mkdir(parents=True, exist_ok=True)
    install_id = secrets.token_hex(8)
    device_secret = secret_store_factory(install_id).get_or_create()

    dek = generate_dek()
    key = generate_terminal_key()
    with SyncClient(server_url, ca_cert_path) as client:
        answer = client.enroll(token, make_csr(key, socket.gethostname()), dek)
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
