"""Enrolling this PC with the city's server (DESIGN.md §11 `madoguchi enroll`, the first-run
wizard): the CA is fetched and its fingerprint checked before anything is trusted or sent.

1. `check_server(url, fingerprint)`: GET /v1/ca over TLS that trusts nothing yet; the answer is
   accepted only if its SHA-256 fingerprint is the administrator's (provisioning.json or
   --ca-fingerprint) and it is a CA. Then GET /v1/info over TLS pinned to that CA (the server's
   certificate must verify against it, name included): the municipality, shown to the
   administrator and compared with provisioning.json's. No token, no key, no DEK has left the
   PC at this point.
2. `enroll_checked(data_dir, checked, token)`: the one-time token, the CSR and the escrowed DEK
   go over the pinned connection (app.services.terminal.enroll).

Every failure is an EnrollmentError with a `kind` (for the CLI's exit code) and a Japanese
message for the administrator.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from app.domain.errors import DomainError
from app.machine.provisioning import (
    ProvisioningError,
    normalize_fingerprint,
    normalize_server_url,
)
from app.services.terminal import (
    AlreadyEnrolled,
    SecretStoreFactory,
    TerminalConfig,
    TerminalFiles,
    enrolled_terminal_no,
)
from app.sync.protocol import ServerInfo

if TYPE_CHECKING:
    from app.machine.api import MachineApi


class Failure(StrEnum):
    INPUT = "input"
    ALREADY_ENROLLED = "already_enrolled"
    UNREACHABLE = "unreachable"
    FINGERPRINT = "fingerprint"
    MUNICIPALITY = "municipality"
    TOKEN = "token"
    TOO_OLD = "too_old"
    REFUSED = "refused"


class EnrollmentError(DomainError):
    def __init__(self, kind: Failure, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class CheckedServer:
    """A server whose CA matched the fingerprint and whose certificate verified against it."""

    server_url: str
    ca_fingerprint: str
    ca_pem: bytes
    info: ServerInfo


def fingerprint_of(pem: bytes) -> str:
    """SHA-256 over the certificate's DER; EnrollmentError unless `pem` is exactly one CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError:
        certs = []
    if len(certs) != 1:
        raise EnrollmentError(
            Failure.FINGERPRINT,
            "サーバーが返した認証局証明書を読めません。接続先が窓口の中央サーバーか確認してください。",
        )
    return hashlib.sha256(certs[0].public_bytes(Encoding.DER)).hexdigest()


def _is_ca(pem: bytes) -> bool:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem)
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def already_enrolled(data_dir: Path) -> None:
    files = TerminalFiles(Path(data_dir))
    if files.is_enrolled():
        error = AlreadyEnrolled(enrolled_terminal_no(files))
        raise EnrollmentError(Failure.ALREADY_ENROLLED, error.message)


def _unreachable(url: str) -> EnrollmentError:
    return EnrollmentError(
        Failure.UNREACHABLE,
        f"サーバー {url} に接続できません。URL(ホスト名・ポート)、ネットワーク、"
        "サーバーが起動しているかを確認してください。",
    )


def check_server(
    server_url: str, ca_fingerprint: str, *, expected_municipality: str | None = None
) -> CheckedServer:
    """Step 1: fetch and pin the CA, then read the server's information over pinned TLS."""
    from app.sync.client import SyncClient, fetch_ca_pem
    from app.sync.errors import ClientTooOld, ServerRejected, ServerUnreachable, SyncError

    try:
        url = normalize_server_url(server_url)
        pin = normalize_fingerprint(ca_fingerprint)
    except ProvisioningError as exc:
        raise EnrollmentError(Failure.INPUT, exc.message) from None
    try:
        pem = fetch_ca_pem(url)
    except ClientTooOld as exc:
        raise EnrollmentError(Failure.TOO_OLD, exc.message) from None
    except ServerUnreachable:
        raise _unreachable(url) from None
    except SyncError as exc:
        raise EnrollmentError(
            Failure.UNREACHABLE,
            f"{url} は窓口の中央サーバーとして応答しません({exc.message})。URLを確認してください。",
        ) from None
    got = fingerprint_of(pem)
    if not hmac.compare_digest(got, pin) or not _is_ca(pem):
        raise EnrollmentError(
            Failure.FINGERPRINT,
            "サーバーの認証局の指紋が、指定された指紋と一致しません。接続先が正しいか、"
            "指紋(madoguchi-server ca fingerprint の表示)を確認してください。"
            "安全のため、登録用トークンなどは何も送っていません。",
        )
    with tempfile.TemporaryDirectory(prefix="madoguchi-ca-") as tmp:
        ca_path = Path(tmp) / "ca.pem"
        ca_path.write_bytes(pem)
        try:
            with SyncClient(url, ca_path) as client:
                info = client.server_info()
        except ClientTooOld as exc:
            raise EnrollmentError(Failure.TOO_OLD, exc.message) from None
        except ServerUnreachable:
            raise EnrollmentError(
                Failure.UNREACHABLE,
                "認証局の指紋は一致しましたが、サーバー証明書を確認できません。URLのホスト名が"
                "サーバー証明書に含まれているか確認してください(madoguchi-server init の "
                "--hostname)。",
            ) from None
        except (ServerRejected, SyncError) as exc:
            raise EnrollmentError(Failure.REFUSED, exc.message) from None
    if expected_municipality and info.municipality_code != expected_municipality:
        raise EnrollmentError(
            Failure.MUNICIPALITY,
            f"このサーバーは {info.municipality_name}(団体コード {info.municipality_code})の"
            "ものです。プロビジョニングファイルの団体コード "
            f"{expected_municipality} と一致しません。登録は行っていません。",
        )
    return CheckedServer(url, pin, pem, info)


def enroll_checked(
    data_dir: Path,
    checked: CheckedServer,
    token: str,
    secret_store_factory: SecretStoreFactory | None = None,
    *,
    users_sid: str = "AU",
    machine_api: MachineApi | None = None,
) -> TerminalConfig:
    """Step 2: send the token, the CSR and the escrowed DEK over the pinned connection."""
    from app.machine.api import MachineApiError
    from app.machine.setup import secret_store_for
    from app.services.terminal import TerminalError, enroll
    from app.sync.errors import ClientTooOld, ServerRejected, ServerUnreachable, SyncError

    data_dir = Path(data_dir)
    token = token.strip()
    if not token:
        raise EnrollmentError(Failure.INPUT, "登録用トークンを入力してください。")
    already_enrolled(data_dir)
    factory = secret_store_factory or secret_store_for(data_dir, api=machine_api)
    # The pinned CA must be on disk for the TLS context; a temporary file beside the data
    # folder (store_enrollment writes ca.pem itself from the server's answer, checked again).
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="madoguchi-ca-", suffix=".pem", dir=data_dir.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(checked.ca_pem)
        return enroll(
            data_dir,
            checked.server_url,
            Path(tmp),
            token,
            factory,
            ca_fingerprint=checked.ca_fingerprint,
            users_sid=users_sid,
            machine_api=machine_api,
        )
    except ClientTooOld as exc:
        raise EnrollmentError(Failure.TOO_OLD, exc.message) from None
    except ServerRejected as exc:
        if exc.code == "token_invalid":
            raise EnrollmentError(
                Failure.TOKEN,
                "登録用トークンが無効です(使用済み・期限切れ・入力の誤り)。管理者がサーバーで "
                "madoguchi-server terminal token を実行し、新しいトークンを発行してください。",
            ) from None
        raise EnrollmentError(Failure.REFUSED, exc.message) from None
    except ServerUnreachable:
        raise _unreachable(checked.server_url) from None
    except AlreadyEnrolled as exc:
        raise EnrollmentError(Failure.ALREADY_ENROLLED, exc.message) from None
    except (SyncError, TerminalError) as exc:
        raise EnrollmentError(Failure.REFUSED, exc.message) from None
    except MachineApiError as exc:
        raise EnrollmentError(
            Failure.REFUSED,
            f"端末のデータフォルダ({data_dir})のアクセス権を設定できません(Windowsのエラー "
            f"{exc.winerror})。管理者としてサインインし、もう一度登録してください。",
        ) from None
    except OSError as exc:
        raise EnrollmentError(
            Failure.REFUSED,
            f"端末のデータフォルダ({data_dir})に書き込めません({type(exc).__name__})。"
            "空き容量と権限を確認してください。",
        ) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
