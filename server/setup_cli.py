"""Admin commands for rolling out terminals (docs/deployment.md):

- `madoguchi-server ca fingerprint`: the CA's SHA-256 fingerprint, which every PC pins.
- `madoguchi-server provisioning --server-url URL [--out FILE]`: provisioning.json for the
  installer (server URL, CA fingerprint, municipality code), so nobody types the fingerprint.
- `madoguchi-server seal set --image PNG --title … --name …` / `seal show`: the signed 公印.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server import admin
from server.ca import fingerprint, load_ca
from server.config import ServerConfig, load_config
from server.errors import AdminError
from server.seal import describe, load_seal, set_seal

PROVISIONING_FORMAT = 1


def _config(args: argparse.Namespace) -> ServerConfig:
    cfg = load_config(data_dir=args.data_dir, config_file=args.config)
    if not cfg.ca_cert_path.exists():
        raise AdminError(
            f"データディレクトリ {cfg.data_dir} は初期化されていません。"
            "先に `madoguchi-server init` を実行してください。"
        )
    return cfg


def grouped(hex_digest: str) -> str:
    """AB:CD:… as Windows' certificate dialog shows a thumbprint (easier to read aloud)."""
    return ":".join(hex_digest[i : i + 2] for i in range(0, len(hex_digest), 2)).upper()


def ca_fingerprint(cfg: ServerConfig) -> str:
    return fingerprint(load_ca(cfg).cert)


def cmd_ca(args: argparse.Namespace) -> int:
    cfg = _config(args)
    value = ca_fingerprint(cfg)
    print(value)
    if not args.plain:
        print(f"({grouped(value)})", file=sys.stderr)
    return 0


def provisioning_document(cfg: ServerConfig, server_url: str) -> dict[str, Any]:
    return {
        "format": PROVISIONING_FORMAT,
        "server_url": server_url,
        "ca_fingerprint_sha256": ca_fingerprint(cfg),
        "municipality_code": cfg.municipality_code,
    }


def cmd_provisioning(args: argparse.Namespace) -> int:
    cfg = _config(args)
    url = args.server_url.strip().rstrip("/")
    if not url.startswith("https://"):
        raise AdminError("サーバーのURLは https:// で始めてください。")
    text = json.dumps(provisioning_document(cfg, url), ensure_ascii=False, indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{args.out} を書き出しました(インストーラーに含めてください)。")
    else:
        sys.stdout.write(text)
    return 0


def cmd_seal(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if args.action == "show":
        bundle = load_seal(cfg)
        if bundle is None:
            print("公印は登録されていません。")
            return 1
        print(describe(bundle))
        return 0
    path = Path(args.image)
    try:
        image = path.read_bytes()
    except OSError:
        raise AdminError(f"画像ファイル {path} を読めません。") from None
    admin.init_server(cfg).dispose()  # the CA key must exist; nothing else is needed
    bundle = set_seal(cfg, load_ca(cfg), image, args.title, args.name)
    print(
        f"公印を登録しました(版 {bundle.version}、{bundle.mayor_title} {bundle.mayor_name})。"
        "各端末には次の同期で届きます。"
    )
    return 0


def add_parsers(sub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add the subcommands to `madoguchi-server`; returns their handlers by command name."""
    s = sub.add_parser("ca", help="認証局: 端末が照合する指紋(SHA-256)を表示")
    cs = s.add_subparsers(dest="action", required=True)
    cs.add_parser("fingerprint").add_argument(
        "--plain", action="store_true", help="指紋だけを表示(コロン区切りの表示なし)"
    )

    s = sub.add_parser("provisioning", help="インストーラー用の provisioning.json を作成")
    s.add_argument("--server-url", required=True, help="端末から見たサーバーのURL(https://…)")
    s.add_argument("--out", help="書き出すファイル(既定: 標準出力)")

    s = sub.add_parser("seal", help="公印の画像と市長の職名・氏名(署名して端末へ配布)")
    ss = s.add_subparsers(dest="action", required=True)
    a = ss.add_parser("set")
    a.add_argument("--image", required=True, help="公印の画像(PNG、透過可)")
    a.add_argument("--title", required=True, help="市長の職名(例: 北見市長)")
    a.add_argument("--name", required=True, help="市長の氏名")
    ss.add_parser("show")
    return {"ca": cmd_ca, "provisioning": cmd_provisioning, "seal": cmd_seal}
