"""The 公印 and the 市長 on this terminal: fetched from the server, verified, kept in the cache.

The server signs the bundle with the municipality CA's key (server/seal.py); the terminal
checks the signature against the CA it pinned at enrollment (ca.pem), the image against its
digest, the municipality against its own, and never goes back to a lower version. The bundle
is kept in the encrypted cache (local state, carried over by a snapshot) and checked again
each time it is used: an issued certificate carries the seal only if everything holds, and
without one there is no issuance (DESIGN.md §12; the demo's server signs the demo seal).
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError as PydanticValidationError

from app.domain.errors import DomainError, ValidationError
from app.domain.seal import image_digest, png_dimensions, seal_signed_bytes
from app.sync.protocol import SealBundle

log = logging.getLogger(__name__)

SEAL_STATE_KEY = "seal_bundle"

NO_SEAL = (
    "公印と市長名が中央サーバーから届いていないため、証明書を交付できません。"
    "管理者に公印の登録(madoguchi-server seal set)を依頼し、同期してから交付してください。"
    "見本の表示はできます。"
)
BAD_SEAL = (
    "公印のデータの署名を確認できません(改ざんまたは破損の可能性)。証明書の交付を止めました。"
    "管理者に連絡してください。"
)


class SealError(DomainError):
    pass


class _SealClient(Protocol):
    def seal(self, known_version: int | None = None) -> SealBundle | None: ...


class _StateStore(Protocol):
    def local_state(self, key: str) -> str | None: ...

    def set_local_state(self, key: str, value: str) -> None: ...


@dataclass(frozen=True, slots=True)
class VerifiedSeal:
    version: int
    mayor_title: str
    mayor_name: str
    image_png: bytes


def verify_bundle(bundle: SealBundle, ca_pem: bytes, municipality_code: str) -> VerifiedSeal:
    """The bundle's contents if the pinned CA signed them for this municipality; else SealError."""
    try:
        ca = x509.load_pem_x509_certificate(ca_pem)
        public_key = ca.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise SealError(BAD_SEAL)
        image = base64.b64decode(bundle.image_png_b64, validate=True)
        signature = base64.b64decode(bundle.signature_b64, validate=True)
        signed = seal_signed_bytes(
            version=bundle.version,
            municipality_code=bundle.municipality_code,
            mayor_title=bundle.mayor_title,
            mayor_name=bundle.mayor_name,
            image_sha256=bundle.image_sha256,
            signed_at=bundle.signed_at,
        )
        public_key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
        if image_digest(image) != bundle.image_sha256:
            raise SealError(BAD_SEAL)
        png_dimensions(image)
    except (InvalidSignature, ValueError, binascii.Error, ValidationError):
        raise SealError(BAD_SEAL) from None
    if bundle.municipality_code != municipality_code:
        raise SealError("公印のデータが別の市区町村のものです。管理者に連絡してください。")
    return VerifiedSeal(bundle.version, bundle.mayor_title, bundle.mayor_name, image)


def _stored(state: _StateStore) -> SealBundle | None:
    raw = state.local_state(SEAL_STATE_KEY)
    if raw is None:
        return None
    try:
        return SealBundle.model_validate_json(raw)
    except (PydanticValidationError, ValueError):
        raise SealError(BAD_SEAL) from None


def current_seal(state: _StateStore, ca_path: Path, municipality_code: str) -> VerifiedSeal:
    """The verified seal kept in the cache; SealError (NO_SEAL or BAD_SEAL) otherwise."""
    bundle = _stored(state)
    if bundle is None:
        raise SealError(NO_SEAL)
    return verify_bundle(bundle, ca_path.read_bytes(), municipality_code)


def refresh_seal(
    client: _SealClient, state: _StateStore, ca_path: Path, municipality_code: str
) -> bool:
    """Fetch the bundle if the server has a newer one; verify, then keep it. True if changed.

    Raises SealError for a bundle that does not verify (the one kept stays) and the client's
    errors (network, 404 when no seal is set) as they are.
    """
    try:
        known = _stored(state)
    except SealError:
        known = None  # a damaged copy is replaced by the server's
    bundle = client.seal(known.version if known else None)
    if bundle is None:
        return False
    verify_bundle(bundle, ca_path.read_bytes(), municipality_code)
    if known is not None and bundle.version < known.version:
        log.warning("seal: server offered version %d below kept %d", bundle.version, known.version)
        raise SealError(BAD_SEAL)
    state.set_local_state(SEAL_STATE_KEY, bundle.model_dump_json())
    log.info("seal: version %d kept", bundle.version)
    return True
