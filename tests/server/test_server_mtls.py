"""Who calls: no certificate, another CA, a revoked terminal, an expired certificate — refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.sync.client import SyncClient, generate_terminal_key, make_csr, write_private_key
from app.sync.errors import ServerRejected, ServerUnreachable
from app.sync.protocol import EnrollRequest
from server import admin
from server.app import create_app
from server.tls import _WithTLS
from tests.support.server import KEY_PASSWORD, ServerEnv


def _self_made_ca_cert(directory: Path) -> tuple[Path, Path]:
    """A terminal-looking certificate from a CA that is not the municipality's."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Madoguchi CA 012084")])
    key = generate_terminal_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "0001")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "rogue.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = write_private_key(directory / "rogue.key", key, KEY_PASSWORD)
    return cert_path, key_path


def _expired_terminal(env: ServerEnv, directory: Path) -> tuple[Path, Path]:
    """A certificate our CA really issued (and a terminal row), valid only in the past."""
    server = env.server
    key = generate_terminal_key()
    ca = server_ca(env)
    answer = admin.enroll(
        server.db,
        server.config,
        ca,
        admin.load_master_key(server.config),
        EnrollRequest(
            token=server.make_token(), csr_pem=make_csr(key), escrowed_dek_b64="A" * 43 + "="
        ),
        cert_days=1,
        not_before=datetime.now(UTC) - timedelta(days=3),
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "expired.pem"
    cert_path.write_text(answer.certificate_pem)
    return cert_path, write_private_key(directory / "expired.key", key, KEY_PASSWORD)


def server_ca(env: ServerEnv):  # type: ignore[no-untyped-def]
    from server.ca import load_ca

    return load_ca(env.server.config)


def test_without_a_certificate_only_enroll_is_open(sync_server: ServerEnv) -> None:
    with SyncClient(sync_server.server.base_url, sync_server.server.ca_cert_path) as anonymous:
        with pytest.raises(ServerRejected) as info:
            anonymous.login(sync_server.operator_id, sync_server.password)
        assert info.value.status == 401 and info.value.code == "client_cert_required"
        assert "端末証明書" in info.value.message
        with pytest.raises(ServerRejected) as info:
            anonymous.changes(0)
        assert info.value.code == "client_cert_required"


def test_certificate_of_another_ca_is_refused_in_the_handshake(
    sync_server: ServerEnv, tmp_path: Path
) -> None:
    cert, key = _self_made_ca_cert(tmp_path)
    with (
        SyncClient(
            sync_server.server.base_url, sync_server.server.ca_cert_path, cert, key, KEY_PASSWORD
        ) as rogue,
        pytest.raises(ServerUnreachable),
    ):
        rogue.login(sync_server.operator_id, sync_server.password)


def test_expired_certificate_is_refused_in_the_handshake(
    sync_server: ServerEnv, tmp_path: Path
) -> None:
    cert, key = _expired_terminal(sync_server, tmp_path)
    base, ca = sync_server.server.base_url, sync_server.server.ca_cert_path
    with SyncClient(base, ca, cert, key, KEY_PASSWORD) as old:
        # The client knows its certificate's date: a clear, non-retryable refusal.
        with pytest.raises(ServerRejected) as info:
            old.login(sync_server.operator_id, sync_server.password)
        assert info.value.code == "client_cert_expired" and "有効期限" in info.value.message
        # And the server refuses it on its own (TLS handshake).
        old.certificate_not_after = None
        with pytest.raises(ServerUnreachable):
            old.login(sync_server.operator_id, sync_server.password)


def test_revocation_takes_effect_on_the_next_request(sync_server_any: ServerEnv) -> None:
    sync_server = sync_server_any
    client = sync_server.client
    client.changes(0, limit=1)  # the connection is open and kept alive
    sync_server.server.revoke_terminal(sync_server.terminal.terminal_no)
    with pytest.raises(ServerRejected) as info:
        client.changes(0, limit=1)
    assert info.value.status == 403 and info.value.terminal_revoked
    with pytest.raises(ServerRejected) as info:
        client.login(sync_server.operator_id, sync_server.password)
    assert info.value.code == "terminal_revoked"


def test_a_client_pinning_another_ca_does_not_talk_to_the_server(
    sync_server: ServerEnv, tmp_path: Path
) -> None:
    """The client trusts only the CA it was given: a server it cannot verify is unreachable."""
    rogue_cert, _ = _self_made_ca_cert(tmp_path)  # any PEM certificate that is not our CA
    with (
        SyncClient(sync_server.server.base_url, rogue_cert) as client,
        pytest.raises(ServerUnreachable),
    ):
        client.enroll(sync_server.server.make_token(), "csr", b"0" * 32)


# --- the application's own checks, behind a listener that would let anything through --------


def _asgi_post(env: ServerEnv, pem: str | None, path: str, body: dict) -> httpx.Response:
    """The app alone (no TLS listener) with the given certificate in the ASGI TLS extension."""
    app = create_app(env.server.config, db=env.server.db)
    tls = {"client_cert_chain": [pem] if pem else []}

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=_WithTLS(app, tls))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            return await c.post(path, json=body)

    return asyncio.run(call())


def test_app_refuses_expired_and_foreign_certificates_on_its_own(
    sync_server: ServerEnv, tmp_path: Path
) -> None:
    body = {"operator_id": sync_server.operator_id, "password": sync_server.password}
    expired_cert, _ = _expired_terminal(sync_server, tmp_path / "e")
    rogue_cert, _ = _self_made_ca_cert(tmp_path / "r")
    cases = [
        (expired_cert.read_text(), 403, "client_cert_expired"),
        (rogue_cert.read_text(), 403, "client_cert_invalid"),
        ("garbage", 403, "client_cert_invalid"),
        (None, 401, "client_cert_required"),
        (sync_server.terminal.cert_path.read_text(), 200, None),
    ]
    for pem, status, code in cases:
        answer = _asgi_post(sync_server, pem, "/v1/sessions", body)
        assert answer.status_code == status, (code, answer.text)
        if code:
            assert answer.json()["code"] == code
            assert set(answer.json()) == {"code", "message"}


def test_unknown_terminal_with_a_valid_certificate_is_refused(
    sync_server: ServerEnv, tmp_path: Path
) -> None:
    """A certificate our CA signed whose terminal row is gone (e.g. restored CA, wiped DB)."""
    from sqlalchemy import delete

    from server.tables import terminals

    with sync_server.server.db.write() as conn:
        conn.execute(delete(terminals))
    answer = _asgi_post(
        sync_server,
        sync_server.terminal.cert_path.read_text(),
        "/v1/sessions",
        {"operator_id": "x", "password": "y"},
    )
    assert answer.status_code == 403 and answer.json()["code"] == "terminal_unknown"
