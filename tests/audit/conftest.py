"""Fixtures of the audit tests: a real SQLCipher file with the store's audit table."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3
from cryptography.hazmat.primitives.asymmetric import ec

from app.store.audit import AUDIT_TABLE_DDL, AuditChain, signer_for


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Any]:
    conn = sqlcipher3.connect(str(tmp_path / "cache.db"), check_same_thread=False)
    conn.execute(f"PRAGMA key = \"x'{os.urandom(32).hex()}'\"")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(AUDIT_TABLE_DDL)
    conn.commit()
    yield conn
    conn.close()


@pytest.fixture
def terminal_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def chain(cache: Any, terminal_key: ec.EllipticCurvePrivateKey) -> AuditChain:
    return AuditChain(cache, "T0001", signer_for(terminal_key))


from tests.support.postgres import postgres_cluster, postgres_db  # noqa: E402, F401
