"""Frozen entry point: the same `madoguchi` command as the console script."""

import sys

from cli.main import main

if __name__ == "__main__":
    sys.exit(main())
