"""provisioning.json: what the city's IT writes once into the installer (docs/deployment.md).

    {
      "format": 1,
      "server_url": "https://madoguchi.example.lg.jp:8443",
      "ca_fingerprint_sha256": "07f8…(64 hex digits; colons and capitals accepted)",
      "municipality_code": "012084",
      "data_users_sid": "AU"            (optional, Windows: who may use the data folder)
    }

`madoguchi-server provisioning --server-url URL` writes it from the server's own CA and
configuration. The first-run wizard and `madoguchi enroll` take their defaults from it, so the
administrator only types the one-time token. Keys starting with "_" are comments.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from app.domain.errors import DomainError
from app.domain.identifiers import is_valid_local_government_code
from app.machine.api import DEFAULT_USERS_SID, valid_users_sid
from app.machine.paths import provisioning_candidates

FORMAT = 1
_KEYS = {"format", "server_url", "ca_fingerprint_sha256", "municipality_code", "data_users_sid"}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ProvisioningError(DomainError):
    pass


def normalize_fingerprint(text: str) -> str:
    """ "07:F8:58…" or "07f858…" → 64 lowercase hex digits; ProvisioningError otherwise."""
    value = re.sub(r"[\s:]", "", text or "").lower()
    if not _HEX64.fullmatch(value):
        raise ProvisioningError(
            "認証局の指紋(SHA-256)は16進数64桁です(コロン区切り可)。"
            "サーバーで `madoguchi-server ca fingerprint` を実行して確認してください。"
        )
    return value


def normalize_server_url(text: str) -> str:
    """An https:// URL without a path; ProvisioningError otherwise."""
    value = (text or "").strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.path or parts.query:
        raise ProvisioningError(
            "サーバーのURLは https://名前:ポート の形で入力してください"
            "(例: https://madoguchi.example.lg.jp:8443)。"
        )
    return value


@dataclass(frozen=True, slots=True)
class Provisioning:
    server_url: str
    ca_fingerprint_sha256: str
    municipality_code: str | None = None
    data_users_sid: str = DEFAULT_USERS_SID
    source: Path | None = None

    @classmethod
    def parse(cls, text: str, source: Path | None = None) -> Provisioning:
        where = f"({source})" if source else ""
        try:
            data = json.loads(text)
        except ValueError:
            raise ProvisioningError(
                f"プロビジョニングファイル{where}がJSONとして読めません。"
            ) from None
        if not isinstance(data, dict):
            raise ProvisioningError(f"プロビジョニングファイル{where}の形式が違います。")
        unknown = sorted(k for k in data if k not in _KEYS and not str(k).startswith("_"))
        if unknown:
            raise ProvisioningError(
                f"プロビジョニングファイル{where}に不明な項目があります: {', '.join(unknown)}"
            )
        if data.get("format", FORMAT) != FORMAT:
            raise ProvisioningError(
                f"プロビジョニングファイル{where}の形式(format)がこのプログラムと合いません。"
            )
        code = data.get("municipality_code")
        if code is not None and not is_valid_local_government_code(code):
            raise ProvisioningError(
                f"プロビジョニングファイル{where}の地方公共団体コードが正しくありません"
                "(6桁、検査数字付き)。"
            )
        sid = data.get("data_users_sid", DEFAULT_USERS_SID)
        if not isinstance(sid, str) or not valid_users_sid(sid):
            raise ProvisioningError(
                f"プロビジョニングファイル{where}の data_users_sid はSID(S-1-…)で書いてください。"
            )
        try:
            return cls(
                server_url=normalize_server_url(str(data.get("server_url", ""))),
                ca_fingerprint_sha256=normalize_fingerprint(
                    str(data.get("ca_fingerprint_sha256", ""))
                ),
                municipality_code=code,
                data_users_sid=sid,
                source=source,
            )
        except ProvisioningError as exc:
            raise ProvisioningError(f"プロビジョニングファイル{where}: {exc.message}") from None


def find_provisioning(data_dir: Path) -> Provisioning | None:
    """The first provisioning.json found (app.machine.paths.provisioning_candidates), or None.
    A file that exists but is wrong raises ProvisioningError: it must be fixed, not ignored."""
    for path in provisioning_candidates(data_dir):
        try:
            text = path.read_text(encoding="utf-8-sig")  # Notepad may add a BOM
        except FileNotFoundError:
            continue
        except OSError:
            raise ProvisioningError(f"プロビジョニングファイル({path})を読めません。") from None
        return Provisioning.parse(text, path)
    return None
