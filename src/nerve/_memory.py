"""How much memory this process may still allocate, read once per question (never cached: it
changes as other processes run)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["available_memory", "format_bytes"]


def available_memory() -> int:
    """Bytes this process may still allocate: MemAvailable, capped by a cgroup limit if any."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = 8 << 30  # unknown: a guess small enough not to let a large job be killed
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),  # cgroup v2
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            limit = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if limit.isdigit():  # "max": no limit
            try:
                used = int(Path(usage_file).read_text().strip())
            except (OSError, ValueError):
                used = 0
            avail = min(avail, max(int(limit) - used, 0))
    return avail


def format_bytes(n_bytes: int) -> str:
    """A memory size for an error message, in GiB (TiB from 1024 GiB).

    >>> format_bytes(3 << 30), format_bytes(5 << 40)
    ('3.0 GiB', '5 TiB')
    """
    gib = n_bytes / 2**30
    return f"{gib / 1024:,.0f} TiB" if gib >= 1024 else f"{gib:.1f} GiB"
