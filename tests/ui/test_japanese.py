"""Qt's own texts in Japanese (qtbase_ja from PySide6's translations) and the CLI's help."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QDate, QLocale
from PySide6.QtWidgets import QApplication, QDateEdit, QDialogButtonBox, QMessageBox

from cli.gui import install_japanese
from cli.main import main


@pytest.fixture
def japanese(qapp: QApplication) -> Iterator[Any]:
    previous = QLocale()
    translator = install_japanese(qapp)
    yield translator
    qapp.removeTranslator(translator)
    QLocale.setDefault(previous)


def test_qt_buttons_in_japanese(qtbot: Any, japanese: Any) -> None:
    assert not japanese.isEmpty()  # the translation was found and loaded
    box = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok
        | QDialogButtonBox.StandardButton.Cancel
        | QDialogButtonBox.StandardButton.Close
    )
    qtbot.addWidget(box)
    cancel = box.button(QDialogButtonBox.StandardButton.Cancel).text()
    close = box.button(QDialogButtonBox.StandardButton.Close).text()
    assert "キャンセル" in cancel and "閉じる" in close
    message = QMessageBox(QMessageBox.Icon.Question, "確認", "よろしいですか?")
    message.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    qtbot.addWidget(message)
    assert "はい" in message.button(QMessageBox.StandardButton.Yes).text()


def test_dates_in_japanese_order(qtbot: Any, japanese: Any) -> None:
    edit = QDateEdit(QDate(2026, 12, 7))
    qtbot.addWidget(edit)
    assert edit.text().startswith("2026/12/07")


def test_demo_help_in_japanese(capsys: Any) -> None:
    with pytest.raises(SystemExit) as done:
        main(["demo", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("使い方: madoguchi demo")
    assert "オプション:" in out and "このヘルプを表示して終了します" in out
    assert "usage" not in out and "show this help" not in out and "options:" not in out
    with pytest.raises(SystemExit):
        main(["demo", "--residents", "たくさん"])
    assert "エラー: 引数 --residents: 整数ではありません" in capsys.readouterr().err


def test_one_term_for_the_staff_id() -> None:
    """職員ID everywhere the program speaks to people (UI, CLI, messages): no 操作者 or
    オペレーター for the same thing (issue 17). String literals only, comments aside."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found = []
    for package in ("app", "ui", "cli", "server", "printing"):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                text = node.value if isinstance(node, ast.Constant) else None
                if isinstance(text, str) and ("操作者" in text or "オペレーター" in text):
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert found == []
