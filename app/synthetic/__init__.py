"""The synthetic municipality (北見市-like) for demos, tests and benchmarks: `madoguchi-gen`."""

from app.synthetic.generator import REFERENCE_DATE, generate, household_dicts, write_jsonl

__all__ = ["REFERENCE_DATE", "generate", "household_dicts", "write_jsonl"]
