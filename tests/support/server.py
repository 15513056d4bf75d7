"""A running sync server with an enrolled terminal, for any test that talks to the server.

In a conftest (or test module):

    from tests.support.server import sync_server  # noqa: F401

    def test_something(sync_server: ServerEnv) -> None:
        page = sync_server.client.changes(0)          # logged in as ServerEnv.operator_id

`sync_server` is SQLite (fast). `sync_server_any` runs a test against SQLite and PostgreSQL
(it needs `postgres_cluster` from tests.support.postgres imported as well).
Without fixtures: `start_server_env(tmp_dir, households=...)`; call `env.close()` at the end.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.domain.identifiers import (
    juminhyo_code_check_digit,
    local_government_code_check_digit,
    my_number_check_digit,
)
from app.sync.client import SyncClient, generate_terminal_key, make_csr, store_enrollment
from server.embedded import EmbeddedServer

MUNICIPALITY = "01208" + str(local_government_code_check_digit("01208"))
OPERATOR_ID = "clerk01"
OPERATOR_PASSWORD = "correct horse battery"
KEY_PASSWORD = b"terminal-key-password"
# argon2id at a test cost: the production cost is tested once, in tests/server.
FAST_PASSWORDS = {"password_time_cost": 1, "password_memory_kib": 1024}


def make_person(n: int, version: int = 1, relationship: str = "世帯主") -> dict[str, Any]:
    """An invented person with valid check digits (no real personal data)."""
    body = f"{n:010d}"
    mbody = f"8{n:010d}"
    return {
        "person_id": f"P{n:08d}",
        "juminhyo_code": body + str(juminhyo_code_check_digit(body)),
        "my_number": mbody + str(my_number_check_digit(mbody)),
        "version": version,
        "status": "resident",
        "name": ["試験", "見本", "仮名"][n % 3] + " " + ["一郎", "花子", "桜"][n % 3],
        "name_kana": "シケン イチロウ",
        "birth_date": f"{1940 + n % 60}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        "sex": "male" if n % 2 else "female",
        "relationship": relationship,
    }


def make_household(h: int, members: int = 2, version: int = 1) -> dict[str, Any]:
    people = [
        make_person(h * 10 + i, version, "世帯主" if i == 0 else "子") for i in range(members)
    ]
    return {
        "household_id": f"H{h:08d}",
        "municipality_code": MUNICIPALITY,
        "postal_code": "090-0024",
        "address": f"北見市北{1 + h % 9}条西{1 + h % 7}丁目{h % 50 + 1}番地",
        "katagaki": None,
        "head_person_id": people[0]["person_id"],
        "members": people,
    }


def make_households(count: int, members: int = 2, start: int = 0) -> list[dict[str, Any]]:
    return [make_household(h, members) for h in range(start, start + count)]


def write_jsonl(path: Path, households: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for h in households:
            fh.write(json.dumps(h, ensure_ascii=False) + "\n")
    return path


@dataclass
class Terminal:
    terminal_no: str
    cert_path: Path
    key_path: Path
    ca_path: Path
    dek: bytes
    key_password: bytes = KEY_PASSWORD


@dataclass
class ServerEnv:
    server: EmbeddedServer
    terminal: Terminal
    client: SyncClient  # enrolled and logged in as operator_id
    operator_id: str = OPERATOR_ID
    password: str = OPERATOR_PASSWORD
    _clients: list[SyncClient] = field(default_factory=list)

    def new_client(self, *, login: bool = True, terminal: Terminal | None = None) -> SyncClient:
        t = terminal or self.terminal
        client = SyncClient(
            self.server.base_url, t.ca_path, t.cert_path, t.key_path, t.key_password
        )
        self._clients.append(client)
        if login:
            client.login(self.operator_id, self.password)
        return client

    def enroll_another(self, directory: Path) -> Terminal:
        return enroll_terminal(self.server, directory)

    def close(self) -> None:
        for c in self._clients:
            c.close()
        self.client.close()
        self.server.close()


def enroll_terminal(server: EmbeddedServer, directory: Path) -> Terminal:
    """Enroll a new terminal the way the client does: key + CSR + DEK, files on disk."""
    key = generate_terminal_key()
    dek = secrets.token_bytes(32)
    with SyncClient(server.base_url, server.ca_cert_path) as anonymous:
        answer = anonymous.enroll(server.make_token(), make_csr(key), dek, hostname="test-pc")
    cert, key_path, ca = store_enrollment(directory, key, answer, KEY_PASSWORD)
    return Terminal(answer.terminal_no, cert, key_path, ca, dek)


def start_server_env(
    directory: Path,
    *,
    database_url: str | None = None,
    households: Iterable[dict[str, Any]] = (),
    roles: tuple[str, ...] = ("clerk", "issuer"),
    template: Path | None = None,
) -> ServerEnv:
    """A started server with households, operator OPERATOR_ID and an enrolled, logged-in client.

    `template`: a data dir made by `prepare_server_dir` (SQLite only), copied instead of being
    built again: saves the CA, the migrations, the import and the password hash per test.
    """
    server_dir = directory / "server"
    if template is not None:
        shutil.copytree(template, server_dir)
    server = EmbeddedServer(server_dir, database_url=database_url, **FAST_PASSWORDS)
    try:
        if template is None:
            _populate(server, directory, households, roles)
        server.start()
        terminal = enroll_terminal(server, directory / "terminal")
        client = SyncClient(
            server.base_url,
            terminal.ca_path,
            terminal.cert_path,
            terminal.key_path,
            terminal.key_password,
        )
        client.login(OPERATOR_ID, OPERATOR_PASSWORD)
    except BaseException:
        server.close()
        raise
    return ServerEnv(server, terminal, client)


def _populate(
    server: EmbeddedServer,
    directory: Path,
    households: Iterable[dict[str, Any]],
    roles: tuple[str, ...],
) -> None:
    households = list(households)
    if households:
        report = server.import_jsonl(write_jsonl(directory / "import.jsonl", households))
        assert report.ok, report.errors
    server.add_operator(OPERATOR_ID, "試験 職員", list(roles), "本庁", OPERATOR_PASSWORD)


def prepare_server_dir(
    directory: Path,
    households: Iterable[dict[str, Any]] = (),
    roles: tuple[str, ...] = ("clerk", "issuer"),
) -> Path:
    """An initialised SQLite data dir (not started) to copy into many tests."""
    server = EmbeddedServer(directory / "server", **FAST_PASSWORDS)
    try:
        _populate(server, directory, households, roles)
    finally:
        server.close()
    return directory / "server"


@pytest.fixture(scope="session")
def sync_server_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_server_dir(tmp_path_factory.mktemp("server-template"), make_households(20))


@pytest.fixture
def sync_server(tmp_path: Path, sync_server_template: Path) -> Iterator[ServerEnv]:
    """SQLite-backed server with 20 households (40 persons), an enrolled terminal, a session."""
    env = start_server_env(tmp_path, template=sync_server_template)
    try:
        yield env
    finally:
        env.close()


@pytest.fixture(params=["sqlite", "postgres"])
def sync_server_any(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerEnv]:
    """The same, once on SQLite and once on PostgreSQL (needs postgres_cluster)."""
    url = None
    if request.param == "postgres":
        cluster = request.getfixturevalue("postgres_cluster")
        url = cluster.create_database()
    env = start_server_env(tmp_path, database_url=url, households=make_households(20))
    try:
        yield env
    finally:
        env.close()
