"""`madoguchi-server`: init, serve, import, operator, terminal, reconcile, policy, audit, openapi.

The data directory (--data-dir or MADOGUCHI_SERVER_DATA_DIR) holds server.toml, the SQLite
database (unless database_url names PostgreSQL), the CA and the master key.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from app.sync.protocol import Policy
from server import admin, logs, setup_cli
from server.config import CONFIG_FILE_NAME, ServerConfig, load_config
from server.errors import AdminError


def _config(args: argparse.Namespace) -> ServerConfig:
    return load_config(data_dir=args.data_dir, config_file=args.config)


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files the command creates are the server account's only (0600, directories 0700):
    the SQLite database and its WAL, snapshots, logs, staging files of an import."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def _db(args: argparse.Namespace) -> tuple[ServerConfig, Any]:
    cfg = _config(args)
    if not cfg.ca_cert_path.exists():
        raise AdminError(
            f"データディレクトリ {cfg.data_dir} は初期化されていません。"
            "先に `madoguchi-server init` を実行してください。"
        )
    logs.configure(cfg.data_dir, cfg.log_file, getattr(args, "log_level", "info"))
    return cfg, admin.init_server(cfg)


def cmd_init(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir or load_config().data_dir)
    admin.private_dir(data_dir)
    toml = data_dir / CONFIG_FILE_NAME
    if not toml.exists():
        lines = ["[server]"]
        for key in ("database_url", "municipality_code", "municipality_name"):
            value = getattr(args, key)
            if value:
                lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        if args.hostname:
            lines.append(f"tls_hostnames = {json.dumps(args.hostname)}")
        admin.private_file(toml)  # a database URL may carry a password
        toml.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = load_config(data_dir=data_dir, config_file=args.config)
    logs.configure(cfg.data_dir, cfg.log_file)
    admin.init_server(cfg).dispose()
    print(f"初期化しました: {cfg.data_dir}")
    print(f"認証局証明書(端末に配布): {cfg.ca_cert_path}")
    print(f"認証局の指紋(SHA-256、端末の登録で照合): {setup_cli.ca_fingerprint(cfg)}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import WORKER_ENV, create_app
    from server.tls import uvicorn_config

    cfg, db = _db(args)  # migrations run here, once, before any worker starts
    host = args.host or cfg.host
    port = args.port if args.port is not None else cfg.port
    workers = args.workers or cfg.workers
    # uvicorn's own logging setup stays off: ours (server/logs.py) takes its records.
    common = {"log_level": args.log_level, "access_log": True, "log_config": None}
    print(f"https://{host}:{port} で待ち受けます(ワーカー {workers}、Ctrl+C で停止)。", flush=True)
    if workers <= 1:
        app = create_app(cfg, db=db)
        uvicorn.Server(uvicorn_config(app, cfg, host, port, **common)).run()
        return 0
    from uvicorn.supervisors import Multiprocess

    db.dispose()
    # Worker processes build their app from the same data dir and config file.
    os.environ[WORKER_ENV] = json.dumps(
        {"data_dir": str(cfg.data_dir), "config_file": args.config, "log_level": args.log_level}
    )
    uv = uvicorn_config(
        "server.app:worker_app", cfg, host, port, factory=True, workers=workers, **common
    )
    Multiprocess(uv, sockets=[uv.bind_socket()]).run()
    return 0


_QUOTED = re.compile(r"「[^」]*」")


def cmd_import(args: argparse.Namespace) -> int:
    from server.importer import import_file

    cfg, db = _db(args)
    path = Path(args.file)
    if not path.exists():
        raise AdminError(f"ファイル {path} がありません。")
    # The staging file holds the import's records: in the server's private directory.
    report = import_file(db, path, work_dir=cfg.data_dir)
    for line, message in report.errors:
        # The console may end up in a scheduler's log: the field and the line say what to fix,
        # the quoted value (a birth date, an address) stays in the file.
        print(f"{path.name}:{line}: {_QUOTED.sub('「…」', message)}", file=sys.stderr)
    print(report.summary())
    return 0 if report.ok else 1


def cmd_snapshot(args: argparse.Namespace) -> int:
    """The register's snapshot for terminals' initial syncs (run nightly and after an import)."""
    from server import snapshot

    cfg, db = _db(args)
    started = time.monotonic()
    base = snapshot.build_base(db, cfg, admin.load_master_key(cfg))
    print(
        f"登録データの写しを作成しました(同期位置 {base.seq}、"
        f"{base.path.stat().st_size / 2**20:,.1f} MiB、{time.monotonic() - started:.0f} 秒)。"
    )
    return 0


def _roles(text: str) -> list[str]:
    return [r.strip() for r in text.split(",") if r.strip()]


def cmd_operator(args: argparse.Namespace) -> int:
    cfg, db = _db(args)
    rules = admin.password_rules(cfg)
    if args.action == "add":
        if not args.password_stdin:
            raise AdminError("パスワードは --password-stdin で標準入力から渡してください。")
        password = sys.stdin.readline().rstrip("\r\n")
        admin.add_operator(
            db,
            args.id,
            args.name,
            _roles(args.roles),
            args.branch,
            password,
            person_id=args.person_id,
            rules=rules,
            must_change=args.temporary,
        )
        print(f"職員 {args.id} を登録しました。")
    elif args.action == "roles":
        admin.update_operator(db, args.id, roles=_roles(args.roles))
        print(f"職員 {args.id} の役割を変更しました。")
    elif args.action == "deactivate":
        admin.update_operator(db, args.id, active=False)
        print(f"職員 {args.id} を無効にしました。")
    elif args.action == "password":
        if not args.password_stdin:
            raise AdminError("パスワードは --password-stdin で標準入力から渡してください。")
        password = sys.stdin.readline().rstrip("\r\n")
        admin.update_operator(db, args.id, password=password, unlock=True, rules=rules)
        print(
            f"職員 {args.id} のパスワードを再設定しました(ロックも解除しました)。"
            "次のログインで本人が新しいパスワードに変更するまで、ほかの操作はできません。"
        )
    elif args.action == "list":
        for op in admin.list_operators(db):
            state = "無効" if not op["active"] else ("ロック" if op["locked"] else "有効")
            print(f"{op['operator_id']}\t{state}\t{op['roles']}\t{op['branch']}")
    elif args.action == "unlock":
        admin.update_operator(db, args.id, unlock=True)
        print(f"職員 {args.id} のロックを解除しました。")
    return 0


def cmd_terminal(args: argparse.Namespace) -> int:
    cfg, db = _db(args)
    if args.action == "token":
        print(admin.make_token(db, cfg))
    elif args.action == "revoke":
        admin.revoke_terminal(db, args.terminal_no)
        print(f"端末 {args.terminal_no} の登録を取り消しました(次の通信から拒否されます)。")
    elif args.action == "list":
        for t in admin.list_terminals(db):
            state = "取消" if t["revoked"] else "有効"
            print(f"{t['terminal_no']}\t{state}\t{t['hostname']}\t{t['not_after']:%Y-%m-%d}")
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    _cfg, db = _db(args)
    if args.action == "list":
        items = admin.list_reconciliation(db, include_closed=args.all)
        if not items:
            print("照合待ちはありません。")
        for r in items:
            print(
                f"{r['id']}\t{r['status']}\t端末 {r['terminal_no']}\tイベント {r['event_id']}\t"
                f"個人ID {r['person_id']}\t版数 {r['relied_version']}→{r['current_version']}"
            )
    else:
        admin.resolve_reconciliation(db, args.id, args.note or "")
        print(f"照合待ち {args.id} を解決済みにしました。")
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    _cfg, db = _db(args)
    with db.read() as conn:
        current = admin.get_policy(conn)
    if args.action == "show":
        print(current.model_dump_json(indent=2))
        return 0
    values = current.model_dump()
    for item in args.settings:
        key, _, raw = item.partition("=")
        if key not in values or not raw:
            raise AdminError(
                f"ポリシーの項目 {key} はありません(使える項目: {', '.join(values)})。"
            )
        values[key] = json.loads(raw) if raw[0] in "[0123456789" else raw
    admin.set_policy(db, Policy.model_validate(values))
    print("ポリシーを更新しました(端末には変更フィードで届きます)。")
    return 0


def cmd_notification(args: argparse.Namespace) -> int:
    """The head office's step for filed 住民異動届 (server/notification_cli.py)."""
    from server.notification_cli import run

    _cfg, db = _db(args)
    return run(db, args)


def cmd_openapi(args: argparse.Namespace) -> int:
    from server.app import openapi_document

    text = json.dumps(openapi_document(), ensure_ascii=False, indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_audit(args: argparse.Namespace, rest: Sequence[str]) -> int:
    from server.audit_report import report_main

    rest = list(rest)
    if not rest or rest[0] != "report":
        raise AdminError("使い方: madoguchi-server audit report --from YYYY-MM-DD --to YYYY-MM-DD")
    forwarded = rest[1:]
    if args.data_dir:
        forwarded += ["--data-dir", str(args.data_dir)]
    if args.config:
        forwarded += ["--config", str(args.config)]
    return int(report_main(forwarded) or 0)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="madoguchi-server", description="窓口 同期サーバー")
    p.add_argument("--data-dir", help="データディレクトリ(既定: MADOGUCHI_SERVER_DATA_DIR)")
    p.add_argument("--config", help="設定ファイル(TOML、既定: データディレクトリの server.toml)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", help="データディレクトリ・認証局・データベースを作成")
    s.add_argument("--database-url")
    s.add_argument("--municipality-code")
    s.add_argument("--municipality-name")
    s.add_argument(
        "--hostname", action="append", default=[], help="サーバー証明書に入れる名前(複数可)"
    )

    s = sub.add_parser("serve", help="HTTPSで待ち受ける")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--log-level", default="info")
    s.add_argument("--workers", type=int, help="ワーカープロセス数(既定: 設定の workers、1)")

    s = sub.add_parser("import", help="JSONL(1行1世帯)を取り込む")
    s.add_argument("file")

    sub.add_parser("snapshot", help="初回同期用の登録データの写しを作成(毎夜と取り込みの後に実行)")

    s = sub.add_parser("operator", help="職員の管理")
    ops = s.add_subparsers(dest="action", required=True)
    a = ops.add_parser("add")
    a.add_argument("--id", required=True)
    a.add_argument("--name", required=True)
    a.add_argument("--roles", required=True)
    a.add_argument("--branch", required=True)
    a.add_argument("--password-stdin", action="store_true")
    a.add_argument("--person-id", help="職員本人の住民ID(監査で本人・自世帯の照会を確認)")
    a.add_argument(
        "--temporary", action="store_true", help="仮パスワード(最初のログインで変更させる)"
    )
    a = ops.add_parser("roles")
    a.add_argument("id")
    a.add_argument("--roles", required=True)
    for name in ("deactivate", "unlock"):
        ops.add_parser(name).add_argument("id")
    a = ops.add_parser("password", help="パスワードの再設定(ロックも解除、次回ログインで変更)")
    a.add_argument("id")
    a.add_argument("--password-stdin", action="store_true")
    ops.add_parser("list")

    s = sub.add_parser("terminal", help="端末の管理")
    ts = s.add_subparsers(dest="action", required=True)
    ts.add_parser("token", help="一回限りの登録用トークンを表示")
    ts.add_parser("revoke").add_argument("terminal_no")
    ts.add_parser("list")

    s = sub.add_parser("reconcile", help="照合待ち(競合)の一覧と解決")
    rs = s.add_subparsers(dest="action", required=True)
    rs.add_parser("list").add_argument("--all", action="store_true")
    r = rs.add_parser("resolve")
    r.add_argument("id", type=int)
    r.add_argument("--note")

    s = sub.add_parser("policy", help="運用ポリシー")
    ps = s.add_subparsers(dest="action", required=True)
    ps.add_parser("show")
    ps.add_parser("set").add_argument("settings", nargs="+", help="項目=値")

    s = sub.add_parser("notification", help="住民異動届の審査(一覧・表示・確定・差戻し)")
    ns = s.add_subparsers(dest="action", required=True)
    a = ns.add_parser("list", help="審査待ちの届出(--all: 審査済みも)")
    a.add_argument("--all", action="store_true")
    ns.add_parser("show", help="届出と現在の住民票を並べて表示").add_argument("id")
    a = ns.add_parser("confirm", help="確定(住民票に反映し、全端末に配信)")
    a.add_argument("id")
    a.add_argument("--by", required=True, help="審査した職員のID")
    a.add_argument(
        "--relied",
        action="append",
        default=[],
        metavar="個人ID=版数",
        help="競合を確認したうえで、この版数の住民票に対して確定する(複数可)",
    )
    a = ns.add_parser("return", help="差戻し(理由を付けて届出た端末に返す)")
    a.add_argument("id")
    a.add_argument("--by", required=True, help="審査した職員のID")
    a.add_argument("--reason", required=True)

    sub.add_parser("openapi", help="OpenAPI文書を出力").add_argument("--out")
    s = sub.add_parser("audit", help="監査レポート(audit report ...)")
    s.add_argument("audit_args", nargs=argparse.REMAINDER)
    p.set_defaults(setup_handlers=setup_cli.add_parsers(sub))  # ca, provisioning, seal
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {
        "init": cmd_init,
        "serve": cmd_serve,
        "import": cmd_import,
        "snapshot": cmd_snapshot,
        "operator": cmd_operator,
        "terminal": cmd_terminal,
        "reconcile": cmd_reconcile,
        "policy": cmd_policy,
        "openapi": cmd_openapi,
        "notification": cmd_notification,
        **args.setup_handlers,
    }
    try:
        with private_umask():
            if args.command == "audit":
                return cmd_audit(args, args.audit_args)
            return int(handlers[args.command](args))
    except AdminError as exc:
        print(f"エラー: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        logs.reset()


if __name__ == "__main__":
    sys.exit(main())
