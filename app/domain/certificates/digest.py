"""The digest of what a certificate prints, and the signed QR payload that carries it.

Pure: no I/O. The terminal key signs `signed_bytes`; `madoguchi certificate verify` parses the
payload with `parse_qr_payload`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import date

from app.domain.certificates.document import ISSUANCE_NO_RE, CertificateDocument, issuance_date
from app.domain.errors import DomainError


def canonical_text(document: CertificateDocument) -> str:
    """Everything that is printed, one fact per line, in print order (names exactly as stored)."""
    lines = [
        f"title\t{document.title}",
        f"issuance_no\t{document.issuance_no}",
        f"issued_on\t{document.issued_on.isoformat()}",
        f"sheets\t{len(document.sheets)}",
    ]
    for sheet in document.sheets:
        lines.append(f"sheet\t{sheet.number}/{len(document.sheets)}")
        lines.extend(f"header\t{c.label}\t{c.value}" for c in sheet.header)
        for block in sheet.blocks:
            lines.append(f"person\t{block.person_id}")
            for row in block.rows:
                lines.extend(f"cell\t{c.label}\t{c.value}" for c in row)
        if sheet.certified:
            lines.append(f"ending\t{document.ending}")
            lines.append(f"certification\t{document.certification}")
            lines.append(f"date\t{document.issued_on_text}")
            mayor = document.municipality
            lines.append(f"mayor\t{mayor.mayor_title}\t{mayor.mayor_name}")
    return "\n".join(lines) + "\n"


def content_digest(document: CertificateDocument) -> str:
    """SHA-256 (hex) over the canonical text of what is printed."""
    return hashlib.sha256(canonical_text(document).encode("utf-8")).hexdigest()


QR_PREFIX = "MDG1"
_TERMINAL_RE = re.compile(r"[0-9A-Za-z]{1,16}")
_DIGEST_RE = re.compile(r"[0-9a-f]{64}")


class PayloadError(DomainError):
    """A QR payload that is not one of ours or is damaged."""


@dataclass(frozen=True, slots=True)
class QrPayload:
    issuance_no: str
    content_digest: str
    terminal_no: str
    signature: bytes  # empty for samples (見本)

    @property
    def issued_on(self) -> date:
        return issuance_date(self.issuance_no)

    def signed_bytes(self) -> bytes:
        return signed_bytes(self.issuance_no, self.content_digest, self.terminal_no)


def signed_bytes(issuance_no: str, digest: str, terminal_no: str) -> bytes:
    """What the terminal key signs: the payload without its signature."""
    return f"{QR_PREFIX}|{issuance_no}|{digest}|{terminal_no}".encode("ascii")


def _check_fields(issuance_no: str, digest: str, terminal_no: str) -> None:
    if not ISSUANCE_NO_RE.fullmatch(issuance_no):
        raise PayloadError("交付番号の形式が正しくありません。")
    if not _DIGEST_RE.fullmatch(digest):
        raise PayloadError("内容の要約値（SHA-256）の形式が正しくありません。")
    if not _TERMINAL_RE.fullmatch(terminal_no):
        raise PayloadError("端末番号の形式が正しくありません。")
    if issuance_no.split("-")[0] != terminal_no:
        raise PayloadError("交付番号と端末番号が一致しません。")
    try:
        issuance_date(issuance_no)
    except ValueError:
        raise PayloadError("交付番号の日付が正しくありません。") from None


def qr_payload(issuance_no: str, content_digest: str, terminal_no: str, signature: bytes) -> str:
    """`MDG1|交付番号|sha256hex|端末番号|base64url(signature)` — ASCII, fits a small QR code."""
    _check_fields(issuance_no, content_digest, terminal_no)
    sig = base64.urlsafe_b64encode(signature).decode("ascii").rstrip("=")
    return f"{signed_bytes(issuance_no, content_digest, terminal_no).decode('ascii')}|{sig}"


def parse_qr_payload(text: str) -> QrPayload:
    parts = text.strip().split("|")
    if len(parts) != 5 or parts[0] != QR_PREFIX:
        raise PayloadError("この証明書のQRコードではありません。")
    _, issuance_no, digest, terminal_no, sig = parts
    _check_fields(issuance_no, digest, terminal_no)
    if not re.fullmatch(r"[A-Za-z0-9_-]*", sig):
        raise PayloadError("署名の形式が正しくありません。")
    try:
        signature = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    except (binascii.Error, ValueError):
        raise PayloadError("署名の形式が正しくありません。") from None
    return QrPayload(issuance_no, digest, terminal_no, signature)
