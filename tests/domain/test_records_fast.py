"""parse_line's fast path (msgspec + `_follows_rules`) against parse_household, the format's one
definition: every line gets the same answer as parse_household gives its object, the same
record or the same error with the same Japanese message; the fast path itself takes every
well-formed record (it is what makes an initial sync fast)."""

from __future__ import annotations

import json
from copy import deepcopy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.errors import ValidationError
from app.domain.records import _DECODER, _follows_rules, parse_household, parse_line
from app.synthetic.generator import household_dicts

from .test_records import CASES, full_household, mutate


def outcome(parse: Any, arg: Any) -> tuple[str, Any]:
    try:
        return ("ok", parse(arg))
    except ValidationError as e:
        return ("error", (e.field, e.message))


def fast_path_takes(line: str | bytes) -> bool:
    try:
        return _follows_rules(_DECODER.decode(line))
    except Exception:
        return False


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def test_the_fast_path_takes_well_formed_records() -> None:
    samples = [full_household(), *household_dicts(3000, seed=5)]
    for data in samples:
        line = dumps(data)
        assert fast_path_takes(line), data["household_id"]
        assert parse_line(line) == parse_household(data)


@pytest.mark.parametrize(("path", "value", "delete", "field", "message"), CASES)
def test_refused_lines_get_parse_households_message(
    path: list[Any], value: Any, delete: bool, field: str, message: str
) -> None:
    line = dumps(mutate(path, value, delete=delete))
    assert not fast_path_takes(line)
    assert outcome(parse_line, line) == ("error", (field, message))


# Values that are wrong somewhere, or right in an unexpected way (a date ISO 8601 allows but
# msgspec does not, a null note), so that both parsers meet every kind of item.
ODD_VALUES = [
    None,
    "",
    " ",
    "\u3000",
    "x",
    0,
    1,
    -1,
    2**70,
    True,
    1.5,
    [],
    {},
    ["P1"],
    {"until": "2030-01-01"},
    {"date": "2020-01-01", "kind": "転居"},
    {"date": "2020-01-01", "kind": "転居", "note": None},
    "1970-02-30",
    "19700312",
    "2020-01-01",
    "removed",
    "resident",
    "female",
    "12345678903",
    "983205673214",
    "AB12345678CD",
    "特別永住者",
    "090-0024",
    "012084",
    "P1",
    "P2",
    "\ud800",
]


def paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += paths(v, (*prefix, i))
    return out


BASE = full_household()
PATHS = paths(BASE)


@st.composite
def mutated_households(draw: st.DrawFn) -> dict[str, Any]:
    data = deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        target: Any = data
        try:
            for key in path[:-1]:
                target = target[key]
            if not isinstance(target, (dict, list)):
                continue
            action = draw(st.sampled_from(["set", "delete", "add"]))
            if action == "delete" and isinstance(target, dict):
                target.pop(path[-1], None)
            elif action == "add" and isinstance(target, dict):
                target[draw(st.sampled_from(["extra", "nickname", "note", "kind"]))] = 1
            else:
                target[path[-1]] = deepcopy(draw(st.sampled_from(ODD_VALUES)))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed the way there
    return data


def test_every_single_change_gets_the_same_answer() -> None:
    """Each item of the record set to each odd value, or taken away: some 2,300 records."""
    checked = 0
    for path in PATHS:
        for value in [*ODD_VALUES, DELETE]:
            data = mutate(list(path), deepcopy(value), delete=value is DELETE)
            line = dumps(data)
            expected = outcome(parse_household, data)
            assert outcome(parse_line, line) == expected, (path, value)
            assert not fast_path_takes(line) or expected[0] == "ok", (path, value)
            checked += 1
    assert checked > 2000


DELETE = object()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_households())
def test_parse_line_answers_as_parse_household(data: dict[str, Any]) -> None:
    line = dumps(data)
    expected = outcome(parse_household, data)
    assert outcome(parse_line, line) == expected
    if fast_path_takes(line):  # what the fast path takes, parse_household takes, equal
        assert expected[0] == "ok"


def test_lines_that_are_not_json_or_not_utf8() -> None:
    assert outcome(parse_line, b'{"household_id": ')[1][0] == "json"
    assert outcome(parse_line, b"\xff\xfe{}")[1][0] == "json"
    not_an_object = ("世帯", "世帯がJSONのオブジェクトではありません。")
    assert outcome(parse_line, "[1, 2]") == ("error", not_an_object)
