"""Budget (DESIGN.md §10): synthetic data, 1,000,000 persons in ≤ 60 s, streamed (flat memory).

    uv run python benchmarks/bench_gen.py [--persons 1000000] [--seed 1] [--dir D]

Runs `madoguchi-gen`'s writer (app.synthetic.write_jsonl: generate, encode, fsync, atomic
replace) once, then a baseline in the same run: the same number of households, each the
constant first household of the data, encoded and written the same way. The baseline is the
floor any generator pays for JSON and I/O; the difference is the cost of making the data.
Prints wall and CPU time, persons/s, the ratio to the 60 s budget, the ratio to the baseline,
the file size and the process's peak memory (ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.synthetic import household_dicts, write_jsonl

BUDGET_S = 60.0


def baseline(path: Path, households: int, template: dict[str, object]) -> None:
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with path.open("w", encoding="utf-8", newline="\n") as out:
        batch: list[str] = []
        for _ in range(households):
            batch.append(encode(template))
            if len(batch) >= 2000:
                batch.append("")
                out.write("\n".join(batch))
                batch.clear()
        batch.append("")
        out.write("\n".join(batch))
        out.flush()
        os.fsync(out.fileno())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: temp)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        out = Path(tmp) / "municipality.jsonl"
        wall, cpu = time.perf_counter(), time.process_time()
        households = write_jsonl(out, args.persons, args.seed)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        size = out.stat().st_size
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        # A typical household (the first after the fixed showcases), same person volume.
        template = list(household_dicts(60, args.seed))[6]
        base_households = max(1, args.persons // len(template["members"]))  # type: ignore[arg-type]
        b_out = Path(tmp) / "baseline.jsonl"
        b_wall = time.perf_counter()
        baseline(b_out, base_households, template)
        b_wall = time.perf_counter() - b_wall

    rate = args.persons / wall if wall else float("inf")
    print(f"synthetic data: {args.persons:,} persons, {households:,} households, seed {args.seed}")
    print(f"  generator   wall {wall:7.2f} s  cpu {cpu:7.2f} s  {rate:10,.0f} persons/s")
    print(f"  file        {size / 1e6:8.1f} MB   peak RSS {peak_mb:7.1f} MB")
    print(
        f"  baseline    wall {b_wall:7.2f} s  (constant household × {base_households:,}: "
        "JSON encode + write + fsync)"
    )
    print(
        f"  budget      {BUDGET_S:.0f} s for 1,000,000 persons → scaled ratio "
        f"{wall / (BUDGET_S * args.persons / 1_000_000):.2f} (≤ 1.00 passes)"
    )
    print(f"  vs baseline ratio {wall / b_wall:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
