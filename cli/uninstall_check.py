"""`madoguchi uninstall-check`: may the program be removed from this PC? (DESIGN.md §12)

    madoguchi uninstall-check [--data-dir DIR] [--ui-level N] [--force VALUE]

Run by the MSI before an uninstall (packaging/windows/madoguchi.wxs, custom action
CheckOutbox, as `madoguchi.exe uninstall-check --ui-level=[UILevel] --force=[FORCE]`), or by an
administrator's removal script. It reads `outbox-status.json` beside the cache
(app/store/outbox_status.py): the cache itself opens only with an operator's password.

The data folder is never touched: an uninstall keeps it, unsent events included; they go out
when the program is installed again and a clerk logs in. The check is about not leaving them
behind unknowingly (a PC being retired).

Exit status: 0 the uninstall may go on (no data, nothing unsent, the administrator said yes
in the dialog, or --force 1); 1 refused: events are unsent, or their count is unknown (a
cache without a readable status file); 2 usage. Each refusal or override is appended to
`uninstall-check.log` in the data folder (Windows Installer's own log shows only the exit code).
With a user interface (--ui-level 3 or more: msiexec without /qn) on Windows it asks in a dialog.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cli.argparse_ja import JapaneseArgumentParser

LOG_FILE = "uninstall-check.log"
TITLE = "窓口のアンインストール"
EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
UI_LEVEL_NONE = 2  # INSTALLUILEVEL_NONE: msiexec /qn


def _say(text: str) -> None:
    print(text, flush=True)


def ask_windows(text: str) -> bool:
    """Yes / No in a message box (Windows only; `No` is the default button)."""
    import ctypes

    mb_yesno, mb_iconwarning, mb_defbutton2, mb_setforeground, mb_topmost = (
        0x4, 0x30, 0x100, 0x10000, 0x40000,
    )  # fmt: skip
    flags = mb_yesno | mb_iconwarning | mb_defbutton2 | mb_setforeground | mb_topmost
    user32 = ctypes.WinDLL("user32")
    return bool(user32.MessageBoxW(None, text, TITLE, flags) == 6)  # IDYES


def _parser() -> JapaneseArgumentParser:
    p = JapaneseArgumentParser(
        prog="madoguchi uninstall-check",
        description="未送信のデータが残っていないかを確認します(アンインストール前、管理者用)。",
    )
    p.add_argument("--data-dir", type=Path, help="端末のデータフォルダ(既定: このPCのフォルダ)")
    p.add_argument(
        "--ui-level", type=int, default=UI_LEVEL_NONE,
        help="Windows Installer の UILevel(3以上: 確認の画面を出す)",
    )  # fmt: skip
    p.add_argument("--force", default="", help="1: 未送信のデータがあっても続ける")
    return p


def _log(data_dir: Path, line: str) -> None:
    try:
        with (data_dir / LOG_FILE).open("a", encoding="utf-8") as fh:
            fh.write(f"{datetime.now(UTC).isoformat()} {line}\n")
    except OSError:
        pass  # the answer is the exit status; the log only explains it


def main(argv: list[str], ask: Callable[[str], bool] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    from app.machine.paths import default_data_dir
    from app.store.db import cache_path
    from app.store.outbox_status import StatusUnreadable, read_status, status_path

    data_dir: Path = args.data_dir or default_data_dir()
    cache = cache_path(data_dir)
    if not cache.exists():
        _say(f"この端末のデータはありません({data_dir})。")
        return EXIT_OK
    try:
        status = read_status(status_path(cache))
    except StatusUnreadable:
        status = None
    if status is not None and status.unsent == 0:
        when = status.written_at.astimezone().strftime("%Y-%m-%d %H:%M")
        _say(f"未送信のデータはありません({when} 時点)。")
        return EXIT_OK
    if status is None:
        what = "未送信のデータの件数を確認できません"
        logged = "unsent=unknown"
    else:
        what = f"中央サーバーに未送信のデータが {status.unsent} 件あります"
        logged = f"unsent={status.unsent} rejected={status.rejected}"
    keep = (
        f"データ({data_dir})は削除されず、このPCに残ります。"
        "窓口をもう一度インストールして職員がログインすると送信されます。"
    )
    if args.force.strip() == "1":
        _say(f"{what}。FORCE=1 のためアンインストールを続けます。{keep}")
        _log(data_dir, f"{logged} FORCE=1: uninstall goes on")
        return EXIT_OK
    if ask is None and sys.platform == "win32":
        ask = ask_windows
    if args.ui_level > UI_LEVEL_NONE and ask is not None:
        if ask(f"{what}。\n\n{keep}\n\nこのPCを使い続けない場合は、先に職員がログインして"
               "同期してください。\n\nアンインストールを続けますか?"):  # fmt: skip
            _log(data_dir, f"{logged} confirmed in the dialog: uninstall goes on")
            return EXIT_OK
        _log(data_dir, f"{logged} declined in the dialog: uninstall stopped")
        _say(f"{what}。アンインストールを中止しました。")
        return EXIT_REFUSED
    _say(
        f"{what}。アンインストールを中止しました。職員がログインして同期してから、"
        "もう一度実行してください(データを残したまま続けるには FORCE=1)。"
    )
    _log(data_dir, f"{logged} no user interface: uninstall refused (FORCE=1 overrides)")
    return EXIT_REFUSED
