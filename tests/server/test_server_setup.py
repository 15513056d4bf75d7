"""Setting terminals up against the real server on loopback: GET /v1/ca, /v1/info, the signed
公印 (GET /v1/seal, `madoguchi-server seal`), and the version handshake (426 client_too_old)."""

from __future__ import annotations

import base64
import json
import ssl
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from app.services.enrollment import fingerprint_of
from app.services.seal import SealError, verify_bundle
from app.sync.client import SyncClient, fetch_ca_pem
from app.sync.errors import ClientTooOld, ServerRejected
from app.sync.protocol import (
    CLIENT_VERSION_HEADER,
    MIN_CLIENT_VERSION_HEADER,
    ErrorBody,
    SealBundle,
)
from printing import demo_seal_png
from server import setup_cli
from server.app import create_app
from server.cli import main as server_cli
from server.config import load_config
from tests.support.server import ServerEnv, sync_server, sync_server_template  # noqa: F401

SEAL = demo_seal_png()


def test_ca_is_served_without_a_certificate_and_is_the_pinned_one(
    sync_server: ServerEnv,  # noqa: F811
) -> None:
    pem = fetch_ca_pem(sync_server.server.base_url)
    assert fingerprint_of(pem) == setup_cli.ca_fingerprint(sync_server.server.config)
    assert pem == Path(sync_server.terminal.ca_path).read_bytes()


def test_info_names_the_municipality(sync_server: ServerEnv) -> None:  # noqa: F811
    info = sync_server.client.server_info()
    assert info.municipality_code == sync_server.server.config.municipality_code
    assert info.protocol_version == 1 and info.min_client_version is None


def test_seal_set_fetched_cached_by_version_and_verified(
    sync_server: ServerEnv,  # noqa: F811
) -> None:
    server, client = sync_server.server, sync_server.client
    with pytest.raises(ServerRejected) as none_yet:
        client.seal()
    assert none_yet.value.status == 404 and none_yet.value.code == "no_seal"

    server.set_seal(SEAL, "北見市長", "北見 太郎")
    bundle = client.seal()
    assert bundle is not None and bundle.version == 1
    ca_pem = Path(sync_server.terminal.ca_path).read_bytes()
    code = server.config.municipality_code
    seal = verify_bundle(bundle, ca_pem, code)
    assert seal.image_png == SEAL and seal.mayor_name == "北見 太郎"
    assert client.seal(known_version=1) is None  # 304: the terminal has it

    server.set_seal(SEAL, "北見市長", "次の 市長")
    newer = client.seal(known_version=1)
    assert newer is not None and newer.version == 2
    assert verify_bundle(newer, ca_pem, code).mayor_name == "次の 市長"

    # A terminal without a certificate gets nothing.
    anonymous = SyncClient(server.base_url, sync_server.terminal.ca_path)
    with pytest.raises(ServerRejected) as refused:
        anonymous.seal()
    anonymous.close()
    assert refused.value.status == 401


@pytest.mark.parametrize(
    "tamper",
    [
        {"mayor_name": "偽の 市長"},
        {"version": 6},
        {"image_png_b64": base64.b64encode(demo_seal_png()[:-8] + b"\0" * 8).decode()},
        {"municipality_code": "999999"},
    ],
    ids=["name", "version", "image", "municipality"],
)
def test_a_tampered_seal_is_refused(
    sync_server: ServerEnv,  # noqa: F811
    tamper: dict[str, object],
) -> None:
    sync_server.server.set_seal(SEAL, "北見市長", "北見 太郎")
    good = sync_server.client.seal()
    assert good is not None
    changed = SealBundle.model_validate({**good.model_dump(), **tamper})
    with pytest.raises(SealError):
        verify_bundle(
            changed,
            Path(sync_server.terminal.ca_path).read_bytes(),
            sync_server.server.config.municipality_code,
        )


def test_a_seal_signed_by_another_ca_is_refused(sync_server: ServerEnv, tmp_path: Path) -> None:  # noqa: F811
    from server.embedded import EmbeddedServer

    other = EmbeddedServer(tmp_path / "other")
    try:
        forged = other.set_seal(SEAL, "北見市長", "北見 太郎")
    finally:
        other.close()
    with pytest.raises(SealError, match="署名"):
        verify_bundle(
            forged,
            Path(sync_server.terminal.ca_path).read_bytes(),
            sync_server.server.config.municipality_code,
        )


def test_seal_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "server")
    assert server_cli(["--data-dir", data, "init"]) == 0
    image = tmp_path / "seal.png"
    image.write_bytes(SEAL)
    argv = ["--data-dir", data, "seal", "set", "--image", str(image)]
    assert server_cli([*argv, "--title", "北見市長", "--name", "北見 太郎"]) == 0
    assert "版 1" in capsys.readouterr().out
    assert server_cli(["--data-dir", data, "seal", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == 1 and shown["mayor_title"] == "北見市長"
    text = tmp_path / "seal.txt"
    text.write_text("not an image", encoding="utf-8")
    bad = ["--data-dir", data, "seal", "set", "--image", str(text), "--title", "a", "--name", "b"]
    assert server_cli(bad) == 1
    assert "PNG" in capsys.readouterr().err
    assert server_cli([*argv, "--title", "北見市長", "--name", ""]) == 1
    assert "氏名" in capsys.readouterr().err


# --- the version handshake ------------------------------------------------------------------


def _restart_with_minimum(env: ServerEnv, minimum: str | None) -> None:
    server = env.server
    server.stop()
    server.config = replace(server.config, min_client_version=minimum)
    server.start()


def test_too_old_client_is_told_to_update(sync_server: ServerEnv) -> None:  # noqa: F811
    _restart_with_minimum(sync_server, "99.0.0")
    client = sync_server.new_client(login=False)
    with pytest.raises(ClientTooOld) as refused:
        client.login(sync_server.operator_id, sync_server.password)
    message = refused.value.message
    assert "古いため使用できません" in message and "管理者に更新を依頼" in message
    assert "99.0.0" in message and "0.1.0" in message
    # What any client gets, whatever it is: 426, the code, the minimum in a header.
    with httpx.Client(
        verify=ssl.create_default_context(cafile=sync_server.terminal.ca_path)
    ) as raw:
        answer = raw.get(sync_server.server.base_url + "/v1/info")
    assert answer.status_code == 426
    assert ErrorBody.model_validate_json(answer.content).code == "client_too_old"
    assert answer.headers[MIN_CLIENT_VERSION_HEADER] == "99.0.0"
    with pytest.raises(ClientTooOld):
        fetch_ca_pem(sync_server.server.base_url)


def test_current_client_is_served_and_sees_the_minimum(sync_server: ServerEnv) -> None:  # noqa: F811
    _restart_with_minimum(sync_server, "0.1.0")
    client = sync_server.new_client(login=True)
    assert client.server_info().min_client_version == "0.1.0"
    with httpx.Client(
        verify=ssl.create_default_context(cafile=sync_server.terminal.ca_path)
    ) as raw:
        answer = raw.get(
            sync_server.server.base_url + "/v1/info", headers={CLIENT_VERSION_HEADER: "0.1.0"}
        )
        older = raw.get(
            sync_server.server.base_url + "/v1/info", headers={CLIENT_VERSION_HEADER: "0.0.9"}
        )
    assert answer.status_code == 200 and answer.headers[MIN_CLIENT_VERSION_HEADER] == "0.1.0"
    assert older.status_code == 426


def test_a_minimum_that_is_no_version_stops_the_start(tmp_path: Path) -> None:
    config = load_config(data_dir=tmp_path, env={}, min_client_version="latest")
    with pytest.raises(ValueError, match="min_client_version"):
        create_app(config)
