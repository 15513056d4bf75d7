"""Render the sample 住民異動届 and 転出証明書 of docs/notifications.md (docs/images/*.png).

    uv run python tools/render_notification_samples.py [OUT_DIR]

The 届書 is the 特例転入 of the demo family moving in from 札幌市中央区 (the 転出証明書情報 of
the simulated 住基ネット, the virtual card resources/cards/movein_card.json); the 転出証明書 is
that of the test household H1 (tests/domain/notifications/data.py), with 見本. Needs poppler's
pdftoppm; PNGs at 80 dpi like the other form images.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from msgspec.structs import replace

import printing
from app.domain.certificates import DEMO_MUNICIPALITY
from app.domain.notifications import Address, Filer, FilerKind, HouseholdPlan, Mover, Role
from app.domain.notifications.forms import (
    build_move_out_certificate,
    build_notification_form,
    move_out_certificate_sheet,
)
from app.jukinet import SimulatedJukinet
from tests.domain.notifications import data as D

ROOT = Path(__file__).resolve().parents[1]


def special_move_in_pdf() -> bytes:
    today = date(2026, 4, 20)
    c = SimulatedJukinet.demo(today).held()[0]
    movers = tuple(
        Mover(
            key=f"new-{i + 1}",
            name=p.name,
            name_kana=p.name_kana,
            birth_date=p.birth_date,
            sex=p.sex,
            relationship=p.relationship,
            juminhyo_code=p.juminhyo_code,
            my_number=p.my_number,
            card_continued=p.card_holder,
        )
        for i, p in enumerate(c.persons)
    )
    d = replace(
        D.move_in(special=True),
        movers=movers,
        moved_on=c.planned_on,
        filer=Filer(kind=FilerKind.SELF, name=c.persons[0].name, phone="0157-00-0000"),
        move_out_certificate=c,
        old_address=Address(text=c.address, katagaki=c.katagaki),
        households=(
            HouseholdPlan(
                household_id=None,
                roles=tuple(Role(key=m.key, relationship=m.relationship) for m in movers),
                at_new_address=True,
            ),
        ),
    )
    form = build_notification_form(d, D.REGISTER, DEMO_MUNICIPALITY)
    return printing.render_notification_form(form)


def move_out_certificate_pdf() -> bytes:
    c = build_move_out_certificate(
        D.move_out(),
        D.REGISTER,
        municipality_name="北海道北見市",
        municipality_code="012084",
        certificate_no="北見-20260420-0001",
    )
    sheet = move_out_certificate_sheet(c, DEMO_MUNICIPALITY, D.TODAY)
    return printing.render_move_out_certificate(
        sheet, sample=True, municipality_name="北見市", seal_png=printing.demo_seal_png()
    )


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images"
    with tempfile.TemporaryDirectory() as tmp:
        for name, pdf in (
            ("notification-form", special_move_in_pdf()),
            ("move-out-certificate", move_out_certificate_pdf()),
        ):
            path = Path(tmp) / f"{name}.pdf"
            path.write_bytes(pdf)
            prefix = Path(tmp) / name
            subprocess.run(
                ["pdftoppm", "-r", "80", "-png", "-singlefile", str(path), str(prefix)], check=True
            )
            (out / f"{name}.png").write_bytes(prefix.with_suffix(".png").read_bytes())
            print(out / f"{name}.png")


if __name__ == "__main__":
    main()
