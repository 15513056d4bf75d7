"""The 公印 image and the 市長's title and name, signed for the terminals (DESIGN.md §12).

`madoguchi-server seal set --image PNG --title … --name …` checks the image, signs the bundle
with the municipality CA's key (the key every terminal pinned at enrollment) over
`app.domain.seal.seal_signed_bytes`, and keeps it as `seal.json` in the data directory.
Terminals fetch it (GET /v1/seal) and refuse to issue without a bundle whose signature holds.
Each `set` raises the version by one; a terminal never goes back to a lower version.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError as PydanticValidationError

from app.domain.errors import ValidationError
from app.domain.seal import check_mayor_text, image_digest, png_dimensions, seal_signed_bytes
from app.fileio import atomic_write
from app.sync.protocol import SealBundle
from server.ca import CA
from server.config import ServerConfig
from server.errors import AdminError

SEAL_FILE = "seal.json"


def seal_path(config: ServerConfig) -> Path:
    return config.data_dir / SEAL_FILE


def load_seal(config: ServerConfig) -> SealBundle | None:
    """The current bundle, or None when none was set."""
    path = seal_path(config)
    try:
        return SealBundle.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (PydanticValidationError, ValueError):
        raise AdminError(
            f"{path} が壊れています。`madoguchi-server seal set` で登録し直してください。"
        ) from None


def sign_seal(
    ca: CA,
    *,
    version: int,
    municipality_code: str,
    image_png: bytes,
    mayor_title: str,
    mayor_name: str,
    signed_at: datetime | None = None,
) -> SealBundle:
    """A bundle signed with the CA key (ECDSA P-256, SHA-256). Checks the image and texts."""
    try:
        png_dimensions(image_png)
        title = check_mayor_text("mayor_title", mayor_title)
        name = check_mayor_text("mayor_name", mayor_name)
    except ValidationError as exc:
        raise AdminError(exc.message) from None
    digest = image_digest(image_png)
    at = (signed_at or datetime.now(UTC)).isoformat(timespec="seconds")
    signature = ca.key.sign(
        seal_signed_bytes(
            version=version,
            municipality_code=municipality_code,
            mayor_title=title,
            mayor_name=name,
            image_sha256=digest,
            signed_at=at,
        ),
        ec.ECDSA(hashes.SHA256()),
    )
    return SealBundle(
        version=version,
        municipality_code=municipality_code,
        mayor_title=title,
        mayor_name=name,
        image_png_b64=base64.b64encode(image_png).decode("ascii"),
        image_sha256=digest,
        signed_at=at,
        signature_b64=base64.b64encode(signature).decode("ascii"),
    )


def set_seal(
    config: ServerConfig, ca: CA, image_png: bytes, mayor_title: str, mayor_name: str
) -> SealBundle:
    """Sign and store a new bundle (version = previous + 1); terminals get it at their next sync."""
    previous = load_seal(config)
    bundle = sign_seal(
        ca,
        version=(previous.version + 1) if previous else 1,
        municipality_code=config.municipality_code,
        image_png=image_png,
        mayor_title=mayor_title,
        mayor_name=mayor_name,
    )
    atomic_write(seal_path(config), bundle.model_dump_json(indent=2))
    return bundle


def describe(bundle: SealBundle) -> str:
    return json.dumps(
        {
            "version": bundle.version,
            "municipality_code": bundle.municipality_code,
            "mayor_title": bundle.mayor_title,
            "mayor_name": bundle.mayor_name,
            "image_sha256": bundle.image_sha256,
            "signed_at": bundle.signed_at,
        },
        ensure_ascii=False,
        indent=2,
    )
