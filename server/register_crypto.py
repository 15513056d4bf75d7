"""The 個人番号 in the server's register: sealed at rest, with a blind index for look-ups.

The register's households are JSON text (households.data, changes.data). Each member's
`my_number` is stored as a token "mn1.<base64url(nonce ‖ AES-256-GCM ciphertext ‖ tag)>" under a
key derived from the master key (HKDF-SHA256), and persons.my_number_mac holds
HMAC-SHA256(index key, number) — unique, so a number cannot belong to two persons, and the
importer finds a number without decrypting the register. A plain dump of the database (pg_dump,
a copy of server.db, a backup) shows no 個人番号; the master key is a separate file.

The feed copies the stored text without decoding it (server/feed.py); `reveal_text` puts the
numbers back with one substitution per member, so terminals receive the record as before.
Names, addresses and the rest of the record are not sealed: docs/server.md says why.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, insert, select, update

from server.errors import AdminError

log = logging.getLogger(__name__)

PREFIX = "mn1."
_AAD = b"madoguchi register my_number v1"
# In the stored JSON (server.feed.dumps: no spaces), a sealed value is always exactly this.
_SEALED = re.compile(r'"my_number":"mn1\.([A-Za-z0-9_-]+)"')


def _derive(master_key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master_key)


class RegisterKeyError(Exception):
    """A sealed value that this master key does not open."""


class RegisterCipher:
    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(_derive(master_key, b"madoguchi register my_number key v1"))
        self._index_key = _derive(master_key, b"madoguchi register my_number index v1")

    def seal(self, my_number: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = nonce + self._aead.encrypt(nonce, my_number.encode("ascii"), _AAD)
        return PREFIX + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def open(self, token: str) -> str:
        raw = token[len(PREFIX) :] if token.startswith(PREFIX) else token
        try:
            data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            return self._aead.decrypt(data[:12], data[12:], _AAD).decode("ascii")
        except (InvalidTag, ValueError) as exc:
            raise RegisterKeyError("a sealed 個人番号 does not open with this master key") from exc

    def index(self, my_number: str) -> str:
        """The blind index: equal numbers give equal values, nothing else can be learnt."""
        return hmac.new(self._index_key, my_number.encode("ascii"), hashlib.sha256).hexdigest()

    def check_value(self) -> str:
        return hmac.new(self._index_key, b"register key check", hashlib.sha256).hexdigest()

    # -- households -------------------------------------------------------------------------

    def seal_household(self, data: dict[str, Any]) -> dict[str, Any]:
        """A copy of the interchange-format household with every member's number sealed."""
        members = []
        for m in data["members"]:
            number = m.get("my_number")
            if number and not str(number).startswith(PREFIX):
                m = {**m, "my_number": self.seal(number)}
            members.append(m)
        return {**data, "members": members}

    def reveal_household(self, data: dict[str, Any]) -> dict[str, Any]:
        members = []
        for m in data["members"]:
            number = m.get("my_number")
            if isinstance(number, str) and number.startswith(PREFIX):
                m = {**m, "my_number": self.open(number)}
            members.append(m)
        return {**data, "members": members}

    def seal_numbers(self, value: Any) -> Any:
        """A copy of any JSON value with every `my_number` string in it sealed, at any depth:
        the stored 住民異動届 and its event carry the movers' numbers (a 転出証明書's)."""
        if isinstance(value, dict):
            return {
                k: self.seal(v)
                if k == "my_number" and isinstance(v, str) and v and not v.startswith(PREFIX)
                else self.seal_numbers(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.seal_numbers(v) for v in value]
        return value

    def reveal_text(self, text: str) -> str:
        """The stored JSON text with the numbers back in place (no JSON decoding)."""
        if PREFIX not in text:
            return text
        return _SEALED.sub(lambda m: f'"my_number":"{self.open(m.group(1))}"', text)


def reveal(cipher: RegisterCipher | None, text: str) -> str:
    return text if cipher is None else cipher.reveal_text(text)


def cipher_of(conn: Connection) -> RegisterCipher:
    """The register's cipher of a connection from Database.read() / write()."""
    from server.db import CIPHER_KEY

    cipher = conn.info.get(CIPHER_KEY)
    if cipher is None:
        raise RuntimeError("the register's key is not open (admin.init_server opens it)")
    return cipher  # type: ignore[no-any-return]


def attach(conn: Connection, master_key: bytes) -> RegisterCipher:
    """The register's cipher for this master key; seals numbers stored before migration 0005.

    A different master key than the one the register was sealed with stops here, with a
    message for the administrator, rather than in the middle of a terminal's sync.
    """
    from server.tables import register_keys

    cipher = RegisterCipher(master_key)
    row = conn.execute(select(register_keys.c.check_value, register_keys.c.sealed)).first()
    if row is None:
        conn.execute(
            insert(register_keys).values(id=1, check_value=cipher.check_value(), sealed=False)
        )
    elif not hmac.compare_digest(row.check_value, cipher.check_value()):
        raise AdminError(
            "マスター鍵がデータベースと一致しません(master.key を取り違えていませんか)。"
            "登録データの個人番号を復号できないため起動しません。"
        )
    if row is None or not row.sealed:
        sealed, shared = _seal_stored(conn, cipher)
        if sealed:
            log.warning("register: %d stored 個人番号 sealed (upgrade to migration 0005)", sealed)
        if shared:
            log.warning(
                "register: %d persons share a 個人番号 with another person; their blind index "
                "is left empty until an import corrects them",
                shared,
            )
        conn.execute(update(register_keys).where(register_keys.c.id == 1).values(sealed=True))
    return cipher


def _seal_stored(conn: Connection, cipher: RegisterCipher) -> tuple[int, int]:
    """Seal the plaintext numbers of a register imported before migration 0005 (in the caller's
    transaction); fill the blind index. Returns (numbers sealed, persons left without index)."""
    from server.feed import dumps
    from server.tables import changes, households, persons

    sealed = shared = 0
    taken: set[str] = set()
    last = ""
    while True:
        rows = conn.execute(
            select(households.c.household_id, households.c.data)
            .where(households.c.household_id > last)
            .order_by(households.c.household_id)
            .limit(1000)
        ).all()
        if not rows:
            return sealed, shared
        for household_id, text in rows:
            last = household_id
            data = json.loads(text)
            for m in data["members"]:
                number = m.get("my_number")
                if not number:
                    continue
                plain = cipher.open(number) if number.startswith(PREFIX) else number
                mac = cipher.index(plain)
                if mac in taken:
                    shared += 1
                    continue
                taken.add(mac)
                conn.execute(
                    update(persons)
                    .where(persons.c.person_id == m["person_id"])
                    .values(my_number_mac=mac)
                )
            new_data = cipher.seal_household(data)
            if new_data != data:
                sealed += sum(1 for m in data["members"] if m.get("my_number"))
                new_text = dumps(new_data)
                conn.execute(
                    update(households)
                    .where(households.c.household_id == household_id)
                    .values(data=new_text)
                )
                conn.execute(
                    update(changes)
                    .where(changes.c.kind == "household", changes.c.key == household_id)
                    .values(data=new_text)
                )
