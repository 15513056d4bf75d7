"""Reads a pytest log; prints its closing counts as 'N passed, N failed, N skipped' (.ci/run
repeats one such line per Python at the end, after the Windows leg's output)."""

import re
import sys

with open(sys.argv[1], encoding="utf-8", errors="replace") as log:
    lines = [line for line in log if re.search(r"\d+ (passed|failed|error)", line)]
last = lines[-1] if lines else ""


def count(word: str) -> int:
    found = re.search(rf"(\d+) {word}", last)
    return int(found.group(1)) if found else 0


failed = count("failed") + count("error")
print(f"{count('passed')} passed, {failed} failed, {count('skipped')} skipped")
