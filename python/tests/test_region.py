"""The region API over ctypes, checked in fresh interpreters with and without the preload."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict

from conftest import clean_env


def run_py(source: str, preload: Path | None) -> Dict[str, Any]:
    env = clean_env()
    if preload is not None:
        env["LD_PRELOAD"] = str(preload)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result: Dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_without_preload_region_is_a_noop() -> None:
    out = run_py(
        """
        import json
        from pytest_benchmem import region, is_active, measure_call
        ran = []
        with region("load") as r:
            ran.append(1)
        stats, value = measure_call("x", lambda: 42)
        print(json.dumps({"active": is_active(), "stats": r.stats, "ran": ran, "error": r.error,
                          "mc": [stats, value]}))
        """,
        None,
    )
    assert out == {"active": False, "stats": None, "ran": [1], "error": None, "mc": [None, 42]}


def test_empty_region_is_zero_at_every_stack_depth(preload: Path) -> None:
    # CPython maps a 16 KiB interpreter-stack chunk when a frame lands on a chunk
    # boundary; neither `with region` nor measure_call may let that count.
    out = run_py(
        """
        import json, sys
        from pytest_benchmem import region, measure_call, is_active
        sys.setrecursionlimit(10_000)
        def noop():
            pass
        bad = []
        def at_depth(n, depth):
            if n:
                return at_depth(n - 1, depth)
            with region("empty") as r:
                pass
            if r.stats is None or r.stats.allocations or r.stats.total_bytes or r.stats.peak_bytes:
                bad.append(["with", depth, str(r.stats)])
            s, _ = measure_call("empty", noop)
            if s.allocations or s.total_bytes:
                bad.append(["call", depth, str(s)])
        for depth in range(0, 320):
            at_depth(depth, depth)
        print(json.dumps({"active": is_active(), "bad": bad}))
        """,
        preload,
    )
    assert out == {"active": True, "bad": []}


def test_region_counts_exactly(preload: Path) -> None:
    out = run_py(
        """
        import json, contextlib
        from pytest_benchmem import region
        res = {}
        with region("keep") as r:
            kept = bytearray(10_000_000)
        res["keep"] = r.stats.as_dict()
        with region("drop") as r:
            tmp = bytearray(10_000_000)
            del tmp
        res["drop"] = r.stats.as_dict()
        with region("outer") as o:
            with region("inner") as i:
                a = bytearray(1_000)
            b = bytearray(5_000)
        res["outer"], res["inner"] = o.stats.as_dict(), i.stats.as_dict()
        try:
            with region("raises") as e:
                raise KeyError("boom")
        except KeyError:
            res["raised"] = e.stats.as_dict()
        with contextlib.ExitStack() as stack:
            x = stack.enter_context(region("stack"))
        res["stack"] = x.stats.as_dict()
        again = region("again")
        res["again"] = []
        for _ in range(3):
            with again:
                y = bytearray(100_000)
                del y
            res["again"].append(again.stats.as_dict())
        print(json.dumps(res))
        """,
        preload,
    )
    # bytearray(n) asks for n + 1 bytes (the trailing NUL), in one malloc.
    assert out["keep"] == {"peak_bytes": 10_000_001, "total_bytes": 10_000_001, "allocations": 1, "retained_bytes": 10_000_001}
    assert out["drop"] == {"peak_bytes": 10_000_001, "total_bytes": 10_000_001, "allocations": 1, "retained_bytes": 0}
    assert out["inner"] == {"peak_bytes": 1_001, "total_bytes": 1_001, "allocations": 1, "retained_bytes": 1_001}
    assert out["outer"] == {"peak_bytes": 6_002, "total_bytes": 6_002, "allocations": 2, "retained_bytes": 6_002}
    # An exception may allocate, so no exact answer: the region still closes with
    # consistent numbers.
    raised = out["raised"]
    assert set(raised) == {"peak_bytes", "total_bytes", "allocations", "retained_bytes"}
    assert raised["total_bytes"] >= raised["peak_bytes"] >= raised["retained_bytes"]
    assert out["stack"] == {"peak_bytes": 0, "total_bytes": 0, "allocations": 0, "retained_bytes": 0}
    assert out["again"] == [{"peak_bytes": 100_001, "total_bytes": 100_001, "allocations": 1, "retained_bytes": 0}] * 3


def test_memory_pass_is_deterministic(preload: Path) -> None:
    out = run_py(
        """
        import json
        from pytest_benchmem import run_memory_pass
        def empty():
            pass
        def big():
            return bytearray(10_000_000)
        def ints():
            return list(range(100_000))
        res = {}
        for f in (empty, big, ints):
            r, value = run_memory_pass(f.__name__, f, repeats=5, warmup=1)
            res[f.__name__] = r.as_dict()
        r, _ = run_memory_pass("setup", lambda data: len(data), setup=lambda: ((bytearray(5_000_000),), {}), repeats=3)
        res["setup"] = r.as_dict()
        print(json.dumps(res))
        """,
        preload,
    )
    assert out["empty"] == {"peak_bytes": [0] * 5, "total_bytes": [0] * 5, "allocations": [0] * 5, "retained_bytes": [0] * 5}
    assert out["big"]["total_bytes"] == [10_000_001] * 5
    assert out["big"]["allocations"] == [1] * 5
    assert len(set(out["ints"]["allocations"])) == 1
    assert len(set(out["ints"]["total_bytes"])) == 1
    assert out["ints"]["total_bytes"][0] >= 100_000 * 8  # at least the list's pointer array
    # setup's 5 MB allocation runs untracked before every pass: the call itself allocates nothing.
    assert out["setup"]["allocations"] == [0, 0, 0]
    assert out["setup"]["total_bytes"] == [0, 0, 0]
