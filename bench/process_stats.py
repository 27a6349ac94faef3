"""CPU time, resident memory and core pinning of processes, read from /proc (Linux only)."""

from __future__ import annotations

import logging
import os
import resource
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PAGE_SIZE_BYTES = os.sysconf("SC_PAGE_SIZE")
# Linux refuses an unlimited RLIMIT_NOFILE, so an unlimited hard limit is capped here.
UNLIMITED_OPEN_FILES_CAP = 65536


@dataclass(frozen=True)
class ProcessSample:
    """CPU seconds (user + system, all threads) and resident set size of one process."""

    cpu_seconds: float
    rss_bytes: int


def sample_process(pid: int) -> ProcessSample:
    # The command name in field 2 may contain spaces, so fields are counted after its ")".
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return ProcessSample((utime + stime) / CLOCK_TICKS_PER_SECOND, resident_pages * PAGE_SIZE_BYTES)


def usable_cores() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def plan_cores() -> tuple[int | None, int | None]:
    """Return (server core, load generator core), or (None, None) with fewer than two cores."""
    cores = usable_cores()
    if len(cores) < 2:
        return None, None
    return cores[0], cores[1]


def pin_process(pid: int, core: int) -> None:
    """Pin every thread of ``pid`` to ``core``; threads it starts later inherit the mask."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), {core})
        except ProcessLookupError:
            continue


def raise_open_file_limit() -> int:
    """Raise this process's soft limit of open files to the hard limit and return it.

    Each stream holds a socket on both sides and a recording file in the
    server, so a few hundred streams pass the usual soft limit of 1,024.
    Child processes inherit the raised limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_OPEN_FILES_CAP if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        logger.info("Raised the open file limit from %d to %d", soft, target)
        return target
    return soft
