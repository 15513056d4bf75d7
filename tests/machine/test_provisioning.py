"""provisioning.json (docs/deployment.md): the format the installer writes and the server makes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.machine import paths
from app.machine.provisioning import (
    Provisioning,
    ProvisioningError,
    find_provisioning,
    normalize_fingerprint,
)
from server import setup_cli
from server.config import load_config
from server.embedded import EmbeddedServer

FP = "07f8584d7f66d1f99ed4b2c6764772c8c9bdb8aa2a98da80cff7c65fc598ee02"


def _doc(**changes: object) -> str:
    data: dict[str, object] = {
        "format": 1,
        "server_url": "https://madoguchi.example.lg.jp:8443",
        "ca_fingerprint_sha256": FP,
        "municipality_code": "012084",
    }
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not None})


def test_a_valid_file() -> None:
    p = Provisioning.parse(_doc(_comment="北見市 本庁舎"))
    assert p.server_url == "https://madoguchi.example.lg.jp:8443"
    assert p.ca_fingerprint_sha256 == FP and p.municipality_code == "012084"
    assert p.data_users_sid == "AU"


def test_fingerprint_as_windows_shows_it() -> None:
    grouped = ":".join(FP[i : i + 2] for i in range(0, 64, 2)).upper()
    assert normalize_fingerprint(grouped) == FP
    assert normalize_fingerprint(" " + FP.upper() + "\n") == FP


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"server_url": "http://plain:8443"}, "https://"),
        ({"server_url": "https://host:8443/v1"}, "https://"),
        ({"ca_fingerprint_sha256": FP[:-1]}, "64桁"),
        ({"municipality_code": "012085"}, "地方公共団体コード"),
        ({"format": 2}, "format"),
        ({"sever_url": "typo"}, "sever_url"),
        ({"data_users_sid": "Everyone"}, "data_users_sid"),
    ],
)
def test_mistakes_are_named(changes: dict[str, object], words: str) -> None:
    with pytest.raises(ProvisioningError, match=words):
        Provisioning.parse(_doc(**changes))


def test_found_beside_the_data_folder_with_a_bom(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(paths.PROVISIONING_ENV, raising=False)
    data_dir = tmp_path / "Madoguchi" / "terminal"
    (tmp_path / "Madoguchi").mkdir()
    (tmp_path / "Madoguchi" / "provisioning.json").write_text("\ufeff" + _doc(), encoding="utf-8")
    found = find_provisioning(data_dir)
    assert found is not None and found.source == tmp_path / "Madoguchi" / "provisioning.json"
    other = tmp_path / "elsewhere.json"
    other.write_text("{not json", encoding="utf-8")
    monkeypatch.setenv(paths.PROVISIONING_ENV, str(other))
    with pytest.raises(ProvisioningError, match="JSON"):
        find_provisioning(data_dir)


def test_server_writes_a_file_the_client_reads(tmp_path: Path) -> None:
    from server.cli import main as server_cli

    EmbeddedServer(tmp_path / "server").close()
    out = tmp_path / "provisioning.json"
    argv = ["--data-dir", str(tmp_path / "server"), "provisioning"]
    assert server_cli([*argv, "--server-url", "https://10.0.0.5:8443/", "--out", str(out)]) == 0
    p = Provisioning.parse(out.read_text(encoding="utf-8"))
    cfg = load_config(data_dir=tmp_path / "server")
    assert p.server_url == "https://10.0.0.5:8443"
    assert p.ca_fingerprint_sha256 == setup_cli.ca_fingerprint(cfg)
    assert p.municipality_code == cfg.municipality_code
    assert server_cli([*argv, "--server-url", "http://10.0.0.5:8443"]) == 1  # https only
