"""`madoguchi-gen --persons N --seed S --out FILE.jsonl`: the synthetic municipality."""

from __future__ import annotations

import argparse
import sys
import time

from app.synthetic.generator import write_jsonl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="madoguchi-gen",
        description="北見市に似た架空の住民データ(JSONL、1行1世帯)を生成します。",
    )
    parser.add_argument("--persons", type=int, required=True, help="人数(除票を含む)")
    parser.add_argument("--seed", type=int, default=1, help="乱数の種(同じ種なら同じ出力)")
    parser.add_argument("--out", required=True, help="出力するJSONLファイル")
    args = parser.parse_args(argv)
    if args.persons < 0:
        parser.error("--persons は0以上です。")
    started = time.perf_counter()
    households = write_jsonl(args.out, args.persons, args.seed)
    elapsed = time.perf_counter() - started
    print(
        f"{args.persons}人・{households}世帯を {args.out} に書き出しました({elapsed:.1f}秒)。",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
