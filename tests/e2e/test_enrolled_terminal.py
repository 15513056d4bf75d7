"""A terminal enrolled with `madoguchi enroll` against a separately started server logs in,
syncs and issues; the 公印 and the 市長 come from the server, signed (DESIGN.md §12).

Real parts: the server over HTTPS on loopback, the CLI, the Secret Service keyring, SQLCipher,
reportlab; poppler (pdfimages, pdftotext) judges what was printed.
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from app.services.seal import SEAL_STATE_KEY, SealError
from app.sync.errors import ClientTooOld
from app.sync.protocol import SealBundle
from app.synthetic.generator import household_dicts
from cli.gui import build_login_service, build_main_window
from cli.main import main as madoguchi
from printing import demo_seal_png
from server import setup_cli
from server.embedded import EmbeddedServer
from tests.e2e.test_counter_services import _first_resident_household, self_request
from tests.printing.conftest import need_tool
from tests.support.server import FAST_PASSWORDS
from ui.login import LoginDialog

PASSWORD = "issuer-passphrase-1"
TIMEOUT = 30_000


@dataclass
class Site:
    server: EmbeddedServer
    data_dir: Path

    def login(self) -> Any:
        return build_login_service(self.data_dir).login("issuer01", PASSWORD)


@pytest.fixture
def site(tmp_path: Path, secret_service, monkeypatch) -> Iterator[Site]:
    monkeypatch.delenv("MADOGUCHI_PROVISIONING", raising=False)
    server = EmbeddedServer(tmp_path / "server", **FAST_PASSWORDS)
    try:
        residents = tmp_path / "residents.jsonl"
        with residents.open("w", encoding="utf-8") as out:
            for h in household_dicts(80, 7):
                out.write(json.dumps(h, ensure_ascii=False) + "\n")
        assert server.import_jsonl(residents).ok
        server.add_operator("issuer01", "交付 一郎", ["issuer"], "端野総合支所", PASSWORD)
        server.build_snapshot()
        server.start()
        # The installer's provisioning.json, made on the server; the administrator types the token.
        (tmp_path / "Madoguchi").mkdir()
        doc = setup_cli.provisioning_document(server.config, server.base_url)
        (tmp_path / "Madoguchi" / "provisioning.json").write_text(json.dumps(doc), "utf-8")
        data_dir = tmp_path / "Madoguchi" / "terminal"
        assert (
            madoguchi(["enroll", "--data-dir", str(data_dir), "--token", server.make_token()]) == 0
        )
        yield Site(server, data_dir)
    finally:
        server.close()


def _images(pdf: bytes, tmp_path: Path) -> list[Image.Image]:
    pdfimages = need_tool("pdfimages", "poppler-utils")
    path = tmp_path / "issued.pdf"
    path.write_bytes(pdf)
    subprocess.run([pdfimages, "-png", str(path), str(tmp_path / "img")], check=True)
    return [Image.open(p) for p in sorted(tmp_path.glob("img-*.png"))]


def _text(pdf: bytes, tmp_path: Path) -> str:
    pdftotext = need_tool("pdftotext", "poppler-utils")
    path = tmp_path / "text.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        [pdftotext, str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_no_seal_no_issuance_then_the_servers_seal_is_printed(site: Site, tmp_path: Path) -> None:
    session = site.login()
    try:
        assert session.sync_once().error is None
        hit, household = _first_resident_household(session)
        # No 公印 on the server yet: no certificate, a clear reason; the 見本 still renders.
        with pytest.raises(SealError, match="公印と市長名が中央サーバーから届いていない"):
            session.issue(self_request(household, hit.person_id), household)
        assert session.cache.issuances_on(session.today()) == []
        sample = session.preview(self_request(household, hit.person_id), household)
        (tmp_path / "sample").mkdir()
        assert _images(sample, tmp_path / "sample") == []

        seal = demo_seal_png()
        site.server.set_seal(seal, "北見市長", "北見 花子")
        assert session.sync_once().error is None  # the terminal fetches and verifies it
        issued = session.issue(self_request(household, hit.person_id), household)
        (tmp_path / "issued").mkdir()
        images = _images(issued.pdf, tmp_path / "issued")
        rgb = [i for i in images if i.mode in ("RGB", "RGBA")]
        assert len(rgb) == 1, [i.mode for i in images]  # the seal (its alpha mask aside)
        original = Image.open(io.BytesIO(seal)).convert("RGB")
        assert rgb[0].size == original.size
        assert ImageChops.difference(rgb[0].convert("RGB"), original).getbbox() is None
        text = _text(issued.pdf, tmp_path)
        assert "北見市長" in text and "北見 花子" in text  # the signed name, not the policy's
    finally:
        session.logout()


def test_a_tampered_seal_stops_issuance(site: Site) -> None:
    site.server.set_seal(demo_seal_png(), "北見市長", "北見 花子")
    session = site.login()
    try:
        assert session.sync_once().error is None
        hit, household = _first_resident_household(session)
        kept = SealBundle.model_validate_json(session.cache.local_state(SEAL_STATE_KEY))

        # The server's file edited by hand (not re-signed): the terminal keeps its good copy.
        path = site.server.config.data_dir / "seal.json"
        forged = kept.model_copy(update={"version": 9, "mayor_name": "偽 市長"})
        path.write_text(forged.model_dump_json(), encoding="utf-8")
        assert session.sync_once().error is None
        assert session.seal().mayor_name == "北見 花子"
        session.issue(self_request(household, hit.person_id), household)

        # The copy in the cache altered: refused where it is used, nothing issued.
        session.cache.set_local_state(
            SEAL_STATE_KEY, replace_name(kept, "北見 次郎").model_dump_json()
        )
        count = len(session.cache.issuances_on(session.today()))
        with pytest.raises(SealError, match="署名を確認できません"):
            session.issue(self_request(household, hit.person_id), household)
        assert len(session.cache.issuances_on(session.today())) == count
    finally:
        session.logout()


def replace_name(bundle: SealBundle, name: str) -> SealBundle:
    return bundle.model_copy(update={"mayor_name": name})


def test_too_old_program_is_told_at_login_and_in_the_status_bar(qtbot: Any, site: Site) -> None:
    site.server.set_seal(demo_seal_png(), "北見市長", "北見 花子")
    session = site.login()
    window = build_main_window(session)
    qtbot.addWidget(window)
    window.show()
    try:
        with qtbot.waitSignal(window.synced, timeout=TIMEOUT):
            window.sync_now()
        assert window.status.update_notice.isHidden()

        server = site.server
        server.stop()
        server.config = replace(server.config, min_client_version="9.9.0")
        server.start()
        with qtbot.waitSignal(window.synced, timeout=TIMEOUT) as blocker:
            window.sync_now()
        assert isinstance(blocker.args[0].error, ClientTooOld)
        notice = window.status.update_notice
        assert notice.isVisible() and "古いため使用できません" in notice.text()
        assert "管理者に更新を依頼" in notice.text()
    finally:
        window.close()

    # At login: the same words in the login window, instead of an obscure failure.
    dialog = LoginDialog(build_login_service(site.data_dir).login)
    qtbot.addWidget(dialog)
    dialog.operator_id.setText("issuer01")
    dialog.password.setText(PASSWORD)
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: "古いため使用できません" in dialog.message.text(), timeout=TIMEOUT)
    assert dialog.session is None
