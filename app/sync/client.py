"""The client side of sync protocol v1: the one place where the client talks HTTP (httpx).

mTLS: the municipality's CA is pinned (the only trust anchor); after enrollment the terminal
presents its certificate on every call. Errors come out typed (app.sync.errors): the engine
retries ServerUnreachable / ServerFailed / MalformedAnswer with backoff and never retries
ServerRejected as is.

Also here: the terminal key and CSR, and writing them to files (key encrypted with a password
the caller supplies).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import queue
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from app import __version__ as CLIENT_VERSION
from app.fileio import atomic_write
from app.sync.errors import (
    ClientTooOld,
    MalformedAnswer,
    ServerFailed,
    ServerRejected,
    ServerUnreachable,
)
from app.sync.files import CA_FILE, TERMINAL_CERT_FILE, TERMINAL_KEY_FILE
from app.sync.notification_protocol import (
    ConfirmRequest,
    NotificationDecision,
    NotificationDetail,
    NotificationList,
    ReturnRequest,
)
from app.sync.protocol import (
    API_PREFIX,
    CLIENT_TOO_OLD_CODE,
    CLIENT_TOO_OLD_STATUS,
    CLIENT_VERSION_HEADER,
    DEFAULT_PAGE_LIMIT,
    MIN_CLIENT_VERSION_HEADER,
    PROTOCOL_VERSION,
    PROTOCOL_VERSION_HEADER,
    SESSION_HEADER,
    AuditHead,
    AuditHeadAnswer,
    BucketRecords,
    CertificateInfo,
    ChangePasswordRequest,
    ChangesPage,
    Digest,
    EnrollRequest,
    EnrollResponse,
    ErrorBody,
    Event,
    EventsBatch,
    EventsResponse,
    SealBundle,
    ServerInfo,
    SessionRequest,
    SessionResponse,
    SnapshotInfo,
    parse_changes_page,
)

M = TypeVar("M", bound=BaseModel)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# The server copies the register under this terminal's key before it answers: about 30 s per
# million persons on the build machine.
SNAPSHOT_PREPARE_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
DOWNLOAD_CHUNK = 1024 * 1024
# On every request (the version handshake, docs/server.md "Client versions").
VERSION_HEADERS = {
    CLIENT_VERSION_HEADER: CLIENT_VERSION,
    PROTOCOL_VERSION_HEADER: str(PROTOCOL_VERSION),
    "User-Agent": f"madoguchi-client/{CLIENT_VERSION}",
}


def _ssl_context(
    ca_cert_path: Path | str,
    client_cert_path: Path | str | None,
    client_key_path: Path | str | None,
    key_password: bytes | None,
) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca_cert_path))  # pinned: our CA only
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if client_cert_path is not None:
        ctx.load_cert_chain(
            str(client_cert_path),
            str(client_key_path) if client_key_path else None,
            password=key_password,
        )
    return ctx


class _SnapshotWriter:
    """Hashes and writes a download in a thread of its own, and syncs it every SYNC_EVERY
    bytes. Receiving (TLS) and hashing and writing then run at once (each releases the GIL),
    and the disk is written while the rest arrives, not all in a final fsync: at a million
    persons (2.7 GiB) 18.8–21.1 s against 25.4 s in one thread. It also bounds the memory the
    OS holds as unwritten pages.
    """

    SYNC_EVERY = 128 * 1024 * 1024
    QUEUED_CHUNKS = 8

    def __init__(self, target: Path, offset: int, digest: Any) -> None:
        self._out = open(target, "r+b" if offset else "wb")  # noqa: SIM115 - closed in close()
        self._out.truncate(offset)
        self._out.seek(offset)
        self._digest = digest
        self._queue: queue.Queue[bytes | None] = queue.Queue(self.QUEUED_CHUNKS)
        self.error: OSError | None = None
        self._thread = threading.Thread(
            target=self._run, name="madoguchi-snapshot-writer", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        unsynced = 0
        while (chunk := self._queue.get()) is not None:
            if self.error is not None:
                continue  # drain until close()
            try:
                self._out.write(chunk)
                self._digest.update(chunk)
                unsynced += len(chunk)
                if unsynced >= self.SYNC_EVERY:
                    self._out.flush()
                    os.fsync(self._out.fileno())
                    unsynced = 0
            except OSError as exc:
                self.error = exc

    def put(self, chunk: bytes) -> bool:
        """Queue a chunk; False once the disk has refused one (close() raises it)."""
        if self.error is not None:
            return False
        self._queue.put(chunk)
        return True

    def close(self) -> None:
        """Write what is queued, sync, close; raises the disk's error if there was one."""
        self._queue.put(None)
        self._thread.join()
        try:
            if self.error is None:
                self._out.flush()
                os.fsync(self._out.fileno())
        except OSError as exc:
            self.error = exc
        finally:
            self._out.close()
        if self.error is not None:
            raise self.error


class SyncClient:
    def __init__(
        self,
        base_url: str,
        ca_cert_path: Path | str,
        client_cert_path: Path | str | None = None,
        client_key_path: Path | str | None = None,
        key_password: bytes | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        try:
            ctx = _ssl_context(ca_cert_path, client_cert_path, client_key_path, key_password)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ServerUnreachable(
                "端末証明書または認証局証明書を読み込めません。端末の登録を確認してください。",
                detail=type(exc).__name__,
            ) from None
        self._http = httpx.Client(
            base_url=self.base_url + API_PREFIX,
            verify=ctx,
            timeout=timeout,
            headers={"Accept-Encoding": "gzip", **VERSION_HEADERS},
            transport=transport,  # tests only; None means real HTTPS
        )
        self.session_token: str | None = None
        self.download_chunk = DOWNLOAD_CHUNK  # bytes between progress reports (tests: fewer)
        # The server refuses an expired certificate in the TLS handshake, which looks like a
        # network failure from here; knowing the date locally turns it into a clear refusal.
        self.certificate_not_after: datetime | None = None
        if client_cert_path is not None:
            try:
                cert = x509.load_pem_x509_certificate(Path(client_cert_path).read_bytes())
                self.certificate_not_after = cert.not_valid_after_utc
            except (OSError, ValueError):
                pass  # load_cert_chain above accepted it; the server will judge

    # --- plumbing --------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    def _headers(self, session: bool, extra: dict[str, str] | None) -> dict[str, str]:
        if self.certificate_not_after is not None and (
            datetime.now(UTC) > self.certificate_not_after
        ):
            raise ServerRejected(
                403,
                "client_cert_expired",
                "端末証明書の有効期限が切れています。管理者に依頼して端末を登録し直してください。",
            )
        headers = dict(extra or {})
        if session and self.session_token:
            headers[SESSION_HEADER] = self.session_token
        return headers

    @staticmethod
    @contextlib.contextmanager
    def _network_errors() -> Iterator[None]:
        """httpx's errors as ours: the engine retries these with backoff."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise ServerUnreachable(
                "サーバーの応答がありません(タイムアウト)。", detail=type(exc).__name__
            ) from None
        except httpx.DecodingError as exc:
            raise MalformedAnswer(detail=type(exc).__name__) from None
        except (httpx.TransportError, ssl.SSLError, OSError) as exc:
            raise ServerUnreachable(detail=type(exc).__name__) from None

    def _request(
        self, method: str, path: str, *, session: bool = True, **kwargs: Any
    ) -> httpx.Response:
        headers = self._headers(session, kwargs.pop("headers", None))
        with self._network_errors():
            response = self._http.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            self._raise_for(response)
        return response

    @staticmethod
    def _raise_for(response: httpx.Response) -> None:
        status = response.status_code
        code, message = f"http_{status}", ""
        try:
            body = ErrorBody.model_validate_json(response.content)
            code, message = body.code, body.message
        except (PydanticValidationError, ValueError):
            pass
        if status == CLIENT_TOO_OLD_STATUS or code == CLIENT_TOO_OLD_CODE:
            raise ClientTooOld(response.headers.get(MIN_CLIENT_VERSION_HEADER), CLIENT_VERSION)
        if status >= 500:
            raise ServerFailed(status, code, message or ServerFailed.DEFAULT)
        raise ServerRejected(status, code, message or f"サーバーが要求を拒否しました({status})。")

    @staticmethod
    def _parse(model: type[M], response: httpx.Response) -> M:
        try:
            return model.model_validate_json(response.content)
        except (PydanticValidationError, ValueError) as exc:
            raise MalformedAnswer(detail=type(exc).__name__) from None
        except httpx.HTTPError as exc:  # body decoding failed while reading
            raise MalformedAnswer(detail=type(exc).__name__) from None

    # --- protocol v1 -----------------------------------------------------------------------

    def enroll(self, token: str, csr_pem: str, dek: bytes, hostname: str = "") -> EnrollResponse:
        body = EnrollRequest(
            token=token,
            csr_pem=csr_pem,
            escrowed_dek_b64=base64.b64encode(dek).decode(),
            hostname=hostname,
        )
        response = self._request(
            "POST", "/enroll", session=False, json=body.model_dump(mode="json")
        )
        return self._parse(EnrollResponse, response)

    def login(self, operator_id: str, password: str) -> SessionResponse:
        body = SessionRequest(operator_id=operator_id, password=password)
        response = self._request(
            "POST", "/sessions", session=False, json=body.model_dump(mode="json")
        )
        answer = self._parse(SessionResponse, response)
        self.session_token = answer.session_token
        return answer

    def change_password(self, old_password: str, new_password: str) -> SessionResponse:
        """POST /v1/password: the session's operator replaces their password (also the way out
        of `must_change_password`); the answer is a new session, which this client keeps."""
        body = ChangePasswordRequest(old_password=old_password, new_password=new_password)
        response = self._request("POST", "/password", json=body.model_dump(mode="json"))
        answer = self._parse(SessionResponse, response)
        self.session_token = answer.session_token
        return answer

    def logout(self) -> None:
        self.session_token = None

    def changes(self, after: int = 0, limit: int = DEFAULT_PAGE_LIMIT) -> ChangesPage:
        response = self._request("GET", "/changes", params={"after": after, "limit": limit})
        try:
            return parse_changes_page(response.content)
        except (PydanticValidationError, ValueError) as exc:
            raise MalformedAnswer(detail=type(exc).__name__) from None
        except httpx.HTTPError as exc:  # body decoding failed while reading
            raise MalformedAnswer(detail=type(exc).__name__) from None

    def changes_raw(self, after: int = 0, limit: int = DEFAULT_PAGE_LIMIT) -> dict[str, Any]:
        """The page as plain JSON (no model validation): for benchmarks of the raw fetch."""
        response = self._request("GET", "/changes", params={"after": after, "limit": limit})
        try:
            page: dict[str, Any] = json.loads(response.content)
            return page
        except ValueError as exc:
            raise MalformedAnswer(detail=type(exc).__name__) from None

    def push_events(self, events: Sequence[Event]) -> EventsResponse:
        batch = EventsBatch(events=list(events))
        response = self._request("POST", "/events", json=batch.model_dump(mode="json"))
        return self._parse(EventsResponse, response)

    def digest(self) -> Digest:
        return self._parse(Digest, self._request("GET", "/digest"))

    def records(self, bucket: int) -> BucketRecords:
        return self._parse(
            BucketRecords, self._request("GET", "/records", params={"bucket": bucket})
        )

    # --- the initial sync's snapshot (docs/sync.md "Snapshot") ----------------------------

    def prepare_snapshot(self) -> SnapshotInfo | None:
        """The register copied for this terminal, or None when the server has none ready."""
        try:
            response = self._request("POST", "/snapshot", timeout=SNAPSHOT_PREPARE_TIMEOUT)
        except ServerRejected as exc:
            if exc.status == 404 and exc.code == "no_snapshot":
                return None
            raise
        return self._parse(SnapshotInfo, response)

    def download_snapshot(
        self,
        info: SnapshotInfo,
        path: Path | str,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> bool:
        """Download the snapshot into `path`, resuming what an earlier call left there.

        True: `path` holds exactly `info.size` bytes with `info.sha256`, synced to disk.
        False: `cancelled()` (asked between chunks) stopped it; the bytes stay for next time.
        Bytes that do not match (a different copy, damage) are deleted and MalformedAnswer
        raised: the next call starts again from the first byte. A cut connection raises
        ServerUnreachable and keeps what arrived.
        """
        target = Path(path)
        digest = hashlib.sha256()
        have = target.stat().st_size if target.exists() else 0
        if have > info.size:
            target.unlink()
            have = 0
        if have:
            with target.open("rb") as fh:
                while chunk := fh.read(DOWNLOAD_CHUNK):
                    digest.update(chunk)
        if have < info.size:
            have, digest = self._fetch_snapshot(info, target, have, digest, progress, cancelled)
            if have < info.size:
                return False
        if have != info.size or digest.hexdigest() != info.sha256:
            target.unlink(missing_ok=True)
            raise MalformedAnswer(
                "受信した登録データの写しが壊れています。もう一度受信します。",
                detail="snapshot digest",
            )
        return True

    def _fetch_snapshot(
        self,
        info: SnapshotInfo,
        target: Path,
        have: int,
        digest: Any,
        progress: Callable[[int, int], None] | None,
        cancelled: Callable[[], bool] | None,
    ) -> tuple[int, Any]:
        extra = {"Accept-Encoding": "identity"}
        if have:
            extra["Range"] = f"bytes={have}-"
        headers = self._headers(True, extra)
        writer: _SnapshotWriter | None = None
        try:
            with (
                self._network_errors(),
                self._http.stream(
                    "GET", f"/snapshot/{info.snapshot_id}/file", headers=headers
                ) as response,
            ):
                if response.status_code >= 400:
                    response.read()
                    self._raise_for(response)
                if have and response.status_code != 206:
                    have, digest = 0, hashlib.sha256()  # the whole file came: start again
                writer = _SnapshotWriter(target, have, digest)
                for chunk in response.iter_raw(self.download_chunk):
                    if have + len(chunk) > info.size:
                        raise MalformedAnswer(detail="snapshot longer than announced")
                    if not writer.put(chunk):
                        break  # the disk refused: raised below, as it is
                    have += len(chunk)
                    if progress is not None:
                        progress(have, info.size)
                    if cancelled is not None and cancelled():
                        break
        finally:
            if writer is not None:
                writer.close()  # what arrived is on disk, for the next call to resume
        return have, digest

    def discard_snapshot(self, snapshot_id: str) -> None:
        """Tell the server this terminal has taken its copy (the server deletes it)."""
        self._request("DELETE", f"/snapshot/{snapshot_id}")

    def send_audit_head(self, head: AuditHead) -> AuditHeadAnswer:
        """POST /v1/audit/head: where this terminal's audit chain ends (signed)."""
        response = self._request("POST", "/audit/head", json=head.model_dump(mode="json"))
        return self._parse(AuditHeadAnswer, response)

    def certificate(self, issuance_no: str) -> CertificateInfo:
        path = "/certificates/" + quote(issuance_no, safe="")
        return self._parse(CertificateInfo, self._request("GET", path))

    # --- 住民異動届: the head office's 審査 (role review; app/sync/notification_protocol.py) ---

    def notifications(self, *, decided: bool = False) -> NotificationList:
        params = {"decided": "true"} if decided else None
        return self._parse(NotificationList, self._request("GET", "/notifications", params=params))

    def notification(self, notification_id: str) -> NotificationDetail:
        path = "/notifications/" + quote(notification_id, safe="")
        return self._parse(NotificationDetail, self._request("GET", path))

    def confirm_notification(
        self, notification_id: str, relied_versions: dict[str, int] | None = None
    ) -> NotificationDecision:
        body = ConfirmRequest(relied_versions=relied_versions or {})
        path = "/notifications/" + quote(notification_id, safe="") + "/confirm"
        response = self._request("POST", path, json=body.model_dump(mode="json"))
        return self._parse(NotificationDecision, response)

    def return_notification(self, notification_id: str, reason: str) -> NotificationDecision:
        body = ReturnRequest(reason=reason)
        path = "/notifications/" + quote(notification_id, safe="") + "/return"
        response = self._request("POST", path, json=body.model_dump(mode="json"))
        return self._parse(NotificationDecision, response)

    # --- setting up (server/setup_routes.py) ----------------------------------------------

    def server_info(self) -> ServerInfo:
        return self._parse(ServerInfo, self._request("GET", "/info", session=False))

    def seal(self, known_version: int | None = None) -> SealBundle | None:
        """The signed 公印 bundle; None when the server has the version we know (304)."""
        extra = {"If-None-Match": f'"{known_version}"'} if known_version is not None else None
        response = self._request("GET", "/seal", session=False, headers=extra)
        if response.status_code == 304:
            return None
        return self._parse(SealBundle, response)


def fetch_ca_pem(base_url: str, timeout: float = 15.0) -> bytes:
    """GET /v1/ca over TLS that trusts nothing yet: the caller must check the fingerprint of
    what comes back before using it (app/services/enrollment.py). Nothing else is sent."""
    url = base_url.rstrip("/") + API_PREFIX + "/ca"
    with (
        SyncClient._network_errors(),
        httpx.Client(verify=False, timeout=timeout, headers=VERSION_HEADERS) as http,
    ):
        response = http.get(url)
    if response.status_code >= 400:
        SyncClient._raise_for(response)
    return response.content


# --- terminal key, CSR and files ----------------------------------------------------------


def generate_terminal_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_csr(key: ec.EllipticCurvePrivateKey, hostname: str = "madoguchi-terminal") -> str:
    """A CSR for enrollment; the server decides the certificate's subject itself."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname[:64] or "t")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def _write_private(path: Path, data: bytes) -> None:
    # mkstemp makes the temporary file 0600; whole or not at all (a crash mid-enrollment must
    # not leave a key that loads as garbage)
    atomic_write(path, data)


def write_private_key(path: Path | str, key: ec.EllipticCurvePrivateKey, password: bytes) -> Path:
    """PKCS#8 PEM encrypted with the caller's password (never stored in plaintext)."""
    if not password:
        raise ValueError("端末鍵の保存にはパスワードが必要です。")
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    _write_private(Path(path), data)
    return Path(path)


def load_private_key(path: Path | str, password: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=password)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("端末鍵の形式が正しくありません。")
    return key


def store_enrollment(
    directory: Path | str,
    key: ec.EllipticCurvePrivateKey,
    answer: EnrollResponse,
    password: bytes,
) -> tuple[Path, Path, Path]:
    """Writes terminal.key (encrypted), terminal.pem and ca.pem, each atomically; returns
    (cert, key, ca)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key_path = write_private_key(directory / TERMINAL_KEY_FILE, key, password)
    cert_path = directory / TERMINAL_CERT_FILE
    atomic_write(cert_path, answer.certificate_pem.encode("ascii"))
    ca_path = directory / CA_FILE
    atomic_write(ca_path, answer.ca_chain_pem.encode("ascii"))
    return cert_path, key_path, ca_path
