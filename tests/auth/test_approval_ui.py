"""The supervisor approval dialog: id + password + reason in one dialog, recorded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3
from cryptography.hazmat.primitives.asymmetric import ec
from PySide6.QtWidgets import QDialog

from app.auth.approval import approve
from app.auth.errors import InvalidCredentials
from app.auth.session import Session
from app.store.audit import AUDIT_TABLE_DDL, AuditChain, signer_for
from app.sync.protocol import OperatorProfile
from tests.auth.widget_support import sync_runner
from tests.support.poll import QT_WAIT_MS
from ui.approval import ApprovalDialog

SUPER = OperatorProfile(
    operator_id="super1", display_name="監督", roles=("supervisor",), branch="本庁"
)
CLERK = OperatorProfile(operator_id="clerk1", display_name="職員", roles=("clerk",), branch="本庁")


def _verify(operator_id: str, password: str) -> OperatorProfile:
    if (operator_id, password) == ("super1", "sup-pass"):
        return SUPER
    raise InvalidCredentials()


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[AuditChain]:
    conn = sqlcipher3.connect(str(tmp_path / "cache.db"), check_same_thread=False)
    conn.execute(f"PRAGMA key = \"x'{os.urandom(32).hex()}'\"")
    conn.execute(AUDIT_TABLE_DDL)
    conn.commit()
    yield AuditChain(conn, "T0001", signer_for(ec.generate_private_key(ec.SECP256R1())))
    conn.close()


@pytest.fixture
def dialog(qtbot: Any, chain: AuditChain) -> ApprovalDialog:
    session = Session(CLERK, "T0001", datetime.now(UTC), True)
    d = ApprovalDialog(
        lambda sid, pw, reason: approve(
            session, sid, pw, reason, verify=_verify, record=chain.append, target_ids=["P7"]
        ),
        situation="支援措置の対象者です。監督者の承認が必要です。",
        runner=sync_runner,
    )
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    return d


def test_reason_required_before_anything_is_checked(dialog: ApprovalDialog, chain: Any) -> None:
    dialog.supervisor_id.setText("super1")
    dialog.password.setText("sup-pass")
    dialog.submit()
    assert "理由" in dialog.message.text()
    assert dialog.password.text() == ""  # cleared after every attempt
    assert chain.entries() == [] and dialog.result() != QDialog.DialogCode.Accepted


def test_wrong_password_stays_in_the_dialog(
    dialog: ApprovalDialog, chain: AuditChain, qtbot: Any
) -> None:
    dialog.supervisor_id.setText("super1")
    dialog.password.setText("nope")
    dialog.reason.setPlainText("本人申請")
    dialog.submit()
    qtbot.waitUntil(lambda: "違います" in dialog.message.text(), timeout=QT_WAIT_MS)
    assert dialog.isVisible() and dialog.approval is None
    assert [e.action for e in chain.entries()] == ["login_failed"]


def test_approval_recorded_and_returned(
    dialog: ApprovalDialog, chain: AuditChain, qtbot: Any
) -> None:
    dialog.supervisor_id.setText("super1")
    dialog.password.setText("sup-pass")
    dialog.reason.setPlainText("本人申請・本人確認済み")
    dialog.submit()
    qtbot.waitUntil(lambda: dialog.approval is not None, timeout=QT_WAIT_MS)
    assert dialog.result() == QDialog.DialogCode.Accepted
    a = dialog.approval
    assert a is not None and (a.supervisor_id, a.operator_id) == ("super1", "clerk1")
    e = chain.entries()[-1]
    assert (e.operator_id, e.action, e.target_ids) == ("super1", "approval", ("P7",))
    assert e.reason is not None and e.reason.startswith("本人申請・本人確認済み")
