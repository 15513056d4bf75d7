"""Killing a child process at a marker line (the crash tests): no sleeps, no timing."""

from __future__ import annotations

import os
import signal
import subprocess


def kill_at_marker(
    proc: subprocess.Popen[str], marker: str, nth: int = 1, *, go_on: bool = False
) -> list[str]:
    """Read the child's stdout; SIGKILL it when the `nth` line starting with `marker` arrives
    (or stop at a line "done"); wait for it and return the lines seen. With `go_on`, the child
    waits on stdin at each marker line: the earlier ones are answered with a line."""
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line.strip())
        if line.startswith(marker) and sum(s.startswith(marker) for s in seen) == nth:
            os.kill(proc.pid, signal.SIGKILL)
            break
        if line.startswith(marker) and go_on:
            assert proc.stdin is not None
            proc.stdin.write("\n")
            proc.stdin.flush()
        if line.startswith("done"):
            break
    proc.wait(timeout=60)
    return seen
