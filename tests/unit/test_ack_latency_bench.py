"""The ack-latency benchmark's own arithmetic: percentiles, pairing, CPU readings."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "ack_latency.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ack_latency_bench", PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_percentiles_are_nearest_rank() -> None:
    bench = _bench()
    values = [float(v) for v in range(1, 151)]  # 1..150
    assert bench.pct(values, 99) == 149.0  # the second slowest of 150
    assert bench.pct(values, 50) == 75.0
    assert bench.pct([3.0], 99) == 3.0


def test_side_by_side_sends_each_request_to_the_app_then_the_floor() -> None:
    bench = _bench()
    reqs = [bench.Req("reply", f"body{i}", "application/json") for i in range(3)]
    paired = bench.side_by_side(reqs)
    assert [(r.target, r.body) for r in paired] == [
        ("app", "body0"), ("floor", "body0"), ("app", "body1"), ("floor", "body1"),
        ("app", "body2"), ("floor", "body2"),
    ]
    assert all(r.kind == "reply" for r in paired)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_cpu_time_of_a_process_grows_with_work() -> None:
    bench = _bench()
    before = bench.cpu_ms(os.getpid())
    sum(i * i for i in range(2_000_000))
    after = bench.cpu_ms(os.getpid())
    assert before is not None and after is not None and after > before
    assert bench.cpu_ms(2**22 + 12345) is None  # no such process
