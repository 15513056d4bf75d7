"""What the 異動届 screen starts from for each procedure and how the clerk's answers become a
draft (app.domain.notifications.interview): a table per question, against the small register
of data.py."""

from __future__ import annotations

import pytest

from app.domain.notifications import CheckContext, Procedure, Severity, check
from app.domain.notifications.interview import (
    Answers,
    assemble_draft,
    filer_candidates,
    filer_name,
    mover_choice,
    plans_for,
)
from tests.domain.notifications import data as D

ALL_OF_H1 = ["P1", "P2", "P3", "P4"]  # P10 is removed: never listed


@pytest.mark.parametrize(
    ("procedure", "ticked"),
    [
        (Procedure.MOVE_WITHIN, True),  # the whole household usually moves
        (Procedure.MOVE_OUT, True),
        (Procedure.SPECIAL_MOVE_OUT, True),
        (Procedure.MERGER, True),  # a 合併 takes the whole household
        (Procedure.SEPARATION, False),  # the clerk ticks who separates
        (Procedure.HEAD_CHANGE, False),  # nobody moves: the 続柄 change
    ],
)
def test_who_is_listed_and_ticked(procedure: Procedure, ticked: bool) -> None:
    choice = mover_choice(procedure, D.H1, None, D.TODAY)
    assert [m.key for m in choice.movers] == ALL_OF_H1 and choice.checked is ticked


def test_a_move_in_lists_the_certificate_and_a_protected_person_is_flagged() -> None:
    paper = mover_choice(Procedure.MOVE_IN, None, D.certificate(), D.TODAY)
    assert paper.checked and [m.key for m in paper.movers][:1] == ["new-1"]
    assert not any(m.card_continued for m in paper.movers)
    assert mover_choice(Procedure.MOVE_IN, None, None, D.TODAY).movers == ()
    protected = mover_choice(Procedure.MOVE_WITHIN, D.H4, None, D.TODAY)
    assert protected.protected == {"P7"}


def test_a_separation_with_nobody_ticked_yet_proposes_the_household_as_it_is() -> None:
    # The screen asks for the plans as soon as the household opens, before any tick.
    plans = plans_for(Procedure.SEPARATION, D.H1, [])
    assert [(p.household_id, [r.key for r in p.roles]) for p in plans] == [("H1", ALL_OF_H1)]
    two = plans_for(
        Procedure.SEPARATION, D.H1, [D.mover(D.H1.members[2]), D.mover(D.H1.members[3])]
    )
    new = next(p for p in two if p.household_id is None)
    assert [r.relationship for r in new.roles] == ["世帯主", ""]  # the clerk types the rest


def test_a_move_out_plans_only_who_stays() -> None:
    plans = plans_for(Procedure.MOVE_OUT, D.H1, [D.mover(p) for p in D.H1.members[:2]])
    assert [p.household_id for p in plans] == ["H1"] and not plans[0].at_new_address
    assert {r.key for r in plans[0].roles} == {"P3", "P4"}


def _answers(procedure: Procedure, **kw: object) -> Answers:
    listed = tuple(D.mover(p) for p in D.H1.members if p.status == "resident")
    fields: dict[str, object] = {
        "notification_id": "7d3f6c1e-0d5a-4f55-9d0e-5b3f1c2a9e01",
        "procedure": procedure,
        "municipality_code": D.KITAMI,
        "office": "端野総合支所",
        "filed_on": D.TODAY,
        "moved_on": D.TODAY,
        "listed": listed,
        "chosen": (),
        "plans": plans_for(procedure, D.H1, ()),
        "filer": D.filer_self(D.H1.members[0]),
        "source": D.H1,
        "identity_documents": D.DOCS,
    }
    fields.update(kw)
    return Answers(**fields)  # type: ignore[arg-type]


def test_no_draft_without_a_date_a_mover_or_the_household() -> None:
    one = (D.mover(D.H1.members[0]),)
    assert assemble_draft(_answers(Procedure.MOVE_WITHIN, chosen=one)) is not None
    assert assemble_draft(_answers(Procedure.MOVE_WITHIN, chosen=one, moved_on=None)) is None
    assert assemble_draft(_answers(Procedure.MOVE_WITHIN)) is None  # nobody ticked
    assert assemble_draft(_answers(Procedure.MOVE_WITHIN, chosen=one, source=None)) is None


def test_a_head_change_files_the_persons_whose_relationship_changes() -> None:
    plans = plans_for(Procedure.HEAD_CHANGE, D.H1, ())
    typed = {"P1": "夫", "P2": "世帯主"}
    (plan,) = plans
    roles = tuple(
        type(r)(key=r.key, relationship=typed.get(r.key, r.relationship)) for r in plan.roles
    )
    plans = (type(plan)(household_id=plan.household_id, roles=roles),)
    draft = assemble_draft(
        _answers(Procedure.HEAD_CHANGE, plans=plans, filer=D.filer_self(D.H1.members[1]))
    )
    assert draft is not None and [(m.key, m.relationship) for m in draft.movers] == [
        ("P1", "夫"),
        ("P2", "世帯主"),
    ]
    assert draft.new_address is None  # a 世帯変更 moves no address
    findings = check(draft, CheckContext(D.TODAY, D.REGISTER, D.TOWNS))
    # Only what the session adds before checking (the 版数 read from the cache) is missing.
    assert {f.code for f in findings if f.severity == Severity.ERROR} == {"relied_version_missing"}


def test_the_address_typed_and_the_certificate_s_old_address() -> None:
    one = (D.mover(D.H1.members[0]),)
    draft = assemble_draft(
        _answers(
            Procedure.MOVE_WITHIN,
            chosen=one,
            new_address=" 北海道北見市北進町123番地4 ",
            katagaki=" ",
            postal_code="090-0052",
            destination_head_name="  ",
        )
    )
    assert draft is not None and draft.new_address is not None
    assert draft.new_address.text == "北海道北見市北進町123番地4"
    assert draft.new_address.katagaki is None and draft.new_address.postal_code == "090-0052"
    assert draft.old_address == D.OLD_H1 and draft.destination_head_name is None
    c = D.certificate()
    movers = mover_choice(Procedure.MOVE_IN, None, c, D.TODAY).movers
    move_in = assemble_draft(
        _answers(Procedure.MOVE_IN, source=None, certificate=c, listed=movers, chosen=movers)
    )
    assert move_in is not None and move_in.old_address is not None
    assert move_in.old_address.text == c.address and move_in.move_out_certificate == c


def test_who_may_file() -> None:
    c = D.certificate()
    movers = mover_choice(Procedure.MOVE_IN, None, c, D.TODAY).movers
    assert [k for _l, k in filer_candidates(None, movers)] == [m.key for m in movers]
    assert [k for _l, k in filer_candidates(D.H1, ())] == ALL_OF_H1
    assert filer_name("P2", D.H1, ()) == "北見　花子"
    assert filer_name("new-1", None, movers) == movers[0].name
