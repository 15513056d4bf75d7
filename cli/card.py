"""`madoguchi card status|read|simulate` (DESIGN.md §11).

    madoguchi card status [--reader NAME] [--json]
    madoguchi card read [--reader NAME] [--json]        (PIN or 照合番号B on standard input)
    madoguchi card simulate --profile FILE.json [--vpcd HOST:PORT]

`--simulator FILE.json` makes status/read use the in-process virtual card instead of PC/SC.
Exit status: 0 success, 1 card or reader error (message on stderr), 2 usage error.
The 個人番号 is printed masked only; nothing personal goes to the log.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any, TextIO

from app.cards.apdu import CardError
from app.cards.mynumber import PIN_LABELS, MyNumberCard, PinKind
from app.cards.protocol import Transport
from app.domain.cards import check_collation_number_b
from app.domain.errors import DomainError
from app.domain.identifiers import mask_my_number
from cli.argparse_ja import JapaneseArgumentParser

SEX_JA = {"male": "男", "female": "女", "not_applicable": "適用不能"}


def _parser() -> JapaneseArgumentParser:
    p = JapaneseArgumentParser(
        prog="madoguchi card", description="個人番号カードの読み取りと仮想カード"
    )
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("status", "リーダーの一覧、暗証番号の残り回数、電子証明書の有効期限"),
        ("read", "暗証番号または照合番号B(標準入力)で4情報・有効期限・個人番号(マスク)を表示"),
    ):
        s = sub.add_parser(name, help=help_text)
        s.add_argument("--reader", help="カードリーダー名(既定: カードのある最初のリーダー)")
        s.add_argument("--json", action="store_true", help="JSONで出力")
        s.add_argument("--simulator", metavar="PROFILE", help="PC/SCの代わりに仮想カードを使う")
    s = sub.add_parser("simulate", help="仮想個人番号カードを vpcd に挿入する")
    s.add_argument("--profile", required=True, help="カードのプロファイル(JSON)")
    s.add_argument("--vpcd", default="127.0.0.1:35963", help="vpcd の HOST:PORT")
    return p


def _open(args: argparse.Namespace) -> Transport:
    if args.simulator:
        from app.cards.simulator import CardProfile, VirtualCard
        from app.cards.simulator_transport import SimulatorTransport

        return SimulatorTransport(VirtualCard(CardProfile.load(args.simulator)))
    from app.cards.pcsc import PcscTransport

    return PcscTransport(args.reader)


def _reader_name(t: Transport) -> str:
    return str(getattr(t, "reader", "仮想カード(プロセス内)"))


def _readers(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.simulator:
        return [{"name": "仮想カード(プロセス内)", "card_present": True}]
    from app.cards.pcsc import list_readers, readers_with_card

    with_card = set(readers_with_card())
    return [{"name": r, "card_present": r in with_card} for r in list_readers()]


def _retries_json(retries: dict[PinKind, int]) -> dict[str, int]:
    return {k.value: v for k, v in retries.items()}


def _print_retries(retries: dict[PinKind, int], out: TextIO) -> None:
    for kind, left in retries.items():
        state = "ロック中" if left == 0 else f"残り{left}回"
        print(f"  {PIN_LABELS[kind]}: {state}", file=out)


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    readers = _readers(args)
    result: dict[str, Any] = {"readers": readers, "card": None}
    if args.reader and not any(r["name"] == args.reader for r in readers):
        print(f"カードリーダー「{args.reader}」が見つかりません。", file=sys.stderr)
        return 1
    if any(r["card_present"] for r in readers if not args.reader or r["name"] == args.reader):
        t = _open(args)
        try:
            card = MyNumberCard(t)
            retries = card.all_retries()
            cert = card.read_auth_certificate()
            result["card"] = {
                "reader": _reader_name(t),
                "retries": _retries_json(retries),
                "certificate_expires_on": cert.not_after.isoformat(),
            }
        finally:
            t.close()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2), file=out)
        return 0
    if not readers:
        print("カードリーダーがありません。", file=out)
    for r in readers:
        print(f"{r['name']}: {'カードあり' if r['card_present'] else 'カードなし'}", file=out)
    if result["card"]:
        print(f"カード({result['card']['reader']}):", file=out)
        _print_retries(retries, out)
        print(f"  利用者証明用電子証明書の有効期限: {cert.not_after.isoformat()}", file=out)
    return 0


def cmd_read(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    secret = stdin.readline().strip()
    digits = "".join(ch for ch in secret if not ch.isspace())
    t = _open(args)
    try:
        card = MyNumberCard(t)
        retries = card.all_retries()
        card_expiry = None
        if len(digits) == 4:
            face = card.read_face_info(pin=digits)
            method = "pin"
        else:
            b = check_collation_number_b(digits)
            face = card.read_face_info(collation_b=b)
            card_expiry = card.read_kenmen(b).card_expires_on
            method = "collation_b"
        cert = card.read_auth_certificate()
        reader = _reader_name(t)
    finally:
        t.close()
    masked = mask_my_number(face.my_number) if face.my_number else None
    data = {
        "reader": reader,
        "method": method,
        "name": face.name,
        "address": face.address,
        "birth_date": face.birth_date.isoformat(),
        "sex": face.sex,
        "my_number_masked": masked,
        "card_expires_on": card_expiry.isoformat() if card_expiry else None,
        "certificate_expires_on": cert.not_after.isoformat(),
        "retries": _retries_json(retries),
    }
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2), file=out)
        return 0
    print(f"氏名: {face.name}", file=out)
    print(f"住所: {face.address}", file=out)
    print(f"生年月日: {face.birth_date.isoformat()}", file=out)
    print(f"性別: {SEX_JA[face.sex]}", file=out)
    print(f"個人番号: {masked or '(照合番号Bでは読み取れません)'}", file=out)
    if card_expiry:
        print(f"カードの有効期限: {card_expiry.isoformat()}", file=out)
    print(f"利用者証明用電子証明書の有効期限: {cert.not_after.isoformat()}", file=out)
    _print_retries(retries, out)
    return 0


def cmd_simulate(args: argparse.Namespace, out: TextIO) -> int:
    from app.cards.simulator import CardProfile, VirtualCard, serve_vpcd

    host, _, port_text = args.vpcd.rpartition(":")
    if not host or not port_text.isdigit():
        print("--vpcd は HOST:PORT の形式で指定してください。", file=sys.stderr)
        return 2
    try:
        profile = CardProfile.load(args.profile)
    except (OSError, ValueError) as exc:
        print(f"プロファイルを読み込めません: {exc}", file=sys.stderr)
        return 2
    card = VirtualCard(profile)
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    print(
        f"仮想個人番号カードを vpcd {host}:{port_text} に挿入します(終了: Ctrl+C)。",
        file=out,
        flush=True,
    )
    serve_vpcd(card, host, int(port_text), stop)
    print("仮想カードを取り外しました。", file=out, flush=True)
    return 0


def main(
    argv: list[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    out = stdout or sys.stdout
    try:
        if args.command == "status":
            return cmd_status(args, out)
        if args.command == "read":
            return cmd_read(args, stdin or sys.stdin, out)
        return cmd_simulate(args, out)
    except (CardError, DomainError) as exc:
        print(exc.message, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
