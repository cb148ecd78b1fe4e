"""measure_memory / measure_peak in a plain python3 (passes in a fresh process started
under the preload) and under the preload (in-process), and isolated passes.

The adaptive series below were recorded by running the same actions through
pytest-benchmem 0.5.5's ``measure_memory`` (memray counts a bytearray(n) as one
(n + 1)-byte allocation, as the preload does): its rule is at least 2 passes, at most
10, stopping once 2 passes in a row set no new minimum peak.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

from conftest import clean_env

ADAPTIVE = """
    import json
    from pytest_benchmem import measure_memory, is_active

    def run(sizes, **kw):
        it = iter(sizes)
        return measure_memory(lambda: bytearray(next(it)), **kw).series("peak_bytes")

    K = 1000
    out = {
        "active": is_active(),
        "constant": run([100 * K] * 20),
        "decreasing": run([100 * K - i * K for i in range(20)]),
        "drop_then_flat": run([100 * K, 90 * K, 80 * K, 80 * K, 80 * K, 70 * K] + [60 * K] * 10),
        "increasing": run([100 * K + i * K for i in range(20)]),
        "late_drop": run([100 * K, 100 * K, 100 * K, 50 * K] + [50 * K] * 10),
        "max_time_zero": run([100 * K - i * K for i in range(20)], max_time=0.0),
        "repeats_5": run([100 * K - i * K for i in range(20)], repeats=5),
        "no_warmup": run([100 * K - i * K for i in range(20)], warmup=0, max_passes=4),
    }
    print(json.dumps(out))
"""

#: pytest-benchmem 0.5.5's answers for ADAPTIVE (the warmup call takes the first size).
REFERENCE = {
    "constant": [100001, 100001, 100001],
    "decreasing": [99001, 98001, 97001, 96001, 95001, 94001, 93001, 92001, 91001, 90001],
    "drop_then_flat": [90001, 80001, 80001, 80001],
    "increasing": [101001, 102001, 103001],
    "late_drop": [100001, 100001, 50001, 50001, 50001],
    "max_time_zero": [99001, 98001],
    "repeats_5": [99001, 98001, 97001, 96001, 95001],
    "no_warmup": [100001, 99001, 98001, 97001],
}


def python(source: str, preload: Optional[Path] = None, cwd: Optional[Path] = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = clean_env()
    if preload is not None:
        env["LD_PRELOAD"] = str(preload)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def last_json(proc: subprocess.CompletedProcess[str]) -> Dict[str, Any]:
    data: Dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


@pytest.mark.parametrize("under_preload", [False, True], ids=["plain-python3", "under-preload"])
def test_adaptive_passes_as_pytest_benchmem(preload: Path, under_preload: bool) -> None:
    out = last_json(python(ADAPTIVE, preload if under_preload else None))
    assert out.pop("active") is under_preload
    assert out == REFERENCE


def test_measure_peak_in_a_plain_python3(preload: Path) -> None:
    out = last_json(
        python(
            """
            import json, functools
            from pytest_benchmem import measure_peak, measure_memory, is_active
            big = bytearray(10**6)                       # closed over: sent by value
            r = measure_memory(lambda: bytearray(10**6), calls=3, repeats=2)
            s = measure_memory(lambda: bytes(len(big)), setup=lambda: [0] * 10**6, repeats=1, warmup=0)
            print(json.dumps({
                "active": is_active(),
                "peak": measure_peak(lambda: bytearray(10**6)),
                "calls": r.as_dict(),
                "setup": s.as_dict(),
            }))
            """
        )
    )
    assert out["active"] is False
    assert out["peak"] == 1_000_001
    # Three calls in one pass: the peak is one bytearray, the counts are the sequence's totals.
    assert out["calls"] == {
        "peak_bytes": [1_000_001] * 2,
        "allocations": [3] * 2,
        "total_bytes": [3_000_003] * 2,
        "retained_bytes": [0] * 2,
    }
    # setup's list is untracked; bytes(n) is one n + 33 byte object.
    assert out["setup"]["allocations"] == [1] and out["setup"]["total_bytes"] == [1_000_033]


def test_isolated_passes_record_rss(preload: Path, tmp_path: Path) -> None:
    (tmp_path / "workload.py").write_text("def build():\n    return bytearray(10**7)\n")
    out = last_json(
        python(
            """
            import json, sys
            sys.path.insert(0, ".")
            from workload import build
            from pytest_benchmem import measure_memory
            r = measure_memory(build, isolate=True)
            lam = measure_memory(lambda: bytearray(10**6), isolate=True, repeats=2, calls=2)
            print(json.dumps({"blob": r.as_dict(), "rss": r.rss_bytes, "lam": lam.as_dict()}))
            """,
            cwd=tmp_path,
        )
    )
    blob = out["blob"]
    assert blob["peak_bytes"] == [10_000_001] * 3 and blob["allocations"] == [1] * 3
    # The process's resident high-water holds the 10 MB it touched, plus the interpreter.
    assert len(blob["rss_bytes"]) == 3 and all(10_000_000 < v < 1024**3 for v in blob["rss_bytes"])
    assert out["rss"] == min(blob["rss_bytes"])
    assert out["lam"]["allocations"] == [2, 2] and out["lam"]["total_bytes"] == [2_000_002] * 2


def test_errors_are_clear(preload: Path) -> None:
    proc = python(
        """
        import threading
        from pytest_benchmem import measure_memory, WorkerError
        lock = threading.Lock()
        try:
            measure_memory(lambda: lock, isolate=True)
        except WorkerError as e:
            print("unpicklable:", e)
        def boom():
            raise KeyError("inside")
        try:
            measure_memory(boom)
        except KeyError as e:
            print("raised:", repr(e), type(e.__cause__).__name__, "boom" in str(e.__cause__))
        for bad in (dict(repeats=0), dict(calls=0), dict(warmup=-1), dict(max_time=-1.0)):
            try:
                measure_memory(lambda: None, **bad)
            except ValueError as e:
                print("bad:", e)
        """
    )
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("unpicklable: benchmem: measure_memory: the benchmarked callable")
    assert "cannot be pickled (TypeError: cannot pickle '_thread.lock' object)" in lines[0]
    assert lines[1] == "raised: KeyError('inside') RemoteTraceback True"
    assert lines[2:] == [
        "bad: repeats must be an integer >= 1, got 0",
        "bad: calls must be an integer >= 1, got 0",
        "bad: warmup must be an integer >= 0, got -1",
        "bad: max_time must be a number of seconds >= 0, got -1.0",
    ]


def test_missing_preload_is_one_line(tmp_path: Path) -> None:
    env = clean_env(BENCHMEM_PRELOAD=str(tmp_path / "nope.so"))
    proc = subprocess.run(
        [sys.executable, "-c", "from pytest_benchmem import measure_peak\nmeasure_peak(lambda: None)"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120,
    )
    assert proc.returncode == 1
    assert f"WorkerError: benchmem: BENCHMEM_PRELOAD={tmp_path / 'nope.so'} does not exist" in proc.stderr
