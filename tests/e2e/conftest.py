"""A whole counter for end-to-end tests: the real server on loopback over HTTPS, synthetic
residents, operators, an enrolled terminal whose device secret sits in the real Secret Service
keyring (gnome-keyring in a private D-Bus session), and the real printing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from app.domain.identifiers import juminhyo_code_check_digit
from app.services.login import LoginService
from app.services.terminal import TerminalConfig, enroll
from app.synthetic.generator import household_dicts
from cli.demo import _demo_card_household
from printing import demo_seal_png, render_certificate, render_daily_report
from server.embedded import EmbeddedServer

PASSWORDS = {
    "issuer01": "issuer-passphrase-1",
    "super01": "supervisor-passphrase-1",
    "clerk01": "clerk-passphrase-1",
    "audit01": "auditor-passphrase-1",
}
ROLES = {
    "issuer01": ("issuer",),
    "super01": ("supervisor",),
    "clerk01": ("clerk",),
    "audit01": ("auditor",),
}
PROTECTED_HOUSEHOLD = "H-E2E-PROTECTED"
PROTECTED_PERSON = "P-E2E-PROTECTED"
PROTECTED_ADDRESS = "北海道北見市北1条東1丁目1番地"
# Registered elsewhere, named in the measure by 氏名・生年月日 (matched when entered by hand).
PERPETRATOR_NAME, PERPETRATOR_BIRTH = "加害　太郎", "1975-01-01"
NEIGHBOUR_HOUSEHOLD = "H-E2E-NEIGHBOUR"
NEIGHBOUR_PERSON = "P-E2E-NEIGHBOUR"


def _protected_household() -> dict:
    """One resident under 支援措置 until next year, with a registered perpetrator."""
    body = "9800000001"
    return {
        "household_id": PROTECTED_HOUSEHOLD,
        "municipality_code": "012084",
        "postal_code": "090-0041",
        "address": PROTECTED_ADDRESS,
        "katagaki": None,
        "head_person_id": PROTECTED_PERSON,
        "members": [
            {
                "person_id": PROTECTED_PERSON,
                "juminhyo_code": body + str(juminhyo_code_check_digit(body)),
                "my_number": None,
                "version": 1,
                "status": "resident",
                "name": "守田 静香",
                "name_kana": "モリタ シズカ",
                "birth_date": "1990-06-01",
                "sex": "female",
                "relationship": "世帯主",
                "support_measure": {
                    "until": (date.today() + timedelta(days=365)).isoformat(),
                    "perpetrator_person_ids": ["P-E2E-PERPETRATOR"],
                    "perpetrators": [{"name": PERPETRATOR_NAME, "birth_date": PERPETRATOR_BIRTH}],
                },
            }
        ],
    }


def _neighbour_household() -> dict:
    """Another household registered at the protected address (another room: 方書)."""
    body = "9800000002"
    return {
        "household_id": NEIGHBOUR_HOUSEHOLD,
        "municipality_code": "012084",
        "postal_code": "090-0041",
        "address": PROTECTED_ADDRESS,
        "katagaki": "北1条ハイツ202号",
        "head_person_id": NEIGHBOUR_PERSON,
        "members": [
            {
                "person_id": NEIGHBOUR_PERSON,
                "juminhyo_code": body + str(juminhyo_code_check_digit(body)),
                "my_number": None,
                "version": 1,
                "status": "resident",
                "name": "隣野 一郎",
                "name_kana": "トナリノ イチロウ",
                "birth_date": "1960-02-02",
                "sex": "male",
                "relationship": "世帯主",
            }
        ],
    }


@dataclass
class Counter:
    server: EmbeddedServer
    terminal_dir: Path
    config: TerminalConfig

    def login_service(self) -> LoginService:
        return LoginService(
            self.terminal_dir, render_certificate, daily_report_renderer=render_daily_report
        )

    def login(self, operator_id: str = "issuer01"):
        return self.login_service().login(operator_id, PASSWORDS[operator_id])


@pytest.fixture
def counter(tmp_path: Path, secret_service) -> Iterator[Counter]:
    server = EmbeddedServer(tmp_path / "server")
    server.start()
    try:
        jsonl = tmp_path / "residents.jsonl"
        with jsonl.open("w", encoding="utf-8") as out:
            for h in household_dicts(150, 11):
                out.write(json.dumps(h, ensure_ascii=False) + "\n")
            out.write(json.dumps(_protected_household(), ensure_ascii=False) + "\n")
            out.write(json.dumps(_neighbour_household(), ensure_ascii=False) + "\n")
            # The resident of the virtual demo card (resources/cards/demo_card.json).
            out.write(json.dumps(_demo_card_household("012084"), ensure_ascii=False) + "\n")
        report = server.import_jsonl(jsonl)
        assert not report.errors
        for op_id, roles in ROLES.items():
            server.add_operator(op_id, f"試験 {op_id}", roles, "端野総合支所", PASSWORDS[op_id])
        # As in production: the 公印 set by the administrator, the snapshot after an import.
        server.set_seal(demo_seal_png(), "北見市長", "北見 太郎")
        server.build_snapshot()
        terminal_dir = tmp_path / "terminal"
        config = enroll(terminal_dir, server.base_url, server.ca_cert_path, server.make_token())
        yield Counter(server, terminal_dir, config)
    finally:
        server.close()
