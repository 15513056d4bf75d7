"""POST /v1/events at the boundary: each raw event of a batch checked on its own, so that a
bad value (NUL, an id past its column, an integer past 64 bits) is that event's `rejected`,
never the batch's failure nor a database error (issue 21 items 5 and 10)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError

from app.domain.text import control_character
from app.sync.protocol import Event, EventResult
from server.errors import ApiError

_PROBLEMS = {
    "string_too_long": "長すぎます",
    "too_long": "多すぎます",
    "string_too_short": "空です",
    "too_short": "空です",
    "missing": "ありません",
    "extra_forbidden": "不明な項目です",
    "string_pattern_mismatch": "形式が違います",
    "less_than_equal": "大きすぎます",
    "greater_than_equal": "小さすぎます",
    "value_error": "使えない文字か値を含みます",
}
_INT64 = 2**63
_MAX_DEPTH = 16


def describe(exc: PydanticValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        where = ".".join(str(p) for p in e["loc"]) or "payload"
        parts.append(f"{where}: {_PROBLEMS.get(e['type'], '正しくありません')}")
    return "、".join(parts)


def unstorable(value: Any, where: str = "", depth: int = 0) -> str | None:
    """Where the raw event holds something no column can take: a control character (PostgreSQL
    refuses NUL), a lone surrogate, an integer past 64 bits, nesting past 16 levels."""
    if depth > _MAX_DEPTH:
        return where or "payload"
    if isinstance(value, str):
        return where or "値" if control_character(value, allow_layout=True) else None
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return None
    if isinstance(value, int):
        return where or "値" if not -_INT64 <= value < _INT64 else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}" if where else str(key)
            if control_character(str(key)):
                return where or "キー"
            found = unstorable(item, here, depth + 1)
            if found:
                return found
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = unstorable(item, f"{where}[{i}]", depth + 1)
            if found:
                return found
    return None


def parse_event(raw: Any) -> tuple[Event | None, EventResult | None]:
    """The event, or the answer for an event that cannot be judged at all."""
    event_id = raw.get("event_id") if isinstance(raw, dict) else None
    if (
        not isinstance(event_id, str)
        or not 1 <= len(event_id) <= 64
        or not event_id.isascii()
        or control_character(event_id) is not None
    ):
        # Without a usable id there is nothing to answer per event: the batch is refused and
        # the terminal sends its events alone to find this one.
        raise ApiError(422, "invalid_request", "event_id(UUID)のないイベントがあります。")
    where = unstorable(raw)
    if where is not None:
        where = where[:80]
        reason = f"イベントに保存できない値があります({where}: 制御文字、または範囲外の数値)。"
        return None, EventResult(event_id=event_id, status="rejected", reason=reason)
    try:
        return Event.model_validate(raw), None
    except PydanticValidationError as exc:
        reason = f"イベントの形式が正しくありません({describe(exc)})。"
        return None, EventResult(event_id=event_id, status="rejected", reason=reason)
