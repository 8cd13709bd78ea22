"""Who a process is: enough to tell the process labship started from one that later got
the same pid (after a crash or a reboot), before labship signals it."""

from __future__ import annotations

import os


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22),
    with the boot id, so a pid reused after a reboot does not match; None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            boot = fh.read().strip()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat.rpartition(")")[2].split()
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def alive(pid: int) -> bool:
    """True while ``pid`` exists (a zombie counts until reaped)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def leads_group(pid: int) -> bool:
    """True when ``pid`` is its process group's leader (started in a new session)."""
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False
