"""`madoguchi enroll`: enroll this PC with the city's server (DESIGN.md §11), for the administrator.

    madoguchi enroll [--server URL] [--ca-fingerprint SHA256] (--token TOKEN | --token-stdin)
                     [--data-dir DIR]

--server and --ca-fingerprint default to provisioning.json (written by the installer), so the
administrator usually types only the one-time token from `madoguchi-server terminal token`.
The CA is fetched and its fingerprint checked before the token is sent (app/services/enrollment).

Exit status: 0 enrolled; 2 usage or provisioning error; 3 CA fingerprint mismatch; 4 token
invalid (used, expired, mistyped); 5 server unreachable; 6 this PC is already enrolled;
7 the server is another municipality's; 8 this program is too old for the server; 9 another
copy of Madoguchi (the GUI, the demo, a second enroll) uses the data folder; 1 other.

Like the GUI, it holds the data folder's single-instance lock (app/store/instance_lock.py)
while it writes there: a GUI left open on the first-run wizard would enroll the PC twice.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.machine.provisioning import Provisioning

EXIT_CODES = {
    "input": 2,
    "fingerprint": 3,
    "token": 4,
    "unreachable": 5,
    "already_enrolled": 6,
    "municipality": 7,
    "too_old": 8,
    "already_running": 9,
    "refused": 1,
}


def _say(text: str) -> None:
    print(text, flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="madoguchi enroll",
        description="このPCを窓口の端末として中央サーバーに登録します(管理者用)。",
    )
    p.add_argument("--server", help="中央サーバーのURL(既定: provisioning.json)")
    p.add_argument("--ca-fingerprint", help="認証局の指紋 SHA-256(既定: provisioning.json)")
    p.add_argument("--token", help="一回限りの登録用トークン(madoguchi-server terminal token)")
    p.add_argument("--token-stdin", action="store_true", help="トークンを標準入力から読む")
    p.add_argument("--data-dir", type=Path, help="端末のデータフォルダ(既定: このPCのフォルダ)")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from app.machine.paths import default_data_dir
    from app.machine.provisioning import ProvisioningError, find_provisioning
    from app.store.instance_lock import AlreadyRunning, InstanceLock

    data_dir: Path = args.data_dir or default_data_dir()
    try:
        provisioning = find_provisioning(data_dir)
    except ProvisioningError as exc:
        _say(f"エラー: {exc.message}")
        return 2
    server = args.server or (provisioning.server_url if provisioning else None)
    fingerprint = args.ca_fingerprint or (
        provisioning.ca_fingerprint_sha256 if provisioning else None
    )
    if not server or not fingerprint:
        _say(
            "エラー: サーバーのURLと認証局の指紋が必要です(--server と --ca-fingerprint、または "
            "provisioning.json)。"
        )
        return 2
    token = sys.stdin.readline().strip() if args.token_stdin else (args.token or "")
    if not token:
        _say("エラー: 登録用トークンを --token または --token-stdin で渡してください。")
        return 2
    if provisioning is not None:
        _say(f"プロビジョニングファイル: {provisioning.source}")
    try:
        instance = InstanceLock(data_dir).acquire()
    except AlreadyRunning as exc:
        _say(f"エラー: {exc.message}")
        _say("窓口を終了してから、もう一度実行してください。")
        return EXIT_CODES["already_running"]
    with instance:
        return _enroll(data_dir, server, fingerprint, token, provisioning)


def _enroll(
    data_dir: Path, server: str, fingerprint: str, token: str, provisioning: Provisioning | None
) -> int:
    from app.machine.provisioning import ProvisioningError
    from app.services.enrollment import EnrollmentError, check_server, enroll_checked
    from cli.gui import migrate_per_user_terminal

    try:
        migrate_per_user_terminal(data_dir)
        _say(f"接続先: {server}")
        checked = check_server(
            server,
            fingerprint,
            expected_municipality=provisioning.municipality_code if provisioning else None,
        )
        _say(f"認証局の指紋が一致しました: {checked.ca_fingerprint}")
        info = checked.info
        _say(f"サーバー: {info.municipality_name}(団体コード {info.municipality_code})")
        _say("この端末を登録しています…")
        config = enroll_checked(
            data_dir,
            checked,
            token,
            users_sid=provisioning.data_users_sid if provisioning else "AU",
        )
    except EnrollmentError as exc:
        _say(f"エラー: {exc.message}")
        return EXIT_CODES.get(exc.kind.value, 1)
    except ProvisioningError as exc:
        _say(f"エラー: {exc.message}")
        return 2
    _say(f"登録しました: {config.municipality_name} 端末 {config.terminal_no}")
    _say(f"データフォルダ: {data_dir}")
    _say("職員が最初にログインすると、住民データの初回同期が始まります。")
    return 0
