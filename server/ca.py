"""The municipality's CA: server TLS certificate and terminal certificates (cryptography).

One CA key signs both the server certificate (serverAuth, SAN 127.0.0.1/localhost and the
configured names) and the terminal certificates (clientAuth, CN = terminal number). Clients
pin this CA; uvicorn verifies client certificates against it (see server/tls.py).

Every certificate follows the RFC 5280 profile that Python 3.13's VERIFY_X509_STRICT enforces:
Subject and Authority Key Identifiers, critical basicConstraints and keyUsage.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.config import ServerConfig


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _leaf_usage() -> x509.KeyUsage:
    # ECDSA keys: TLS and our request signatures need digitalSignature only.
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _identifiers(
    builder: x509.CertificateBuilder, subject: ec.EllipticCurvePublicKey, issuer: x509.Certificate
) -> x509.CertificateBuilder:
    """Subject and Authority Key Identifiers (RFC 5280 4.2.1.1-2), the issuer's from its SKI."""
    issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(subject), critical=False
    ).add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False
    )


def _follows_profile(cert: x509.Certificate) -> bool:
    try:
        cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
        cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        cert.extensions.get_extension_for_class(x509.KeyUsage)
    except x509.ExtensionNotFound:
        return False
    return True


def create_ca(config: ServerConfig) -> None:
    """Create the CA, the server certificate and the master key (once; never overwrites).

    A server certificate issued by an older version without the key identifiers is issued
    again under the same CA (the terminals pin the CA, whose fingerprint does not change).
    """
    if config.ca_cert_path.exists():
        server_cert = config.tls_cert_path
        if not server_cert.exists() or not _follows_profile(
            x509.load_pem_x509_certificate(server_cert.read_bytes())
        ):
            issue_server_cert(config)
        return
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, config.municipality_name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Madoguchi CA {config.municipality_code}"),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650 * 2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(config.ca_key_path, _key_pem(ca_key))
    config.ca_cert_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    issue_server_cert(config)
    if not config.master_key_path.exists():
        _write_private(config.master_key_path, secrets.token_bytes(32))


@dataclass(frozen=True)
class CA:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()


def load_ca(config: ServerConfig) -> CA:
    cert = x509.load_pem_x509_certificate(config.ca_cert_path.read_bytes())
    key = serialization.load_pem_private_key(config.ca_key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return CA(cert, key)


def issue_server_cert(config: ServerConfig) -> None:
    ca = load_ca(config)
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    for host in config.tls_hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "madoguchi-server")]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    cert = _identifiers(builder, key.public_key(), ca.cert).sign(ca.key, hashes.SHA256())
    _write_private(config.tls_key_path, _key_pem(key))
    config.tls_cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def sign_terminal_csr(
    ca: CA,
    csr: x509.CertificateSigningRequest,
    terminal_no: str,
    days: int,
    *,
    not_before: datetime | None = None,
) -> x509.Certificate:
    """The CSR's key gets a clientAuth certificate whose CN is the terminal number.

    Nothing but the public key is taken from the CSR: the subject is ours to decide.
    """
    start = not_before or (datetime.now(UTC) - timedelta(minutes=5))
    key = csr.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("terminal keys are EC keys")
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Madoguchi terminal"),
                    x509.NameAttribute(NameOID.COMMON_NAME, terminal_no),
                ]
            )
        )
        .issuer_name(ca.cert.subject)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    return _identifiers(builder, key, ca.cert).sign(ca.key, hashes.SHA256())
