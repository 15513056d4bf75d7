"""The 公印 and the 市長 as the server signs them (DESIGN.md §12): what is signed, and the image.

Pure: the bytes both sides sign and verify, and the checks of a seal image (PNG). The server
signs with its CA key (server/seal.py); the terminal verifies with the CA it pinned at
enrollment (app/services/seal.py). No I/O here.
"""

from __future__ import annotations

import hashlib
import json
import struct

from app.domain.errors import ValidationError

SEAL_SIGNATURE_CONTEXT = b"madoguchi-seal-v1\n"
MAX_SEAL_BYTES = 2 * 1024 * 1024
MIN_SEAL_PIXELS = 64
MAX_SEAL_PIXELS = 4096
MAX_TITLE_CHARS = 40
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG image; ValidationError if it is not a usable seal image."""
    if len(data) > MAX_SEAL_BYTES:
        raise ValidationError("image", "公印の画像が大きすぎます(2MBまで)。")
    if not data.startswith(_PNG_MAGIC) or data[12:16] != b"IHDR" or len(data) < 33:
        raise ValidationError("image", "公印の画像はPNG形式にしてください。")
    width, height = struct.unpack(">II", data[16:24])
    for side in (width, height):
        if not MIN_SEAL_PIXELS <= side <= MAX_SEAL_PIXELS:
            raise ValidationError(
                "image",
                f"公印の画像の大きさは縦横{MIN_SEAL_PIXELS}〜{MAX_SEAL_PIXELS}ピクセルにしてください。",
            )
    return width, height


def check_mayor_text(field: str, text: str) -> str:
    """The 市長's title or name as printed: non-empty, one line, not too long."""
    value = text.strip()
    label = "市長の職名" if field == "mayor_title" else "市長の氏名"
    if not value:
        raise ValidationError(field, f"{label}を入力してください。")
    if len(value) > MAX_TITLE_CHARS or any(ch in value for ch in "\r\n\t"):
        raise ValidationError(field, f"{label}は{MAX_TITLE_CHARS}文字以内の1行にしてください。")
    return value


def image_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def seal_signed_bytes(
    *,
    version: int,
    municipality_code: str,
    mayor_title: str,
    mayor_name: str,
    image_sha256: str,
    signed_at: str,
) -> bytes:
    """The exact bytes the server signs: a context line, then canonical JSON (sorted keys)."""
    content = {
        "image_sha256": image_sha256,
        "mayor_name": mayor_name,
        "mayor_title": mayor_title,
        "municipality_code": municipality_code,
        "signed_at": signed_at,
        "version": version,
    }
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return SEAL_SIGNATURE_CONTEXT + text.encode("utf-8")
