"""What the command-line sub-commands print: results to stdout, problems to stderr, a line at a time and
flushed (the commands run under `make run` and CI, where output is piped). The code uses no `print`."""

from __future__ import annotations

import sys


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def err(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
