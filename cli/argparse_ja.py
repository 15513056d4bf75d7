"""argparse in Japanese for the clerk-facing commands: 「使い方:」, 「オプション」, the help
option, and the usual error messages (argparse itself only speaks English)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

_ERRORS = (
    ("the following arguments are required:", "次の引数が必要です:"),
    ("unrecognized arguments:", "知らない引数です:"),
    ("invalid choice:", "選べない値です:"),
    ("invalid int value:", "整数ではありません:"),
    ("expected one argument", "値が1つ必要です"),
    ("(choose from", "(選べる値:"),
    ("argument ", "引数 "),
)


class JapaneseHelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "使い方: " if prefix is None else prefix)


class JapaneseArgumentParser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", JapaneseHelpFormatter)
        add_help = kwargs.pop("add_help", True)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "引数"
        self._optionals.title = "オプション"
        if add_help:
            self.add_argument(
                "-h",
                "--help",
                action="help",
                default=argparse.SUPPRESS,
                help="このヘルプを表示して終了します",
            )

    def add_subparsers(self, **kwargs: Any) -> Any:
        kwargs.setdefault("title", "サブコマンド")
        return super().add_subparsers(**kwargs)

    def error(self, message: str) -> NoReturn:
        for english, japanese in _ERRORS:
            message = message.replace(english, japanese)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: エラー: {message}\n")
