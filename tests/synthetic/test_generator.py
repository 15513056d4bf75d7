"""The synthetic municipality: round trip, determinism, exact sizes, showcases, shares, CLI."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.domain.identifiers import (
    is_valid_juminhyo_code,
    is_valid_local_government_code,
    is_valid_my_number,
    is_valid_postal_code,
)
from app.domain.names import fold
from app.domain.records import Household, dump_line, parse_line
from app.synthetic import cli, data, generator
from app.synthetic.generator import generate, household_dicts, write_jsonl
from tests.support import require

ROOT = Path(__file__).resolve().parents[2]
IPAMJ = Path("/usr/share/fonts/truetype/ipamj/ipamjm.ttf")
IVS = range(0xE0100, 0xE01F0)


@pytest.fixture(scope="module")
def sample() -> list[Household]:
    return list(generate(20_000, 42))


def test_round_trip_every_household() -> None:
    households = list(generate(3_000, 7))
    assert sum(len(h.members) for h in households) == 3_000
    for h in households:
        assert parse_line(dump_line(h)) == h


def test_jsonl_is_the_canonical_emission(tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl"
    count = write_jsonl(out, 2_000, 5)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == count
    assert out.read_bytes().endswith(b"\n")
    for line in lines:
        assert dump_line(parse_line(line)) == line


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    write_jsonl(a, 1_500, 11)
    write_jsonl(b, 1_500, 11)
    write_jsonl(c, 1_500, 12)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_a_prefix_of_a_larger_run_is_stable() -> None:
    small = [dump_line(h) for h in generate(500, 3)]
    large = [dump_line(h) for h in generate(5_000, 3)]
    # Every household but the last (which the budget may cut) is the same in both runs.
    assert small[:-1] == large[: len(small) - 1]


@pytest.mark.parametrize("persons", [0, 1, 4, 9, 10, 17, 1234])
def test_exact_person_count(persons: int) -> None:
    assert sum(len(h["members"]) for h in household_dicts(persons, 1)) == persons


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError):
        list(generate(-1, 1))


@pytest.mark.parametrize("seed", [0, 1, 99])
def test_showcases_open_every_seed(seed: int) -> None:
    first = list(generate(40, seed))[:5]
    nine, ivs, support, removed_only, foreign = first
    assert len(nine.members) == 9
    assert {"世帯主", "妻", "子"} <= {m.relationship for m in nine.members}
    assert all(any(ord(c) in IVS for c in m.name) for m in ivs.members)
    protected = [m for m in support.members if m.support_measure is not None]
    assert protected and protected[0].status == "resident"
    perpetrators = protected[0].support_measure.perpetrator_person_ids  # type: ignore[union-attr]
    assert perpetrators
    others = {m.person_id for h in first if h is not support for m in h.members}
    assert set(perpetrators) <= others  # the 加害者 is registered, in another household
    assert len(removed_only.members) == 1 and removed_only.members[0].status == "removed"
    assert removed_only.members[0].removed_on is not None
    assert all(m.is_foreign and m.residence_card_number for m in foreign.members)


def test_identifiers_valid_and_unique(sample: list[Household]) -> None:
    persons = [p for h in sample for p in h.members]
    assert len({p.person_id for p in persons}) == len(persons)
    assert len({p.juminhyo_code for p in persons}) == len(persons)
    numbers = [p.my_number for p in persons if p.my_number is not None]
    assert len(set(numbers)) == len(numbers)
    assert all(is_valid_juminhyo_code(p.juminhyo_code) for p in persons)
    assert all(is_valid_my_number(n) for n in numbers)
    assert len({h.household_id for h in sample}) == len(sample)
    for h in sample:
        assert is_valid_local_government_code(h.municipality_code)
        assert h.municipality_code == "012084"
        assert is_valid_postal_code(h.postal_code)
        assert h.address.startswith("北海道北見市")
        assert h.head.relationship == "世帯主"


def test_shares_roughly_right(sample: list[Household]) -> None:
    persons = [p for h in sample for p in h.members]
    n = len(persons)
    assert 0.005 < sum(p.is_foreign for p in persons) / n < 0.025
    assert 0.035 < sum(p.is_removed for p in persons) / n < 0.07
    assert 0.01 < sum(p.my_number is None for p in persons) / n < 0.035
    # The showcase plus ~3.6 expected (0.0004 per household): a Poisson count, often 1 or 2.
    assert 2 <= sum(p.support_measure is not None for p in persons) <= 40
    assert sum(p.alias is not None for p in persons) > 0
    assert sum(p.former_name is not None for p in persons) > 0
    sizes = collections.Counter(len(h.members) for h in sample[5:-1])
    assert set(sizes) == set(range(1, 9))
    assert sizes[1] > sizes[2] > sizes[3] > sizes[5] > sizes[8]
    relationships = collections.Counter(p.relationship for p in persons)
    assert {"世帯主", "妻", "夫", "子", "父", "母", "孫"} <= set(relationships)
    reasons = collections.Counter(p.removal_reason for p in persons if p.is_removed)
    assert {"転出", "死亡"} <= set(reasons)
    towns = collections.Counter(h.postal_code for h in sample)
    assert len(towns) > 40
    # Variant kanji appear and fold onto their standard forms.
    surnames = {p.name.split(" ")[0] for p in persons}
    assert {"髙橋", "齋藤", "渡邊", "山﨑"} <= surnames
    assert fold("髙橋") == fold("高橋")
    ivs_people = sum(any(ord(c) in IVS for c in p.name) for p in persons)
    assert 0 < ivs_people < n * 0.02


def test_people_are_coherent(sample: list[Household]) -> None:
    for h in sample:
        for p in h.members:
            assert p.became_resident_on is not None and p.address_set_on is not None
            assert p.birth_date <= p.became_resident_on <= p.address_set_on
            assert p.history and p.history[0].kind in ("出生", "転入")
            if p.is_removed:
                assert p.removed_on is not None and p.removed_on >= p.address_set_on
                assert p.history[-1].kind == p.removal_reason
                assert (p.moved_out_to is not None) == (p.removal_reason == "転出")
            if p.is_foreign:
                assert p.honseki is None and p.article_30_45 is not None
            else:
                assert p.honseki and p.hittosha
            if p.support_measure is not None:
                for pid in p.support_measure.perpetrator_person_ids:
                    assert pid != p.person_id
            assert p.name_kana.count(" ") == 1


def test_perpetrators_exist(sample: list[Household]) -> None:
    ids = {p.person_id for h in sample for p in h.members}
    cases = [p for h in sample for p in h.members if p.support_measure is not None]
    assert cases
    for p in cases:
        assert set(p.support_measure.perpetrator_person_ids) <= ids  # type: ignore[union-attr]


def test_ivs_sequences_are_in_ipamj() -> None:
    require(IPAMJ.exists(), f"IPAmj明朝 not found at {IPAMJ} (Debian fonts-ipamj-mincho)")
    from fontTools.ttLib import TTFont

    font = TTFont(str(IPAMJ), lazy=True)
    uvs = next(t for t in font["cmap"].tables if t.format == 14).uvsDict
    mapped = {(base, selector) for selector, pairs in uvs.items() for base, _ in pairs}
    used = set()
    for name, _ in data.IVS_SURNAMES:
        for i, ch in enumerate(name):
            if ord(ch) in IVS:
                used.add((ord(name[i - 1]), ord(ch)))
    assert used
    missing = {f"{chr(b)} U+{s:X}" for b, s in used - mapped}
    assert not missing


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "m.jsonl"
    out.write_text("old\n", encoding="utf-8")

    monkeypatch.setattr(generator, "household_dicts", _failing_after(3))
    with pytest.raises(RuntimeError):
        write_jsonl(out, 100, 1)
    assert out.read_text(encoding="utf-8") == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["m.jsonl"]


def _failing_after(n: int):  # type: ignore[no-untyped-def]
    real = household_dicts

    def fake(persons: int, seed: int):  # type: ignore[no-untyped-def]
        for i, h in enumerate(real(persons, seed)):
            if i == n:
                raise RuntimeError("disk on fire")
            yield h

    return fake


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "town.jsonl"
    assert cli.main(["--persons", "300", "--seed", "9", "--out", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert sum(len(json.loads(line)["members"]) for line in lines) == 300
    assert "300人" in capsys.readouterr().err
    assert sorted(os.listdir(out.parent)) == ["town.jsonl"]


def test_cli_entry_point_runs(tmp_path: Path) -> None:
    out = tmp_path / "e.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "app.synthetic.cli", "--persons", "20", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert out.exists()
    bad = subprocess.run(
        [sys.executable, "-m", "app.synthetic.cli", "--persons", "-5", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "--persons" in bad.stderr
