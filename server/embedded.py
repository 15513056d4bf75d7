"""The server in a background thread: for `madoguchi demo` and the tests.

server = EmbeddedServer(data_dir)            # SQLite in data_dir unless database_url
server.start()                                # returns when listening
token = server.make_token()
... SyncClient(server.base_url, server.ca_cert_path) ...
server.stop()
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from app.sync.protocol import Policy, SealBundle
from server import admin, seal, snapshot
from server.app import create_app
from server.ca import load_ca
from server.config import CONFIG_FILE_NAME, ServerConfig, load_config
from server.errors import AdminError
from server.importer import ImportReport, import_file
from server.tls import uvicorn_config


class EmbeddedServerError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EmbeddedServer:
    def __init__(
        self,
        data_dir: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        database_url: str | None = None,
        municipality_code: str | None = None,
        municipality_name: str | None = None,
        config: ServerConfig | None = None,
        **settings: Any,
    ) -> None:
        """`settings`: further ServerConfig fields (tests lower password_memory_kib)."""
        self.config = config or load_config(
            data_dir=data_dir,
            env={},
            database_url=database_url,
            host=host,
            port=port,
            municipality_code=municipality_code,
            municipality_name=municipality_name,
            **settings,
        )
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.db = admin.init_server(self.config)
        self._write_config_file()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def _write_config_file(self) -> None:
        """So that `madoguchi-server --data-dir DIR ...` finds the same database later."""
        path = self.config.data_dir / CONFIG_FILE_NAME
        if path.exists():
            return
        lines = ["[server]"]
        for key in ("database_url", "municipality_code", "municipality_name"):
            value = getattr(self.config, key)
            if value:
                lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        path.chmod(0o600)  # a database URL may carry a password

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        if self._thread is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError as exc:
            sock.close()
            raise EmbeddedServerError(
                f"ポート {self._requested_port} ({self.host}) を使えません。ほかのプログラムが"
                f"使用中か、権限がありません。別のポートを指定してください。({exc.strerror})"
            ) from None
        sock.listen(128)
        self._socket = sock
        self.port = sock.getsockname()[1]
        # A restart (stop, start) listens where enrolled terminals expect it, even from port 0.
        self._requested_port = self.port
        app = create_app(self.config, db=self.db)
        # Idle keep-alive TLS connections of clients hold a graceful stop; 1 s is enough here.
        self._server = uvicorn.Server(
            uvicorn_config(app, self.config, self.host, self.port, timeout_graceful_shutdown=1)
        )
        errors: list[BaseException] = []

        def run() -> None:
            try:
                assert self._server is not None
                self._server.run(sockets=[sock])
            except BaseException as exc:  # reported to start()
                errors.append(exc)

        self._thread = threading.Thread(target=run, name="madoguchi-embedded-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if errors or not self._thread.is_alive():
                self._thread = None
                raise EmbeddedServerError("組み込みサーバーを起動できませんでした。") from (
                    errors[0] if errors else None
                )
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedServerError("組み込みサーバーの起動がタイムアウトしました。")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._server = None

    def close(self) -> None:
        self.stop()
        self.db.dispose()

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise EmbeddedServerError("組み込みサーバーはまだ起動していません。")
        return f"https://{self.host}:{self.port}"

    @property
    def ca_cert_path(self) -> Path:
        return self.config.ca_cert_path

    # --- admin helpers (the same operations as the admin CLI) ----------------------------

    def make_token(self) -> str:
        return admin.make_token(self.db, self.config)

    def add_operator(
        self,
        operator_id: str,
        display_name: str,
        roles: list[str] | tuple[str, ...],
        branch: str,
        password: str,
        person_id: str | None = None,
    ) -> None:
        admin.add_operator(
            self.db,
            operator_id,
            display_name,
            roles,
            branch,
            password,
            person_id=person_id,
            rules=admin.password_rules(self.config),
        )

    def update_operator(self, operator_id: str, **changes: Any) -> None:
        """As the admin CLI: a new password is a reset (the operator must change it)."""
        admin.update_operator(
            self.db, operator_id, rules=admin.password_rules(self.config), **changes
        )

    def import_jsonl(self, path: Path | str) -> ImportReport:
        return import_file(self.db, Path(path), work_dir=self.config.data_dir)

    def build_snapshot(self) -> int:
        """Build the register's snapshot for initial syncs (as `madoguchi-server snapshot`);
        returns its seq."""
        return snapshot.build_base(self.db, self.config, admin.load_master_key(self.config)).seq

    def revoke_terminal(self, terminal_no: str) -> None:
        admin.revoke_terminal(self.db, terminal_no)

    def set_policy(self, policy: Policy) -> None:
        admin.set_policy(self.db, policy)

    def set_seal(self, image_png: bytes, mayor_title: str, mayor_name: str) -> SealBundle:
        """As `madoguchi-server seal set`: the signed 公印 terminals fetch at their next sync."""
        return seal.set_seal(self.config, load_ca(self.config), image_png, mayor_title, mayor_name)

    def has_seal(self) -> bool:
        return seal.load_seal(self.config) is not None

    def reconciliation(self) -> list[dict[str, Any]]:
        return admin.list_reconciliation(self.db)


__all__ = ["AdminError", "EmbeddedServer", "EmbeddedServerError"]
