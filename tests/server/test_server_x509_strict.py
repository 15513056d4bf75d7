"""The municipality CA's certificates follow the RFC 5280 profile (issue 16).

Python 3.13's default client context sets VERIFY_X509_STRICT, which refuses a certificate
without Authority/Subject Key Identifiers: every 3.13 terminal failed to connect. The contexts
here set the flag explicitly, so the test fails on 3.12 as well; cryptography's RFC 5280
verifier is the second, outside judge of both the server's and a terminal's certificate.
"""

from __future__ import annotations

import ssl
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import PolicyBuilder, Store

from app.sync.protocol import SESSION_HEADER
from server.ca import create_ca, fingerprint, load_ca
from server.config import ServerConfig
from tests.support.server import ServerEnv


def _strict_client(env: ServerEnv) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(env.terminal.ca_path))
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    ctx.load_cert_chain(
        str(env.terminal.cert_path), str(env.terminal.key_path), password=env.terminal.key_password
    )
    return ctx


def test_a_strict_client_connects_with_mutual_tls(sync_server: ServerEnv) -> None:
    env = sync_server
    with httpx.Client(verify=_strict_client(env)) as http:
        answer = http.get(
            f"{env.server.base_url}/v1/changes",
            params={"after": 0, "limit": 1},
            headers={SESSION_HEADER: env.client.session_token or ""},
        )
    assert answer.status_code == 200


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_server_and_terminal_certificates_pass_outside_verifiers(sync_server: ServerEnv) -> None:
    env = sync_server
    ca = _load(env.terminal.ca_path)
    server_cert = _load(env.server.config.tls_cert_path)
    policy = PolicyBuilder().store(Store([ca])).time(datetime.now(UTC) + timedelta(minutes=1))
    policy.build_server_verifier(x509.DNSName("localhost")).verify(server_cert, [])
    # cryptography's client verifier wants a SAN (web PKI); OpenSSL's strict mode is the judge
    # that Python's ssl module uses.
    ca_file = str(env.terminal.ca_path)
    for path, purpose in (
        (env.server.config.tls_cert_path, "sslserver"),
        (env.terminal.cert_path, "sslclient"),
    ):
        verified = subprocess.run(
            [
                "openssl",
                "verify",
                "-x509_strict",
                "-purpose",
                purpose,
                "-CAfile",
                ca_file,
                str(path),
            ],
            capture_output=True,
            text=True,
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr

    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    for leaf in (server_cert, _load(env.terminal.cert_path)):
        aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        assert aki.key_identifier == ski.digest
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
        assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_an_older_server_certificate_is_issued_again_under_the_same_ca(tmp_path: Path) -> None:
    """A server set up before the fix: its TLS certificate lacks the identifiers. The next start
    issues it again; the CA, which the terminals pin by fingerprint, stays as it was."""
    config = ServerConfig(data_dir=tmp_path / "server")
    create_ca(config)
    ca = load_ca(config)
    pinned = fingerprint(ca.cert)
    old = (
        x509.CertificateBuilder()
        .subject_name(_load(config.tls_cert_path).subject)
        .issuer_name(ca.cert.subject)
        .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=30))
        .sign(ca.key, hashes.SHA256())
    )
    config.tls_cert_path.write_bytes(old.public_bytes(serialization.Encoding.PEM))

    create_ca(config)

    renewed = _load(config.tls_cert_path)
    assert renewed != old
    renewed.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert fingerprint(load_ca(config).cert) == pinned
