"""`madoguchi`: the client's entry point and composition root.

The only client-side layer allowed to import everything (app, ui, printing): it wires them
together. Subcommands that need no GUI never import Qt, so `madoguchi card status` works on a
machine without a display.
"""

from __future__ import annotations

import io
import sys
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from cli.argparse_ja import JapaneseArgumentParser

# subcommand → module whose `main(argv) -> int` runs it
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("cli.demo", "デモ: 内蔵サーバ・合成住民・仮想カードで起動します"),
    "certificate": ("cli.certificate", "住民票の写しの見本作成(render)と検証(verify)"),
    "card": ("cli.card", "個人番号カード: status / read / simulate"),
    "enroll": ("cli.enroll", "このPCを中央サーバーに端末として登録します(管理者用)"),
    "sync": ("cli.sync", "職員IDでログインして中央サーバーと同期します(管理者用)"),
    "uninstall-check": ("cli.uninstall_check", "未送信のデータが残っていないかを確認します"),
}


# Internal: run by the program itself, not listed in the help.
HIDDEN: dict[str, str] = {"_print-job": "ui.print_job"}  # the print child (ui/print_job.py)


def product_version() -> str:
    try:
        return version("madoguchi")
    except PackageNotFoundError:  # running from a frozen build without metadata
        from app import __version__

        return __version__


def _parser() -> JapaneseArgumentParser:
    p = JapaneseArgumentParser(
        prog="madoguchi",
        description="窓口: 住民票の写しの交付と個人番号カード窓口の端末ソフト",
        epilog="サブコマンド: "
        + " / ".join(f"{name} ({desc})" for name, (_, desc) in SUBCOMMANDS.items()),
    )
    p.add_argument(
        "--version",
        action="version",
        version=f"madoguchi {product_version()}",
        help="バージョンを表示して終了します",
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="端末のデータフォルダ(既定: Windowsは %%ProgramData%%\\Madoguchi\\terminal)",
    )
    return p


def utf8_output() -> None:
    """Write UTF-8 whatever the code page. Piped output on Windows uses the ANSI code page
    (cp932), which cannot encode an IVS or a name outside JIS. A windowed EXE has no streams."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.encoding.lower() != "utf-8":
            stream.reconfigure(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    utf8_output()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        module = import_module(SUBCOMMANDS[argv[0]][0])
        return int(module.main(argv[1:]) or 0)
    if argv and argv[0] in HIDDEN:
        return int(import_module(HIDDEN[argv[0]]).main(argv[1:]) or 0)
    args = _parser().parse_args(argv)
    from cli import logs
    from cli.gui import default_data_dir, run_gui

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    logs.configure(data_dir)
    return run_gui(data_dir=data_dir)


if __name__ == "__main__":
    sys.exit(main())
