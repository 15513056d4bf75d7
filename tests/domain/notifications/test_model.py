"""The draft's JSON: what the outbox event carries, parsed back strictly on the other side."""

from __future__ import annotations

import json

import pytest
from msgspec.structs import replace

from app.domain.errors import ValidationError
from app.domain.notifications import draft_to_dict, parse_draft
from tests.domain.notifications import data as D


@pytest.mark.parametrize("name", sorted(D.VALID))
def test_round_trip(name: str) -> None:
    d = D.VALID[name]()
    obj = draft_to_dict(d)
    assert parse_draft(json.loads(json.dumps(obj, ensure_ascii=False))) == d
    assert parse_draft(json.dumps(obj)) == d
    assert obj["procedure"] == d.procedure.value and obj["filed_on"] == "2026-04-20"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda o: o.update(surprise=1), "draft"),
        (lambda o: o.update(moved_on="2026-02-30"), "draft"),
        (lambda o: o.update(procedure="move_to_mars"), "draft"),
        (lambda o: o.update(movers=[]), "movers"),
        (lambda o: o.update(municipality_code="012085"), "municipality_code"),
        (lambda o: o["movers"][0].update(juminhyo_code="12345678901"), "movers[0].juminhyo_code"),
        (lambda o: o["movers"][0].update(my_number="123456789012"), "movers[0].my_number"),
        (lambda o: o["movers"].append(dict(o["movers"][0])), "movers"),
        (lambda o: o["movers"][0].update(key="new-9"), "movers[0].key"),
        (lambda o: o.update(relied_versions={"P1": 0}), "relied_versions"),
    ],
)
def test_malformed_drafts_name_the_field(change, field: str) -> None:
    obj = draft_to_dict(D.move_within_part())
    change(obj)
    with pytest.raises(ValidationError) as e:
        parse_draft(obj)
    assert e.value.field == field
    assert "123456789012" not in e.value.message  # a 個人番号 is never echoed


def test_a_new_key_only_for_a_person_moving_in() -> None:
    d = D.move_in()
    obj = draft_to_dict(replace(d, movers=(replace(d.movers[0], key="P1"), d.movers[1])))
    with pytest.raises(ValidationError):
        parse_draft(obj)
