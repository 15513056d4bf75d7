"""Snapshots of the register for a terminal's initial sync (docs/sync.md "Snapshot").

Building a terminal's cache from the feed costs the terminal minutes at a million persons
(every row inserted, a dozen indexes built). The server does it once instead:

- `build_base`: the register at the feed's head, in the terminal's cache format, under a key of
  its own that only the master key opens. Run by `madoguchi-server snapshot` (nightly, and
  after an import). This is the one module of the server that imports the client's store:
  the file must be exactly what the terminal's program reads, so it is made by that code.
- `prepare`: a page-by-page copy of the newest base under the calling terminal's escrowed DEK
  (SQLCipher's backup API: no row re-inserted), with its size and SHA-256. The terminal
  downloads it (`open_range`, resumable), takes it as its cache and pulls the feed from the
  base's seq.

The register never touches the disk unencrypted: the base is keyed, its key is sealed with the
master key, and each copy is keyed with the terminal's own DEK. Copies are deleted when the
terminal says it has its copy, when the same terminal asks for a newer one, and after
EXPORT_TTL; bases when a newer one is built (the last KEEP_BASES stay).

Files, in data_dir/snapshots: base-<seq>-<id>.db and .json (seq, schema, sealed key);
t-<snapshot_id>.db and .json (the SnapshotInfo and the terminal it is for).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from app.fileio import atomic_write_text, fsync_dir, replace_file
from app.store.db import copy_cache, create_cache
from app.store.keys import generate_dek
from app.sync.protocol import SnapshotInfo, parse_changes_page
from server import security
from server.config import ServerConfig
from server.db import Database
from server.errors import ApiError
from server.feed import stream_page
from server.tables import terminals

log = logging.getLogger(__name__)

BUILD_PAGE_LIMIT = 2000
EXPORT_TTL_S = 24 * 3600
KEEP_BASES = 2
CHUNK = 1024 * 1024
_RANGE = re.compile(r"bytes\s*=\s*(?P<first>[0-9]{1,19})-(?P<last>[0-9]{0,19})", re.ASCII)

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class Base:
    base_id: str
    seq: int
    schema_version: int
    sealed_key: bytes
    path: Path


def snapshot_dir(config: ServerConfig) -> Path:
    return config.data_dir / "snapshots"


def _key_label(base_id: str) -> str:
    return f"snapshot-base:{base_id}"


def _write_json(path: Path, data: dict[str, object]) -> None:
    atomic_write_text(path, json.dumps(data))


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# --- the base -------------------------------------------------------------------------------


def build_base(
    db: Database,
    config: ServerConfig,
    master_key: bytes,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Base:
    """Build the register at the feed's head as a terminal would from the feed from 0 (bulk
    load, then the indexes), under a new key; the newest base from then on."""
    directory = snapshot_dir(config)
    directory.mkdir(parents=True, exist_ok=True)
    base_id = uuid.uuid4().hex
    part = directory / f"base-{base_id}.db.part"
    key = generate_dek()
    try:
        with create_cache(part, key) as cache:
            cache.begin_bulk_load()
            after = 0
            while True:
                page = parse_changes_page(b"".join(stream_page(db, after, BUILD_PAGE_LIMIT)))
                cache.apply_changes(page.items, page.next_after)
                if progress is not None:
                    progress(page.next_after, page.latest_seq)
                if not page.has_more:
                    break
                after = page.next_after
            cache.finish_bulk_load()
            cache.optimize()  # the planner's statistics travel with the file
            seq = cache.cursor()
            version = cache.schema_version()
            cache.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cache.connection.execute("PRAGMA journal_mode = DELETE")
    except BaseException:
        _remove(part, Path(f"{part}-wal"), Path(f"{part}-shm"))
        raise
    stem = f"base-{seq:012d}-{base_id}"
    sealed = security.seal_dek(master_key, _key_label(base_id), key)
    _write_json(
        directory / f"{stem}.json",
        {
            "base_id": base_id,
            "seq": seq,
            "schema_version": version,
            "sealed_key": base64.b64encode(sealed).decode(),
            "created_at": datetime.now(UTC).isoformat(),
        },
    )
    replace_file(part, directory / f"{stem}.db")
    fsync_dir(directory)
    log.info("snapshot base %s built at seq %d", base_id, seq)
    _prune_bases(directory)
    return Base(base_id, seq, version, sealed, directory / f"{stem}.db")


def _bases(directory: Path) -> list[Base]:
    found = []
    for meta in directory.glob("base-*.json"):
        path = meta.with_suffix(".db")
        if not path.exists():
            continue  # its build did not finish
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            found.append(
                Base(
                    data["base_id"],
                    int(data["seq"]),
                    int(data["schema_version"]),
                    base64.b64decode(data["sealed_key"]),
                    path,
                )
            )
        except (ValueError, KeyError, OSError):
            log.warning("snapshot: unreadable %s ignored", meta.name)
    return sorted(found, key=lambda b: (b.seq, b.path.stat().st_mtime))


def newest_base(config: ServerConfig) -> Base | None:
    directory = snapshot_dir(config)
    bases = _bases(directory) if directory.exists() else []
    return bases[-1] if bases else None


def _prune_bases(directory: Path) -> None:
    for old in _bases(directory)[:-KEEP_BASES]:
        _remove(old.path, old.path.with_suffix(".json"))
    # What a build or a copy killed half-way left (no build or copy runs for a day).
    limit = time.time() - EXPORT_TTL_S
    for part in directory.glob("*.db.part*"):
        with contextlib.suppress(FileNotFoundError):
            if part.stat().st_mtime < limit:
                part.unlink()


# --- a copy for one terminal ----------------------------------------------------------------


def _terminal_lock(terminal_no: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(terminal_no, threading.Lock())


def _exports(directory: Path) -> Iterator[tuple[Path, dict[str, object]]]:
    for meta in directory.glob("t-*.json"):
        try:
            yield meta, json.loads(meta.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            _remove(meta, meta.with_suffix(".db"))


def _prune_exports(directory: Path, terminal_no: str, keep_base: str) -> None:
    """Copies past their time, and this terminal's copies of older bases."""
    limit = time.time() - EXPORT_TTL_S
    for meta, data in _exports(directory):
        stale = meta.stat().st_mtime < limit
        superseded = data.get("terminal_no") == terminal_no and data.get("base_id") != keep_base
        if stale or superseded:
            _remove(meta, meta.with_suffix(".db"))


def _escrowed_dek(db: Database, master_key: bytes, terminal_no: str) -> bytes:
    with db.read() as conn:
        sealed = conn.execute(
            select(terminals.c.escrowed_dek).where(terminals.c.terminal_no == terminal_no)
        ).scalar_one()
    return security.open_dek(master_key, terminal_no, sealed)


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def prepare(
    db: Database, config: ServerConfig, master_key: bytes, terminal_no: str
) -> SnapshotInfo:
    """The newest base copied under the terminal's DEK (or the copy made for it before, which
    lets an interrupted download resume); 404 no_snapshot when no base was built."""
    base = newest_base(config)
    if base is None:
        raise ApiError(404, "no_snapshot", "登録データの写しは準備されていません。")
    directory = snapshot_dir(config)
    with _terminal_lock(terminal_no):
        _prune_exports(directory, terminal_no, base.base_id)
        for meta, data in _exports(directory):
            if data.get("terminal_no") == terminal_no and meta.with_suffix(".db").exists():
                return SnapshotInfo.model_validate(data["info"])
        snapshot_id = uuid.uuid4().hex
        part = directory / f"t-{snapshot_id}.db.part"
        try:
            base_key = security.open_dek(master_key, _key_label(base.base_id), base.sealed_key)
            copy_cache(base.path, base_key, part, _escrowed_dek(db, master_key, terminal_no))
            info = SnapshotInfo(
                snapshot_id=snapshot_id,
                seq=base.seq,
                size=part.stat().st_size,
                sha256=_sha256(part),
                schema_version=base.schema_version,
                created_at=datetime.now(UTC),
            )
            _write_json(
                directory / f"t-{snapshot_id}.json",
                {
                    "terminal_no": terminal_no,
                    "base_id": base.base_id,
                    "info": info.model_dump(mode="json"),
                },
            )
            replace_file(part, directory / f"t-{snapshot_id}.db")
            fsync_dir(directory)
        except BaseException:
            _remove(part, directory / f"t-{snapshot_id}.json")
            raise
        log.info("snapshot %s prepared for terminal %s", snapshot_id, terminal_no)
        return info


def export_path(config: ServerConfig, terminal_no: str, snapshot_id: str) -> Path:
    """The copy `snapshot_id` of this terminal; 404 for any other (never another's copy)."""
    directory = snapshot_dir(config)
    if len(snapshot_id) != 32 or not all(c in "0123456789abcdef" for c in snapshot_id):
        raise ApiError(404, "no_snapshot", "登録データの写しがありません。")
    meta = directory / f"t-{snapshot_id}.json"
    path = directory / f"t-{snapshot_id}.db"
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if data.get("terminal_no") != terminal_no or not path.exists():
        raise ApiError(404, "no_snapshot", "登録データの写しがありません。")
    return path


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single "bytes=a-b" / "bytes=a-" range, None for the whole file;
    416 when it lies outside the file."""
    if not header:
        return None
    # ASCII digits only: str.isdigit() also takes "²" or "٣", which int() then refuses (a 500).
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        raise ApiError(416, "bad_range", "要求された範囲が正しくありません。")
    first = int(match["first"])
    last = int(match["last"]) if match["last"] else size - 1
    if first >= size or last < first:
        raise ApiError(416, "bad_range", "要求された範囲が正しくありません。")
    return first, min(last, size - 1)


def open_range(
    config: ServerConfig, terminal_no: str, snapshot_id: str, range_header: str | None
) -> tuple[Iterator[bytes], int, int, int, int | None]:
    """(chunks, size of the file, first byte, last byte, status 206 or None for 200)."""
    path = export_path(config, terminal_no, snapshot_id)
    size = path.stat().st_size
    wanted = parse_range(range_header, size)
    first, last = wanted if wanted is not None else (0, size - 1)
    fh = path.open("rb")  # opened now: a copy deleted meanwhile is still read to the end

    def chunks() -> Iterator[bytes]:
        with fh:
            fh.seek(first)
            left = last - first + 1
            while left > 0:
                data = fh.read(min(CHUNK, left))
                if not data:
                    return
                left -= len(data)
                yield data

    return chunks(), size, first, last, 206 if wanted is not None else None


def discard(path: Path) -> None:
    """Delete a copy (its path from `export_path`): the terminal has taken it."""
    _remove(path.with_suffix(".json"), path)
