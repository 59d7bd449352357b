"""How much memory this process may use: the container's limit where there is one, else RAM."""

from __future__ import annotations

import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def memory_limit(cgroup: Path = CGROUP) -> int:
    """Bytes: the cgroup's memory limit (v2 ``memory.max``, v1 ``memory.limit_in_bytes``) when
    one is set below the machine's physical memory, else the physical memory. A container's
    limit is what the kernel kills the process at, so sizing by RAM there would be wrong."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for name in ("memory.max", "memory/memory.limit_in_bytes"):
        try:
            text = (cgroup / name).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < physical:  # "max" or v1's huge number: no limit
            return int(text)
    return physical
