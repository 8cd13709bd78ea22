"""How many CPUs this process may use: the affinity mask, capped by the cgroup quota.

``os.cpu_count()`` is the machine's count: in a container limited to 2 CPUs on a
64-core host it would start 64 workers fighting over 2 CPUs.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cpus(cpu_max: Path = CPU_MAX) -> int:
    """At least 1."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    quota = cgroup_quota(cpu_max)
    return max(1, min(count, quota) if quota is not None else count)


def cgroup_quota(cpu_max: Path = CPU_MAX) -> int | None:
    """cgroup v2's ``cpu.max`` ("QUOTA PERIOD" or "max PERIOD") rounded up; None when
    there is no limit or no readable file."""
    try:
        quota, period = cpu_max.read_text(encoding="ascii").split()[:2]
        if quota == "max":
            return None
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError, ZeroDivisionError):
        return None
