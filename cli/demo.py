"""`madoguchi demo`: the whole product on one machine, with synthetic data only.

Starts the embedded central server on loopback over HTTPS (SQLite, its own demo CA), loads N
synthetic residents, enrolls this terminal, creates demo operators and prints them, then opens
the GUI (or, with --headless, syncs once, prints a summary and exits). A second run in the same
data directory reuses everything.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cli.argparse_ja import JapaneseArgumentParser

DEFAULT_PORT = 47443
DEFAULT_RESIDENTS = 3000
DEMO_SEED = 20261126

# (id, display name, roles): one operator per role of the permission table.
DEMO_OPERATORS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("issuer01", "交付 一郎", ("issuer",)),
    ("clerk01", "窓口 次郎", ("clerk",)),
    ("super01", "監督 三子", ("supervisor",)),
    ("audit01", "監査 四郎", ("auditor",)),
    ("admin01", "管理 五郎", ("admin",)),
    ("review01", "審査 六子", ("review",)),  # 本庁 市民課: the 届出審査 tab
)
DEMO_BRANCH = "端野総合支所"


def _say(text: str) -> None:
    print(text, flush=True)


@dataclass
class DemoEnvironment:
    data_dir: Path
    server: object  # server.embedded.EmbeddedServer
    operators: dict[str, str]  # id → password
    secret_store_factory: Callable[[str], object]
    keyring_note: str | None
    # The simulated 住基ネット: 転出証明書情報 of the moving-in card (movein_card.json).
    jukinet: object = None

    @property
    def terminal_dir(self) -> Path:
        return self.data_dir / "terminal"


class DemoFileSecretStore:
    """Device secret in a file of the demo folder: used ONLY by the demo, and only when this
    machine has no OS credential store. Production (`madoguchi`) refuses to run that way."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self) -> bytes | None:
        try:
            return bytes.fromhex(self.path.read_text(encoding="ascii").strip())
        except FileNotFoundError:
            return None

    def get_or_create(self) -> bytes:
        existing = self.get()
        if existing is not None:
            return existing
        secret = secrets.token_bytes(32)
        from app.fileio import atomic_write_text

        atomic_write_text(self.path, secret.hex())
        os.chmod(self.path, 0o600)
        return secret

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
        self.failure_guard().delete()

    def failure_guard(self) -> DemoFileRecord:
        return DemoFileRecord(self.path.with_name(self.path.name + "-failures"))


class DemoFileRecord:
    """The key slots' failure counts beside the demo's file secret (demo only, as above)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def write(self, data: bytes) -> None:
        from app.fileio import atomic_write_text

        atomic_write_text(self.path, data.decode("utf-8"))

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)


def _secret_store_factory(data_dir: Path) -> tuple[Callable[[str], object], str | None]:
    from app.store.errors import KeyringUnavailable
    from app.store.keys import DeviceSecret

    try:
        DeviceSecret("probe").get()
    except KeyringUnavailable:
        note = (
            "注意: このPCにはOSの資格情報ストアがないため、デモに限り端末の秘密情報を"
            f"デモフォルダ({data_dir})のファイルに保存します。本番の端末ではこの方法は使いません。"
        )
        return (lambda _install_id: DemoFileSecretStore(data_dir / "demo-device-secret")), note
    return DeviceSecret, None


def _demo_card_household(municipality_code: str) -> dict:
    """A household whose member matches the virtual card (resources/cards/demo_card.json)."""
    from app.domain.identifiers import juminhyo_code_check_digit
    from resources import cards_dir

    card = json.loads((cards_dir() / "demo_card.json").read_text(encoding="utf-8"))
    body = "9900000001"
    person = {
        "person_id": "P-DEMO-CARD",
        "juminhyo_code": body + str(juminhyo_code_check_digit(body)),
        "my_number": card["my_number"],
        "version": 1,
        "status": "resident",
        "name": card["name"],
        "name_kana": card["name_kana"],
        "birth_date": card["birth_date"],
        "sex": card["sex"],
        "relationship": "世帯主",
        "honseki": "北海道北見市北五条東2丁目1番地",
        "hittosha": card["name"],
        "became_resident_on": "2010-04-01",
        "became_resident_reported_on": "2010-04-05",
        "address_set_on": "2010-04-01",
        "address_set_reported_on": "2010-04-05",
        "previous_address": "北海道網走市南6条東1丁目1番地",
        "history": [{"date": "2010-04-01", "kind": "転入", "note": "網走市から転入"}],
    }
    return {
        "household_id": "H-DEMO-CARD",
        "municipality_code": municipality_code,
        "postal_code": "090-0045",
        "address": card["address"],
        "katagaki": None,
        "head_person_id": "P-DEMO-CARD",
        "members": [person],
    }


def _write_residents(path: Path, residents: int) -> int:
    from app.fileio import atomic_writer
    from app.synthetic.generator import household_dicts

    count = 0
    with atomic_writer(path) as out:
        for h in household_dicts(residents, DEMO_SEED):
            out.write(json.dumps(h, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += len(h["members"])
        out.write(json.dumps(_demo_card_household("012084"), ensure_ascii=False) + "\n")
        count += 1
    return count


def prepare(data_dir: Path, residents: int, port: int) -> DemoEnvironment:
    """Start (or reuse) the demo server and terminal in `data_dir`."""
    from app.services.terminal import TerminalConfig, TerminalFiles, enroll
    from server.embedded import EmbeddedServer

    data_dir.mkdir(parents=True, exist_ok=True)
    server_dir = data_dir / "server"
    fresh_server = not (server_dir / "demo-ready").exists()
    server = EmbeddedServer(server_dir, port=port)
    server.start()
    operators_file = data_dir / "demo-operators.json"
    try:
        if fresh_server:
            _say(f"合成住民データを作成しています({residents:,}人)…")
            jsonl = server_dir / "residents.jsonl"
            t0 = time.monotonic()
            _write_residents(jsonl, residents)
            report = server.import_jsonl(jsonl)
            _say(f"  サーバーに取り込みました({time.monotonic() - t0:.1f}秒、{report})")
            operators = {op_id: secrets.token_urlsafe(12) for op_id, _, _ in DEMO_OPERATORS}
            for op_id, name, roles in DEMO_OPERATORS:
                server.add_operator(op_id, name, roles, DEMO_BRANCH, operators[op_id])
            # As `madoguchi-server snapshot` after an import: the terminal's first sync
            # downloads the register instead of building it from the feed.
            t0 = time.monotonic()
            server.build_snapshot()
            _say(f"  初回同期用の登録データの写しを作成しました({time.monotonic() - t0:.1f}秒)")
            from app.fileio import atomic_write_text

            atomic_write_text(operators_file, json.dumps(operators, indent=2))
            os.chmod(operators_file, 0o600)
            (server_dir / "demo-ready").write_text("ok", encoding="ascii")
        operators = json.loads(operators_file.read_text(encoding="utf-8"))

        if not server.has_seal():
            # The demo's 公印, signed by the demo server like a city's real one.
            from printing import demo_seal_png

            server.set_seal(demo_seal_png(), "北見市長", "北見 太郎")
        factory, note = _secret_store_factory(data_dir)
        files = TerminalFiles(data_dir / "terminal")
        if not files.is_enrolled():
            _say("この端末を中央サーバーに登録しています…")
            # The demo's folder is the user's own (not the per-machine folder and its ACL).
            files.data_dir.mkdir(parents=True, exist_ok=True)
            config = enroll(
                files.data_dir, server.base_url, server.ca_cert_path, server.make_token(), factory
            )
            if fresh_server:
                from cli.demo_notifications import seed_pending

                pending = seed_pending(server, config.terminal_no, "clerk01", DEMO_BRANCH)
                _say(f"  審査待ちの住民異動届を{pending}件用意しました(review01 の届出審査)。")
        else:
            # The demo server may listen on another port than last time.
            config = TerminalConfig.load(files)
            if config.server_url != server.base_url:
                from dataclasses import replace

                replace(config, server_url=server.base_url).save(files)
    except BaseException:
        server.stop()
        raise
    from datetime import date

    from app.jukinet import SimulatedJukinet

    return DemoEnvironment(
        data_dir, server, operators, factory, note, jukinet=SimulatedJukinet.demo(date.today())
    )


def print_operators(env: DemoEnvironment) -> None:
    from app.auth.permissions import ROLE_LABELS, Role

    _say("")
    _say("デモ用の職員(ID / パスワード / 役割):")
    for op_id, name, roles in DEMO_OPERATORS:
        labels = "・".join(ROLE_LABELS[Role(r)] for r in roles)
        _say(f"  {op_id:<9} {env.operators[op_id]:<14} {labels}({name})")
    _say("")


def run_headless(env: DemoEnvironment) -> int:
    from app.services.login import LoginService
    from printing import render_certificate

    login = LoginService(
        env.terminal_dir, render_certificate, secret_store_factory=env.secret_store_factory
    )
    t0 = time.monotonic()
    session = login.login("issuer01", env.operators["issuer01"])
    try:
        report = session.sync_once()
        elapsed = time.monotonic() - t0
        if report.error is not None or report.pull is None or not report.pull.complete:
            _say(f"同期に失敗しました: {report.message}")
            return 1
        counts = session.cache.counts()
        _say("同期が完了しました。")
        persons, households = counts.get("persons", 0), counts.get("households", 0)
        _say(f"  キャッシュの住民数: {persons:,}人({households:,}世帯)")
        _say(f"  所要時間: {elapsed:.1f}秒")
        _say(f"  キャッシュ: {session.cache.path}")
        _say(f"  未送信: {report.outbox_count}件")
    finally:
        session.logout()
    return 0


def main(argv: list[str]) -> int:
    parser = JapaneseArgumentParser(
        prog="madoguchi demo",
        description="デモ: 内蔵の中央サーバー(合成住民データ)と仮想の個人番号カードで、"
        "この端末の窓口画面を起動します。",
        epilog="デモ用の職員IDとパスワードは起動時に表示されます。実在の住民の情報は使いません。",
    )
    parser.add_argument(
        "--residents",
        type=int,
        default=DEFAULT_RESIDENTS,
        metavar="N",
        help=f"合成住民の人数(既定: {DEFAULT_RESIDENTS:,})",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, metavar="DIR", help="デモのデータフォルダ"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        metavar="PORT",
        help=f"内蔵サーバーのポート(既定: {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--headless", action="store_true", help="画面を開かず、同期して概要を表示し終了する"
    )
    args = parser.parse_args(argv)
    from cli.gui import default_data_dir

    data_dir: Path = args.data_dir or default_data_dir("demo")
    from cli import logs

    logs.configure(data_dir)

    from app.store.instance_lock import AlreadyRunning, InstanceLock

    _say(f"窓口デモ: データフォルダ {data_dir}")
    try:
        instance = InstanceLock(data_dir).acquire()
    except AlreadyRunning as exc:
        _say(exc.message)
        return 3
    with instance:
        return _run(data_dir, args)


def _run(data_dir: Path, args: argparse.Namespace) -> int:
    from app.domain.errors import DomainError
    from server.embedded import EmbeddedServerError

    try:
        env = prepare(data_dir, args.residents, args.port)
    except EmbeddedServerError as exc:
        _say(exc.message)
        return 2
    except DomainError as exc:
        _say(f"デモを準備できません: {exc.message}")
        return 2
    try:
        if env.keyring_note:
            _say(env.keyring_note)
        _say(f"内蔵の中央サーバー: {env.server.base_url}")  # type: ignore[attr-defined]
        print_operators(env)
        if args.headless:
            return run_headless(env)
        from cli.gui import run_gui

        return run_gui(data_dir=env.terminal_dir, demo=env)
    finally:
        env.server.stop()  # type: ignore[attr-defined]
