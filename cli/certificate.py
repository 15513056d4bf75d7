"""`madoguchi certificate render|verify` (DESIGN.md §11).

render: a 見本 of the 住民票の写し of one household from the interchange format (JSONL), as a
        本人 request for 世帯全員 with the default items (除票 only → 住民票の除票の写し).
verify: check a certificate's QR payload: format, digest, and the terminal's signature when
        the terminal certificate (or public key) is given. Exit 0 valid, 1 invalid.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from app.domain.certificates import (
    CertificateRequest,
    FormKind,
    IdentityDocument,
    PayloadError,
    PersonRef,
    Purpose,
    QrPayload,
    Requester,
    RequesterKind,
    build_document,
    decide,
    format_issuance_no,
    format_wareki,
    parse_qr_payload,
)
from app.domain.errors import DomainError
from app.domain.records import Household, parse_line
from cli.argparse_ja import JapaneseArgumentParser

SAMPLE_TERMINAL = "SAMPLE"


def _parser() -> JapaneseArgumentParser:
    p = JapaneseArgumentParser(prog="madoguchi certificate", description="住民票の写し")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="見本のPDFを作ります")
    r.add_argument("--input", required=True, help="世帯のJSONLファイル")
    r.add_argument("--household", help="世帯ID(省略時は最初の世帯)")
    r.add_argument("--form", choices=("household", "individual"), default="household")
    r.add_argument("--out", required=True, help="出力するPDFファイル")
    r.add_argument("--seal", help="見本に押す公印の画像(PNG、省略時は公印なし)")
    v = sub.add_parser("verify", help="QRコードの内容を検証します")
    v.add_argument("payload", help="QRコードの内容(MDG1|...)")
    v.add_argument("--cert", help="交付した端末の証明書(PEM)または公開鍵(PEM)")
    return p


def _find_household(path: Path, household_id: str | None) -> Household:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            if household_id is not None and f'"{household_id}"' not in line:
                continue  # cheap pre-filter; the parse below decides
            try:
                household = parse_line(line)
            except DomainError as exc:
                raise DomainError(f"{path.name} の{n}行目: {exc.message}") from None
            if household_id is None or household.household_id == household_id:
                return household
    raise DomainError(f"世帯 {household_id} が {path.name} にありません。")


def render(args: argparse.Namespace) -> int:
    import printing  # the heavy font load only for this subcommand

    household = _find_household(Path(args.input), args.household)
    residents = [m for m in household.members if not m.is_removed]
    requester = (residents or list(household.members))[0]
    request = CertificateRequest(
        requester=Requester(
            RequesterKind.SELF,
            PersonRef(requester.name, household.address, requester.birth_date, requester.person_id),
        ),
        identity_documents=(IdentityDocument.MY_NUMBER_CARD,),
        person_ids=None if residents else (requester.person_id,),
        form=FormKind(args.form),
        # A 支援措置 household asks for a 請求事由 (省令第4条②一); a sample states its own.
        purpose=Purpose(reason="見本の作成（certificate render）"),
    )
    today = date.today()
    decision = decide(request, household, today)
    if not decision.allowed:
        for reason in decision.reasons:
            print(reason, file=sys.stderr)
        return 1
    if decision.needs_supervisor:
        print(f"注意: {decision.screen_text}(見本として作成します)", file=sys.stderr)
    document = build_document(
        request,
        decision,
        household,
        issuance_no=format_issuance_no(SAMPLE_TERMINAL, today, 1),
        terminal_no=SAMPLE_TERMINAL,
        issued_on=today,
    )
    try:
        seal = Path(args.seal).read_bytes() if args.seal else None
        pdf = printing.render_certificate(document, sample=True, seal_png=seal)
    except printing.FontNotFound as exc:
        print(str(exc), file=sys.stderr)
        return 1
    Path(args.out).write_bytes(pdf)
    print(f"{document.title}(見本、{len(document.sheets)}枚)を {args.out} に書きました。")
    return 0


def load_public_key(pem: bytes) -> ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey:
    """A terminal certificate or a bare public key, PEM."""
    if b"BEGIN CERTIFICATE" in pem:
        key = x509.load_pem_x509_certificate(pem).public_key()
    else:
        key = serialization.load_pem_public_key(pem)
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise DomainError("端末の鍵は ECDSA P-256 か Ed25519 でなければなりません。")
    return key


def signature_valid(
    payload: QrPayload, key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
) -> bool:
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(payload.signature, payload.signed_bytes())
        else:
            key.verify(payload.signature, payload.signed_bytes(), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def verify(args: argparse.Namespace) -> int:
    try:
        payload = parse_qr_payload(args.payload)
    except PayloadError as exc:
        print(f"無効: {exc.message}")
        return 1
    print(f"交付番号: {payload.issuance_no}")
    print(f"交付日: {format_wareki(payload.issued_on)}")
    print(f"端末番号: {payload.terminal_no}")
    print(f"内容の要約値(SHA-256): {payload.content_digest}")
    if not payload.signature:
        print("無効: 署名がありません(見本は証明書ではありません)。")
        return 1
    if not args.cert:
        print("無効: 署名を確かめられません。交付した端末の証明書を --cert で指定してください。")
        return 1
    try:
        key = load_public_key(Path(args.cert).read_bytes())
    except (OSError, ValueError) as exc:
        print(f"無効: 端末の証明書を読めません({type(exc).__name__})。")
        return 1
    if not signature_valid(payload, key):
        print("無効: 署名が一致しません。改ざんされたか、別の端末の証明書です。")
        return 1
    print("有効: 端末の署名を確認しました。")
    return 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "render":
            return render(args)
        return verify(args)
    except DomainError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"ファイルを読み書きできません: {exc.filename}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
