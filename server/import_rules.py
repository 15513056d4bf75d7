"""The server's own rules for an imported line, on top of the interchange format's
(app.domain.records.parse_line): a bounded line, ids that fit the database, bounded texts, no
control characters, no future birth date. Used by server/importer.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any, BinaryIO

from app.domain.records import FIELD_LABELS, Household
from app.domain.text import control_character
from app.sync.protocol import INT32_MAX

MAX_LINE_BYTES = 1024 * 1024
# ids are String(64) columns on the server; the texts have no column of their own (the household
# is one JSON document), so these limits are ours: longer than any real entry, short enough that
# one record cannot bloat every terminal's cache or certificate.
ID_LIMIT = 64
TEXT_LIMITS: dict[str, int] = {
    "name": 100,
    "name_kana": 100,
    "former_name": 100,
    "alias": 100,
    "alias_kana": 100,
    "hittosha": 100,
    "relationship": 50,
    "address": 200,
    "katagaki": 200,
    "honseki": 200,
    "previous_address": 200,
    "moved_out_to": 200,
    "removal_reason": 50,
    "nationality": 100,
    "residence_status": 100,
    "kind": 50,
    "note": 1000,
}
MAX_MEMBERS = 100  # a certificate names at most 100 persons (protocol.CertificateIssuedPayload)
MAX_HISTORY = 200


# --- reading ---------------------------------------------------------------------------------


def read_lines(fh: BinaryIO, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) of every non-blank line; None for a line longer than `limit`, whose
    rest is skipped in pieces of `limit` bytes (memory stays bounded whatever the file holds)."""
    number = 0
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while True:
                rest = fh.readline(limit)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None
        elif line.strip():
            yield number, line


# --- per-line checks -------------------------------------------------------------------------


def _label(key: str) -> str:
    return f"{FIELD_LABELS.get(key, key)}({key})"


def line_problem(h: Household, data: dict[str, Any], today: date) -> str | None:
    """The server's own limits, after parse_line accepted the format. Messages never quote a
    value (an over-long id would fill the console)."""
    ids = [("household_id", h.household_id), ("head_person_id", h.head_person_id)]
    for m in h.members:
        ids.append(("person_id", m.person_id))
        if m.support_measure is not None:
            ids += [("support_measure", p) for p in m.support_measure.perpetrator_person_ids]
    for key, value in ids:
        if len(value) > ID_LIMIT:
            return f"{_label(key)}が長すぎます({ID_LIMIT}文字まで、{len(value):,}文字)。"
    where = f"世帯[{h.household_id}]"
    found = _bad_text(data)
    if found is not None:
        return (
            f"{where}: {_label(found)}に制御文字"
            "(改行・タブ・NUL・文字の向きを変える記号など)が含まれています。"
        )
    if len(h.members) > MAX_MEMBERS:
        return f"{where}: 世帯員が多すぎます({MAX_MEMBERS}人まで)。"
    for key in ("address", "katagaki"):
        problem = _too_long(key, data.get(key))
        if problem:
            return f"{where}: {problem}"
    for m in data["members"]:
        who = f"{where}の世帯員[{m['person_id']}]"
        for key, limit in TEXT_LIMITS.items():
            if key in m and limit:
                problem = _too_long(key, m[key])
                if problem:
                    return f"{who}: {problem}"
        if len(m["history"]) > MAX_HISTORY:
            return f"{who}: 記事が多すぎます({MAX_HISTORY}件まで)。"
        for entry in m["history"]:
            for key in ("kind", "note"):
                problem = _too_long(key, entry.get(key))
                if problem:
                    return f"{who}の記事: {problem}"
        if m["version"] > INT32_MAX:
            return f"{who}: 住民票版数(version)が大きすぎます({INT32_MAX:,}まで)。"
        if date.fromisoformat(m["birth_date"]) > today:
            return f"{who}: 生年月日が未来の日付です。"
    return None


def _too_long(key: str, value: Any) -> str | None:
    limit = TEXT_LIMITS[key]
    if isinstance(value, str) and len(value) > limit:
        return f"{_label(key)}が長すぎます({limit}文字まで、{len(value):,}文字)。"
    return None


def _bad_text(value: Any, key: str = "") -> str | None:
    """The key of the first string holding a control character (names and addresses are
    printed on certificates: there is no place for a line break or a NUL in them)."""
    if isinstance(value, str):
        return key if control_character(value) is not None else None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _bad_text(v, k if isinstance(v, str) else key)
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _bad_text(item, key)
            if found is not None:
                return found
    return None
