"""Lease holders: a process killed with SIGKILL is seen as dead at once; a live one, one on
another machine, or a malformed record is not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from bot import liveness

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")


def test_a_killed_process_is_dead_and_a_live_one_is_not() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        holder = liveness.holder_for(child.pid)
        assert not liveness.is_dead(holder)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 5
        while not liveness.is_dead(holder) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert liveness.is_dead(holder)
    finally:
        if child.poll() is None:
            child.kill()
    assert not liveness.is_dead(liveness.me())


def test_unknowable_holders_are_not_dead() -> None:
    host, boot, pid, started = liveness.me().split("|")
    assert not liveness.is_dead(f"another-host|{boot}|{pid}|1")
    assert not liveness.is_dead(None) and not liveness.is_dead("") and not liveness.is_dead("x|y")
    assert liveness.is_dead(f"{host}|not-this-boot|{pid}|{started}")  # the machine rebooted
    # A pid reused by another process: same pid, another start time.
    assert liveness.is_dead(f"{host}|{boot}|{pid}|{int(started) + 1}")
