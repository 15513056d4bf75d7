"""Budget (DESIGN.md §10): 住民票 render, household of 4, warm ≤ 50 ms; first render after
start (fonts) ≤ 1.5 s.

    uv run python benchmarks/bench_print.py [--runs 30]

Measures, each with its baseline from the same run:
- warm render of a household of 4 (1 sheet) and of 9 (3 sheets): printing.render_certificate
  with all layers (地紋, microtext, QR, seal, IVS names), median of --runs;
- baseline: a bare reportlab page (same font, already loaded) carrying the same text, one
  drawString per printed field, one page per sheet;
- first render after start: a fresh Python process that imports printing, loads IPAmj明朝 and
  renders the household of 4 (the time a clerk waits after starting the client if the
  preload has not finished), against the same process doing only the bare page.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reportlab.pdfgen.canvas import Canvas  # noqa: E402

from app.domain import certificates as C  # noqa: E402
from app.domain.identifiers import juminhyo_code_check_digit, my_number_check_digit  # noqa: E402
from app.domain.records import HistoryEntry, Household, Person  # noqa: E402

WARM_BUDGET_S = 0.050
FIRST_BUDGET_S = 1.5
TODAY = date(2026, 11, 26)


def _household(n: int) -> Household:
    members = []
    for i in range(n):
        jb, mb = f"{10_000 + i:010d}", f"{50_000 + i:011d}"
        members.append(
            Person(
                person_id=f"P{i:04d}",
                juminhyo_code=jb + str(juminhyo_code_check_digit(jb)),
                my_number=mb + str(my_number_check_digit(mb)),
                version=1,
                status="resident",
                name="葛\U000e0102西　" + "一二三四五六七八九"[i] + "郎",
                name_kana="カサイ イチロウ",
                birth_date=date(1960 + i, 1 + i, 1 + i),
                sex="male" if i % 2 == 0 else "female",
                relationship="世帯主" if i == 0 else "子",
                honseki="北海道網走市南六条東一丁目1番地",
                hittosha="葛\U000e0102西　一郎",
                became_resident_on=date(1990, 4, 1),
                address_set_on=date(2015, 6, 1),
                address_set_reported_on=date(2015, 6, 10),
                previous_address="札幌市中央区北一条西二丁目1番地",
                history=(HistoryEntry(date(2015, 6, 1), "転入", "札幌市中央区から転入"),),
            )
        )
    return Household(
        "H0001", "012084", "090-0024", "北海道北見市北五条東二丁目1番地", None, "P0000",
        tuple(members),
    )  # fmt: skip


def document(n: int) -> C.CertificateDocument:
    h = _household(n)
    head = h.member("P0000")
    r = C.CertificateRequest(
        C.Requester(
            C.RequesterKind.SELF, C.PersonRef(head.name, h.address, head.birth_date, "P0000")
        ),
        (C.IdentityDocument.MY_NUMBER_CARD,),
        items=frozenset({C.Item.HEAD_AND_RELATIONSHIP, C.Item.HONSEKI}),
    )
    d = C.decide(r, h, TODAY)
    return C.build_document(
        r, d, h, issuance_no="T01-20261126-1", terminal_no="T01", issued_on=TODAY
    )


def bare_page(doc: C.CertificateDocument) -> bytes:
    """The same text on plain pages: the floor any reportlab rendering pays."""
    from printing.fonts import get_fonts

    fonts = get_fonts()
    buf = io.BytesIO()
    c = Canvas(buf, pageCompression=1, initialFontName=fonts.name)
    for sheet in doc.sheets:
        c.setFont(fonts.name, 9)
        y = 800.0
        lines = [doc.title, doc.issuance_no]
        lines += [f"{cell.label} {cell.value}" for cell in sheet.header]
        for block in sheet.blocks:
            lines += [f"{cell.label} {cell.value}" for row in block.rows for cell in row]
        if sheet.certified:
            lines += [doc.ending, doc.certification, doc.issued_on_text]
        for line in lines:
            c.drawString(40, y, fonts.encode(line))
            y -= 11
        c.showPage()
    c.save()
    return buf.getvalue()


def _measure(fn, runs: int) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """(median wall, min wall, median CPU) seconds. On a shared machine the CPU time and the
    minimum say more about the code than the median wall time does."""
    walls, cpus = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), min(walls), statistics.median(cpus)


_FIRST = """
import sys, time
t = time.perf_counter()
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
import bench_print
doc = bench_print.document(4)
{action}
print(time.perf_counter() - t)
"""


def _first(action: str) -> float:
    code = _FIRST.format(root=str(ROOT), bench=str(ROOT / "benchmarks"), action=action)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=30)
    args = p.parse_args(argv)

    import printing

    printing.get_fonts()
    seal = printing.demo_seal_png()  # issued certificates carry the server's signed seal
    ok = True
    for n in (4, 9):
        doc = document(n)
        printing.render_certificate(doc, sample=True, seal_png=seal)  # warm-up
        ours, ours_min, ours_cpu = _measure(
            lambda d=doc: printing.render_certificate(d, sample=True, seal_png=seal), args.runs
        )
        base, base_min, base_cpu = _measure(lambda d=doc: bare_page(d), args.runs)
        line = (
            f"warm render, household of {n} ({len(doc.sheets)} sheet(s)): median "
            f"{ours * 1000:.1f} ms (min {ours_min * 1000:.1f}, cpu {ours_cpu * 1000:.1f}); "
            f"bare reportlab {base * 1000:.1f} ms (min {base_min * 1000:.1f}, "
            f"cpu {base_cpu * 1000:.1f}); ratio {ours / base:.2f} (cpu {ours_cpu / base_cpu:.2f})"
        )
        if n == 4:
            line += f"; budget {WARM_BUDGET_S * 1000:.0f} ms ({ours / WARM_BUDGET_S:.2f})"
            ok &= ours <= WARM_BUDGET_S
        print(line)

    first = _first(
        "import printing; "
        "printing.render_certificate(doc, sample=True, seal_png=printing.demo_seal_png())"
    )
    first_bare = _first("bench_print.bare_page(doc)")
    print(
        f"first render after start: {first:.2f} s; bare reportlab (same font load) "
        f"{first_bare:.2f} s; ratio {first / first_bare:.2f}; budget {FIRST_BUDGET_S} s "
        f"({first / FIRST_BUDGET_S:.2f})"
    )
    ok &= first <= FIRST_BUDGET_S
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
