"""Server configuration: a TOML file (section [server]) overridden by MADOGUCHI_SERVER_* env."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "MADOGUCHI_SERVER_"
CONFIG_FILE_NAME = "server.toml"


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    # SQLAlchemy URL; None means the embedded SQLite file in data_dir.
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8443
    municipality_code: str = "012084"
    municipality_name: str = "北見市"
    # Extra names for the server certificate (the LAN name of the central server).
    tls_hostnames: tuple[str, ...] = ()
    session_hours: int = 12
    token_hours: int = 24
    terminal_cert_days: int = 825
    lockout_threshold: int = 5
    max_body_bytes: int = 16 * 1024 * 1024
    # argon2id cost for new password hashes (argon2-cffi's defaults, RFC 9106 low-memory).
    password_time_cost: int = 3
    password_memory_kib: int = 65536
    # NIST SP 800-63B-4: 15 where the password is the only factor; 8 at the least (passwords.py).
    password_min_length: int = 15
    # A connection must finish its request headers within header_timeout_s of connecting (or
    # of its previous answer), and a body may pause at most body_timeout_s (server/tls.py).
    header_timeout_s: int = 10
    body_timeout_s: int = 30
    # `serve`: uvicorn worker processes (1 = in-process).
    workers: int = 1
    # Rotating log file in data_dir/logs (server/logs.py); "" = console only.
    log_file: str = "logs/server.log"
    # The oldest client program (e.g. "0.2.0") the server still serves; older ones get 426
    # and the terminal tells the clerk to have it updated. None: every version is served.
    min_client_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'server.db'}"

    @property
    def ca_dir(self) -> Path:
        return self.data_dir / "ca"

    @property
    def ca_cert_path(self) -> Path:
        return self.ca_dir / "ca.pem"

    @property
    def ca_key_path(self) -> Path:
        return self.ca_dir / "ca.key"

    @property
    def tls_cert_path(self) -> Path:
        return self.ca_dir / "server.pem"

    @property
    def tls_key_path(self) -> Path:
        return self.ca_dir / "server.key"

    @property
    def master_key_path(self) -> Path:
        return self.data_dir / "master.key"


def _coerce(name: str, raw: Any) -> Any:
    # Types come from the dataclass (annotations are strings here: "int", "Path" ...).
    ints = {f.name for f in fields(ServerConfig) if f.type == "int"}
    if name in ints:
        return int(raw)
    if name == "tls_hostnames":
        if isinstance(raw, str):
            return tuple(h.strip() for h in raw.split(",") if h.strip())
        return tuple(raw)
    if name == "data_dir":
        return Path(raw)
    return raw


def load_config(
    data_dir: Path | str | None = None,
    config_file: Path | str | None = None,
    env: dict[str, str] | None = None,
    **overrides: Any,
) -> ServerConfig:
    """data_dir/server.toml (or config_file), then env, then explicit overrides."""
    env = dict(os.environ if env is None else env)
    names = {f.name for f in fields(ServerConfig)} - {"extra"}
    base_dir = Path(data_dir or env.get(ENV_PREFIX + "DATA_DIR") or "madoguchi-server-data")
    values: dict[str, Any] = {}
    path = Path(config_file) if config_file else base_dir / CONFIG_FILE_NAME
    if path.exists():
        with path.open("rb") as fh:
            section = tomllib.load(fh).get("server", {})
        for key, raw in section.items():
            if key in names:
                values[key] = _coerce(key, raw)
    for name in names:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None and name != "data_dir":
            values[name] = _coerce(name, raw)
    values.update({k: _coerce(k, v) for k, v in overrides.items() if v is not None})
    if data_dir is not None or "data_dir" not in values:
        values["data_dir"] = base_dir
    cfg = ServerConfig(**values)
    return replace(cfg, data_dir=Path(cfg.data_dir).resolve())
