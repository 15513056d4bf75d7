"""`madoguchi sync` and `madoguchi uninstall-check` as the city's administrator runs them, as real
processes against a terminal enrolled with `madoguchi enroll` and a separately started server:
the first sync pre-loads the cache; offline, the login's events stay unsent and
outbox-status.json says so; the uninstall check refuses until they are sent (or FORCE=1).

Real parts: the server over HTTPS on loopback, the CLI in child processes, the Secret Service
keyring, SQLCipher.
"""

# ruff: noqa: F811 - `site` is test_enrolled_terminal's fixture, imported and used by name
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.store.outbox_status import read_status, status_path
from app.synthetic.generator import household_dicts
from tests.e2e.test_enrolled_terminal import PASSWORD, Site, site  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        text=True,
        encoding="utf-8",
        env=dict(os.environ),
        timeout=300,
    )


def _sync(site: Site, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    data_dir = str(site.data_dir)
    return _cli("sync", "--operator", "issuer01", "--data-dir", data_dir, stdin=password + "\n")


def _check(site: Site, *extra: str) -> subprocess.CompletedProcess[str]:
    return _cli("uninstall-check", "--data-dir", str(site.data_dir), *extra)


def test_sync_preloads_the_cache_then_the_uninstall_check_follows_the_outbox(
    site: Site,
) -> None:
    status_file = status_path(site.data_dir / "cache.db")
    # Enrolled, never synced: the empty cache's status says nothing is unsent.
    status = read_status(status_file)
    assert status is not None and status.unsent == 0

    first = _sync(site)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "ログインしました: 職員ID issuer01(オンライン)" in first.stdout
    assert "同期が完了しました。" in first.stdout and "未送信: 0件" in first.stdout
    register = list(household_dicts(80, 7))  # what the site's server imported
    persons = sum(len(h["members"]) for h in register)
    assert f"キャッシュの住民数: {persons:,}人({len(register)}世帯)" in first.stdout
    assert PASSWORD not in first.stdout + first.stderr
    after_first = read_status(status_file)
    assert after_first is not None and after_first.unsent == 0
    assert after_first.written_at >= status.written_at
    doc = json.loads(status_file.read_text(encoding="utf-8"))
    assert sorted(doc) == ["format", "rejected", "unsent", "written_at"]  # nothing personal

    ok = _check(site, "--ui-level", "2")
    assert ok.returncode == 0 and "未送信のデータはありません" in ok.stdout

    # The server is gone: an offline login (this PC's key slot); its audit entries stay unsent.
    site.server.stop()
    offline = _sync(site)
    assert offline.returncode == 5, offline.stdout + offline.stderr
    assert "(オフライン)" in offline.stdout and "中央サーバーに接続できません" in offline.stdout
    unsent = read_status(status_file)
    assert unsent is not None and unsent.unsent >= 1
    assert f"未送信: {unsent.unsent}件" in offline.stdout

    refused = _check(site, "--ui-level", "2", "--force", "")
    assert refused.returncode == 1
    assert f"未送信のデータが {unsent.unsent} 件あります" in refused.stdout
    log = (site.data_dir / "uninstall-check.log").read_text(encoding="utf-8")
    assert f"unsent={unsent.unsent}" in log and "uninstall refused" in log
    forced = _check(site, "--ui-level", "2", "--force", "1")
    assert forced.returncode == 0 and "FORCE=1" in forced.stdout
    assert (site.data_dir / "cache.db").exists()  # the check never touches the data

    # Back online: the next sync sends them, and the uninstall may go on.
    site.server.start()
    again = _sync(site)
    assert again.returncode == 0, again.stdout + again.stderr
    sent = read_status(status_file)
    assert sent is not None and sent.unsent == 0
    assert _check(site).returncode == 0


def test_sync_refuses_a_wrong_password_and_takes_none_on_the_command_line(site: Site) -> None:
    wrong = _sync(site, "not-the-password")
    assert wrong.returncode == 3, wrong.stdout + wrong.stderr
    assert "パスワードが違います" in wrong.stdout and "not-the-password" not in wrong.stdout
    no_password = _sync(site, "")
    assert no_password.returncode == 2 and "標準入力" in no_password.stdout
    argv = _cli("sync", "--operator", "issuer01", "--password", PASSWORD)
    assert argv.returncode == 2  # there is no such option


def test_sync_on_a_pc_that_is_not_enrolled(tmp_path: Path) -> None:
    result = _cli("sync", "--operator", "issuer01", "--data-dir", str(tmp_path), stdin="x\n")
    assert result.returncode == 2 and "madoguchi enroll" in result.stdout
    check = _cli("uninstall-check", "--data-dir", str(tmp_path))
    assert check.returncode == 0 and "データはありません" in check.stdout


def test_uninstall_check_asks_when_there_is_a_user_interface(site: Site) -> None:
    """The dialog of the MSI's check (Windows' MessageBoxW behind the `ask` seam here)."""
    from cli import uninstall_check

    status_file = status_path(site.data_dir / "cache.db")
    status_file.write_text(
        json.dumps(
            {"format": 1, "unsent": 2, "rejected": 0, "written_at": "2026-01-05T09:00:00+00:00"}
        ),
        encoding="utf-8",
    )
    asked: list[str] = []

    def answer(yes: bool):
        def ask(text: str) -> bool:
            asked.append(text)
            return yes

        return ask

    args = ["--data-dir", str(site.data_dir), "--ui-level", "5", "--force", ""]
    assert uninstall_check.main(args, ask=answer(False)) == 1
    assert uninstall_check.main(args, ask=answer(True)) == 0
    assert "未送信のデータが 2 件あります" in asked[0] and "データ(" in asked[0]
    # Quiet (msiexec /qn): no dialog, refused.
    assert uninstall_check.main([*args[:2], "--ui-level", "2"], ask=answer(True)) == 1
    assert len(asked) == 2
    # An unreadable status file is an unknown count: refused too.
    status_file.write_text("{", encoding="utf-8")
    assert uninstall_check.main([*args[:2]], ask=answer(True)) == 1
