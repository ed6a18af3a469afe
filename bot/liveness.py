"""Who holds a lease, and whether that process is still alive.

A lease (a turn on a session, a queue-mode work item) records its holder as
``host|boot id|pid|process start``. A holder on this machine, from this boot, whose pid is
gone or now belongs to another process (a different start time) is dead: its lease is taken
back at once instead of after the 5-minute lease. A holder on another machine is judged by
its lease alone (we can't see its processes).
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

_PROC = Path("/proc")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return ""


@functools.cache
def boot_id() -> str:
    return _read(_PROC / "sys/kernel/random/boot_id") or "unknown"


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat),
    or "" when there is no such process (or no /proc)."""
    stat = _read(_PROC / str(pid) / "stat")
    if not stat:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def holder_for(pid: int) -> str:
    return f"{socket.gethostname()[:60]}|{boot_id()}|{pid}|{start_time(pid)}"


@functools.cache
def me() -> str:
    """This process, as a lease holder (cached: pid and start time never change; a forked
    child has another pid, so it must not inherit the cache — see ``os.register_at_fork``)."""
    return holder_for(os.getpid())


os.register_at_fork(after_in_child=me.cache_clear)


def is_dead(holder: str | None) -> bool:
    """True only when we can tell the holder's process is gone."""
    if not holder:
        return False
    parts = holder.split("|")
    if len(parts) != 4 or not parts[2].isdigit():
        return False
    host, boot, pid, started = parts
    if host != socket.gethostname()[:60] or boot_id() == "unknown":
        return False
    if boot != boot_id():
        return True  # the machine rebooted since
    if not started:
        return False  # no /proc when it was recorded: can't tell
    return start_time(int(pid)) != started
