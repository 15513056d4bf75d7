"""The password change dialog (issue 21 item 6): every problem of the server's rule shown in
Japanese as the clerk types, nothing sent until there is none, the forced variant asks no old
password, a refusal from the server is shown and the fields cleared."""

from __future__ import annotations

from typing import Any

from app.domain.errors import DomainError
from app.domain.passwords import PasswordRules
from tests.auth.widget_support import sync_runner
from ui.password_dialog import PasswordChangeDialog

RULES = PasswordRules(context_words=("北見市", "012084"))


def test_problems_as_typed_and_nothing_sent_before(qtbot) -> None:
    sent: list[tuple[str, str]] = []
    dialog = PasswordChangeDialog(
        "clerk01",
        lambda old, new: sent.append((old, new)),
        RULES.problems,
        runner=sync_runner,
    )
    qtbot.addWidget(dialog)
    dialog.old.setText("the current passphrase")
    dialog.new.setText("password")
    text = dialog.problems.text()
    assert "15文字以上" in text and "よく使われている" in text
    assert not dialog.ok.isEnabled()
    dialog.new.setText("clerk01 on the north counter")
    assert "職員IDを含めないで" in dialog.problems.text()
    dialog.new.setText("quiet river under the bridge")
    dialog.again.setText("quiet river under the bridgeX")
    assert "一致しません" in dialog.problems.text() and not dialog.ok.isEnabled()
    dialog.submit()
    assert sent == []
    dialog.again.setText("quiet river under the bridge")
    assert dialog.problems.text() == "" and dialog.ok.isEnabled()
    dialog.submit()
    assert sent == [("the current passphrase", "quiet river under the bridge")]
    assert dialog.result() == dialog.DialogCode.Accepted
    assert dialog.new.text() == "" and dialog.old.text() == ""  # nothing left in the fields


def test_forced_change_hides_the_old_password_and_shows_a_refusal(qtbot) -> None:
    calls: list[Any] = []

    def submit(old: str, new: str) -> str:
        calls.append((old, new))
        if len(calls) == 1:
            raise DomainError("現在のパスワードが違います。")
        return "session"

    dialog = PasswordChangeDialog(
        "issuer01", submit, RULES.problems, forced_old_password="admin-set-one", runner=sync_runner
    )
    qtbot.addWidget(dialog)
    assert (
        dialog.old.isHidden()
        and "管理者がパスワードを再設定しました"
        in dialog.findChild(type(dialog.problems), "passwordIntro").text()
    )
    dialog.new.setText("my own counter phrase 2026")
    dialog.again.setText("my own counter phrase 2026")
    dialog.submit()
    assert "違います" in dialog.problems.text() and dialog.new.text() == ""
    dialog.new.setText("my own counter phrase 2026")
    dialog.again.setText("my own counter phrase 2026")
    with qtbot.waitSignal(dialog.changed) as changed:
        dialog.submit()
    assert changed.args == ["session"]
    assert calls[-1] == ("admin-set-one", "my own counter phrase 2026")
