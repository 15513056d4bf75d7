"""`madoguchi sync`: log in as an operator and sync this PC once, without the GUI (DESIGN.md §11).

    madoguchi sync --operator ID [--data-dir DIR]        (the password on standard input)

For the city's IT administrator: pre-load a new PC's cache before the branch opens (the first
sync downloads the register), or send what a PC holds before it is retired. The password is
read from standard input (never from the command line, where the process list would show it);
on a console it is asked for without echo. The login is the clerk's login (online first;
offline with this PC's key slot when the server cannot be reached), audited like any other.

Exit status: 0 synced (nothing left unsent, the register up to date); 2 usage, or this PC is
not enrolled; 3 login refused (ID or password, locked, disabled operator); 5 the server cannot
be reached (after an offline login: what the PC holds stays for the next sync); 6 this terminal
is revoked; 8 this program is too old for the server; 9 another copy of Madoguchi uses the data
folder; 1 other (the message says what).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from cli.argparse_ja import JapaneseArgumentParser

EXIT_OK, EXIT_OTHER, EXIT_USAGE, EXIT_LOGIN = 0, 1, 2, 3
EXIT_UNREACHABLE, EXIT_REVOKED, EXIT_TOO_OLD, EXIT_RUNNING = 5, 6, 8, 9


def _say(text: str) -> None:
    print(text, flush=True)


def _parser() -> JapaneseArgumentParser:
    p = JapaneseArgumentParser(
        prog="madoguchi sync",
        description="職員IDでログインし、中央サーバーと1回同期します(管理者用)。"
        "パスワードは標準入力から読みます。",
    )
    p.add_argument("--operator", required=True, help="職員ID")
    p.add_argument("--data-dir", type=Path, help="端末のデータフォルダ(既定: このPCのフォルダ)")
    return p


def _password() -> str:
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        return getpass.getpass("パスワード: ")
    return "" if sys.stdin is None else sys.stdin.readline().rstrip("\r\n")


class _Progress:
    """One line per tenth of the way (the first sync of a PC downloads the whole register)."""

    def __init__(self) -> None:
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        if total <= 0:
            return
        tenth = min(10, done * 10 // total)
        if tenth > self.shown:
            self.shown = tenth
            _say(f"  受信中… {tenth * 10}%")


def main(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    from app.machine.paths import default_data_dir
    from app.services.terminal import TerminalFiles
    from app.store.instance_lock import AlreadyRunning, InstanceLock

    data_dir: Path = args.data_dir or default_data_dir()
    if not TerminalFiles(data_dir).is_enrolled():
        _say(
            f"エラー: このPCは端末として登録されていません({data_dir})。"
            "先に madoguchi enroll で登録してください。"
        )
        return EXIT_USAGE
    password = _password()
    if not password:
        _say("エラー: パスワードを標準入力から渡してください。")
        return EXIT_USAGE
    try:
        instance = InstanceLock(data_dir).acquire()
    except AlreadyRunning as exc:
        _say(f"エラー: {exc.message}")
        _say("窓口を終了してから、もう一度実行してください。")
        return EXIT_RUNNING
    with instance:
        return _login_and_sync(data_dir, args.operator, password)


def _login_and_sync(data_dir: Path, operator: str, password: str) -> int:
    from app.auth.errors import InvalidCredentials, LockedOut
    from app.domain.errors import DomainError
    from app.sync.errors import ClientTooOld, ServerUnreachable
    from cli.gui import build_login_service

    try:
        session: Any = build_login_service(data_dir).login(operator, password)
    except (InvalidCredentials, LockedOut) as exc:
        _say(f"エラー: {exc.message}")
        return EXIT_LOGIN
    except ClientTooOld as exc:
        _say(f"エラー: {exc.message}")
        return EXIT_TOO_OLD
    except ServerUnreachable as exc:
        _say(f"エラー: {exc.message}")
        return EXIT_UNREACHABLE
    except DomainError as exc:
        _say(f"エラー: {exc.message}")
        return EXIT_OTHER
    try:
        how = "オンライン" if session.online_at_login else "オフライン"
        _say(f"ログインしました: 職員ID {operator}({how})")
        _say("同期しています…")
        report = session.sync_once(progress=_Progress())
        counts = session.cache.counts() if not session.closed else {}
    finally:
        session.logout()
    if report.terminal_action != "none":
        _say(f"エラー: {report.message}")
        return EXIT_REVOKED
    if isinstance(report.error, ClientTooOld):
        _say(f"エラー: {report.message}")
        return EXIT_TOO_OLD
    if not report.online:
        _say(f"中央サーバーに接続できません: {report.message}")
        _say(f"  未送信: {report.outbox_count}件(このPCに残り、次の同期で送信されます)")
        return EXIT_UNREACHABLE
    if report.error is not None or report.pull is None or not report.pull.complete:
        _say(f"同期に失敗しました: {report.message}")
        _say(f"  未送信: {report.outbox_count}件")
        return EXIT_OTHER
    persons, households = counts.get("persons", 0), counts.get("households", 0)
    _say("同期が完了しました。")
    _say(f"  キャッシュの住民数: {persons:,}人({households:,}世帯)")
    _say(f"  未送信: {report.outbox_count}件")
    return EXIT_OK if report.outbox_count == 0 else EXIT_OTHER
