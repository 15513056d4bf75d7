"""`madoguchi card status|read|simulate`: in-process, and for real through pcscd + vpcd."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cards.simulator import CardProfile
from cli.card import main
from tests.cards.conftest import DEMO_PROFILE
from tests.support.pcscd import READER_NAMES, Pcscd
from tests.support.poll import poll_until

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out)
    return code, out.getvalue()


def test_read_with_pin_prints_masked_my_number(profile: CardProfile) -> None:
    code, out = _run(["read", "--simulator", str(DEMO_PROFILE)], profile.kenhojo_pin + "\n")
    assert code == 0
    assert profile.name in out and profile.my_number not in out
    assert "●●●●●●●●" + profile.my_number[-4:] in out
    code, out = _run(
        ["read", "--json", "--simulator", str(DEMO_PROFILE)], profile.kenhojo_pin + "\n"
    )
    data = json.loads(out)
    assert data["method"] == "pin" and data["birth_date"] == profile.birth_date.isoformat()
    assert data["certificate_expires_on"] == profile.certificate_expires_on.isoformat()


def test_read_with_collation_b(profile: CardProfile) -> None:
    code, out = _run(
        ["read", "--json", "--simulator", str(DEMO_PROFILE)], profile.collation_b + "\n"
    )
    assert code == 0
    data = json.loads(out)
    assert data["my_number_masked"] is None and data["method"] == "collation_b"
    assert data["card_expires_on"] == profile.card_expires_on.isoformat()


def test_wrong_pin_exits_1_with_a_japanese_message(
    profile: CardProfile, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(["read", "--simulator", str(DEMO_PROFILE)], "0000\n")
    assert code == 1 and out == ""
    assert "残り2回" in capsys.readouterr().err
    code, _ = _run(["read", "--simulator", str(DEMO_PROFILE)], "12\n")
    assert code == 1


def test_status_in_process() -> None:
    code, out = _run(["status", "--json", "--simulator", str(DEMO_PROFILE)])
    data = json.loads(out)
    assert code == 0 and data["card"]["retries"] == {
        "kenhojo_pin": 3,
        "jpki_auth_pin": 3,
        "jpki_sign_password": 5,
    }


def test_simulate_status_and_read_through_pcscd(pcscd: Pcscd, profile: CardProfile) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.card",
            "simulate",
            "--profile",
            str(DEMO_PROFILE),
            "--vpcd",
            f"127.0.0.1:{pcscd.slot_port(1)}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def card_status() -> dict | None:
            code, out = _run(["status", "--json"])
            status = json.loads(out) if code == 0 else {"card": None}
            return status if status["card"] else None

        data = poll_until(card_status, timeout=20, interval=0.2, what="the card in status")
        assert data["card"] and data["card"]["reader"] == READER_NAMES[1]
        assert {"name": READER_NAMES[1], "card_present": True} in data["readers"]
        code, out = _run(
            ["read", "--reader", READER_NAMES[1], "--json"], profile.kenhojo_pin + "\n"
        )
        assert code == 0 and json.loads(out)["name"] == profile.name
        code, out = _run(["status", "--reader", "no such reader"])
        assert code == 1
    finally:
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "vpcd" in stdout and "取り外しました" in stdout

    def removed() -> bool:
        # A status racing with the removal may fail with "removed" (exit 1): ask again.
        code, out = _run(["status", "--json"])
        return code == 0 and json.loads(out)["card"] is None

    poll_until(removed, timeout=10, what="the card was not removed")
