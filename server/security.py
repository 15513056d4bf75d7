"""Secrets on the server: argon2id passwords, hashed one-time tokens, the DEK escrow (AES-GCM)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)


def configure_hasher(time_cost: int, memory_kib: int) -> None:
    """Cost of new hashes; verification always uses the parameters stored in the hash."""
    global _hasher
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    # Never a leading "-": `madoguchi enroll --token …` would take the token for an option.
    while (token := secrets.token_urlsafe(32)).startswith("-"):
        pass
    return token


def token_hash(token: str) -> str:
    """Tokens are stored hashed: a copy of the database does not enroll a terminal."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def seal_dek(master_key: bytes, terminal_no: str, dek: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(master_key).encrypt(nonce, dek, terminal_no.encode())


def open_dek(master_key: bytes, terminal_no: str, sealed: bytes) -> bytes:
    return AESGCM(master_key).decrypt(sealed[:12], sealed[12:], terminal_no.encode())
