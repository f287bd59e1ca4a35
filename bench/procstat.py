"""CPU time and memory of a process tree, read from /proc (Linux; psutil is not a dependency)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcSample:
    cpu_seconds: float  # user + system, the process and its live children
    rss_bytes: int  # current resident set size, summed over the tree
    peak_rss_bytes: int  # VmHWM (high-water mark) of the largest process in the tree


def _stat_fields(pid: int) -> list[str]:
    raw = (_PROC / str(pid) / "stat").read_text()
    # The command name is in parentheses and may contain spaces: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def _status_kb(pid: int, key: str) -> int:
    for line in (_PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def children_of(pid: int) -> list[int]:
    found = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat_fields(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue  # the process ended while we looked
    return found


def tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue.extend(children_of(current))
    return pids


def sample(pid: int) -> ProcSample:
    cpu, rss, peak = 0.0, 0, 0
    for member in tree(pid):
        try:
            fields = _stat_fields(member)
            # Fields 14 and 15 of /proc/<pid>/stat (utime, stime), 0-based 11 and 12 after the name.
            cpu += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
            rss += _status_kb(member, "VmRSS") * 1024
            peak = max(peak, _status_kb(member, "VmHWM") * 1024)
        except (OSError, ValueError, IndexError):
            continue
    return ProcSample(cpu, rss, peak)
