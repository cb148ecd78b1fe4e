"""The readers of saved runs. The expected values of the reader tests were recorded by
running pytest-benchmem 0.5.5's readers (``load_long_df``, ``load_samples``,
``from_pytest_benchmark``, ``memory_from_pytest_benchmark``) on the same files."""

from __future__ import annotations

import json
import math
import statistics
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from pytest_benchmem import (
    Measurement,
    MemoryResult,
    Sample,
    discover_runs,
    from_pytest_benchmark,
    human_bytes,
    load_long_df,
    load_samples,
    memory_from_pytest_benchmark,
    memory_results,
)


def bench(
    fullname: str,
    group: Optional[str],
    params: Optional[Dict[str, Any]],
    extra: Dict[str, Any],
    data: List[float],
    blob: Optional[Dict[str, Any]],
) -> Dict[str, Any]:
    return {
        "group": group,
        "name": fullname.split("::")[-1],
        "fullname": fullname,
        "params": params,
        "param": None,
        "extra_info": dict(extra, **({"benchmem": blob} if blob else {})),
        "options": {},
        "stats": {
            "min": min(data),
            "max": max(data),
            "mean": sum(data) / len(data),
            "median": sorted(data)[len(data) // 2],
            "data": data,
            "rounds": len(data),
        },
    }


def write_run(path: Path, *benches: Dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"machine_info": {}, "commit_info": {}, "benchmarks": list(benches), "datetime": "x", "version": "5.3.1"}
    path.write_text(json.dumps(doc))
    return path


A = "tests/test_x.py::test_a[10-fast]"
B = "tests/test_x.py::TestK::test_b"
T = "tests/test_x.py::test_time_only"


@pytest.fixture
def runs(tmp_path: Path) -> List[Path]:
    """Two runs: a parametrized benchmark with extra_info, one in a class and a group
    (isolated: rss), one with time only and an unserializable param."""
    base = [
        bench(A, None, {"n": 10, "mode": "fast"}, {"op": "sort", "rows": 3, "blob2": [1, 2]}, [0.25, 0.5, 0.75],
              {"peak_bytes": [2048, 1024, 4096], "allocations": [3, 2, 5], "total_bytes": [3000, 2000, 5000]}),
        bench(B, "grp", None, {}, [1.0], {"peak_bytes": [10], "allocations": [1], "total_bytes": [10], "rss_bytes": [40960]}),
        bench(T, None, {"n": "UNSERIALIZABLE[<object>]"}, {}, [2.0], None),
    ]
    head = json.loads(json.dumps(base))
    head[0]["extra_info"]["benchmem"]["peak_bytes"] = [512, 8192, 512]
    return [write_run(tmp_path / "base.json", *base), write_run(tmp_path / "head.json", *head)]


COLUMNS = ["snapshot", "id", "value", "node.module", "node.func", "n", "mode", "op", "rows", "node.group", "node.class"]


def rows(df: Any) -> List[List[Any]]:
    return [[r["snapshot"], r["id"], r["value"]] for r in df.to_dict("records")]


@pytest.mark.parametrize(
    "metric, stat, unit, expected",
    [
        ("time", None, "s", [["base", A, 0.25], ["base", B, 1.0], ["base", T, 2.0], ["head", A, 0.25], ["head", B, 1.0], ["head", T, 2.0]]),
        ("time", "mean", "s", [["base", A, 0.5], ["base", B, 1.0], ["base", T, 2.0], ["head", A, 0.5], ["head", B, 1.0], ["head", T, 2.0]]),
        # The headline peak is the minimum; the other fields come from that pass.
        ("peak", None, "B", [["base", A, 1024.0], ["base", B, 10.0], ["head", A, 512.0], ["head", B, 10.0]]),
        ("peak", "max", "B", [["base", A, 4096.0], ["base", B, 10.0], ["head", A, 8192.0], ["head", B, 10.0]]),
        ("allocations", None, "", [["base", A, 2.0], ["base", B, 1.0], ["head", A, 3.0], ["head", B, 1.0]]),
        ("allocated", "median", "B", [["base", A, 3000.0], ["base", B, 10.0], ["head", A, 3000.0], ["head", B, 10.0]]),
    ],
)
def test_long_df_one_row_per_benchmark_as_pytest_benchmem(
    runs: List[Path], metric: str, stat: Optional[str], unit: str, expected: List[List[Any]]
) -> None:
    df, got_unit = load_long_df(runs, metric=metric, stat=stat)
    assert got_unit == unit
    assert list(df.columns) == COLUMNS
    assert rows(df) == expected
    first = df.to_dict("records")[0]
    assert first["node.module"] == "tests/test_x.py" and first["node.func"] == "test_a"
    assert first["mode"] == "fast" and first["op"] == "sort" and first["rows"] == 3


def test_long_df_rss_pivot_labels_and_dims(runs: List[Path]) -> None:
    df, unit = load_long_df(runs, metric="rss")
    assert unit == "B"
    assert list(df.columns) == ["snapshot", "id", "value", "node.group", "node.module", "node.func", "node.class"]
    assert rows(df) == [["base", B, 40960.0], ["head", B, 40960.0]]
    assert df.to_dict("records")[0]["node.class"] == "TestK"

    with pytest.warns(UserWarning, match="unpaired"):
        df, _ = load_long_df(runs[0], metric="peak", pivot="param:mode")
    assert list(df.columns) == ["snapshot", "id", "value", "node.module", "node.func", "n", "op", "rows", "node.group", "node.class"]
    assert df.to_dict("records")[0]["snapshot"] == "fast"
    assert df.to_dict("records")[0]["id"] == "tests/test_x.py::test_a[10]"

    df, _ = load_long_df(runs, metric="peak", labels=["before", "after"])
    assert sorted(set(df["snapshot"])) == ["after", "before"]

    with pytest.raises(ValueError, match="one run"):
        load_long_df(runs, metric="peak", pivot="mode")
    with pytest.raises(ValueError, match="labels has 1 entries for 2 runs"):
        load_long_df(runs, metric="peak", labels=["x"])
    with pytest.raises(ValueError, match="unknown stat 'p99'"):
        load_long_df(runs, metric="peak", stat="p99")


def test_long_df_per_pass_keeps_every_pass(runs: List[Path]) -> None:
    df, unit = load_long_df(runs[0], metric="peak", per_pass=True)
    assert unit == "B"
    assert list(df.columns)[:4] == ["snapshot", "id", "repeat", "value"]
    assert [[r["id"], r["repeat"], r["value"]] for r in df.to_dict("records")] == [
        [A, 0, 2048.0], [A, 1, 1024.0], [A, 2, 4096.0], [B, 0, 10.0],
    ]
    df, unit = load_long_df(runs[0], metric="time", per_pass=True)
    assert unit == "s" and list(df["value"]) == [0.25, 0.5, 0.75, 1.0, 2.0]


def test_samples_readers_as_pytest_benchmem(runs: List[Path]) -> None:
    dims_a: Dict[str, Any] = {"node.module": "tests/test_x.py", "node.func": "test_a", "n": 10, "mode": "fast", "op": "sort", "rows": 3}
    dims_b: Dict[str, Any] = {"node.group": "grp", "node.module": "tests/test_x.py", "node.func": "test_b", "node.class": "TestK"}
    assert load_samples(runs[0], metric="allocations") == ("base", [Sample(A, 2.0, dims_a), Sample(B, 1.0, dims_b)], "")
    label, samples, unit = from_pytest_benchmark(runs[0], metric="max")
    assert (label, unit) == ("base", "s")
    assert samples == [
        Sample(A, 0.75, dims_a),
        Sample(B, 1.0, dims_b),
        Sample(T, 2.0, {"node.module": "tests/test_x.py", "node.func": "test_time_only"}),
    ]
    label, samples, unit = memory_from_pytest_benchmark(runs[0], field="peak_bytes", reduce=statistics.mean)
    assert unit == "B" and [(s.id, s.value) for s in samples] == [(A, 2389.3333333333335), (B, 10.0)]
    assert memory_from_pytest_benchmark(runs[0])[1][0].value == 1024.0
    assert memory_from_pytest_benchmark(runs[0], field="rss")[1] == [Sample(B, 40960.0, dims_b)]
    with pytest.raises(ValueError, match="unknown memory field 'bogus'"):
        memory_from_pytest_benchmark(runs[0], field="bogus")
    results = memory_results(runs[1])
    assert sorted(results) == [B, A]
    assert results[A].peak_bytes == 512 and results[A].peak_bytes_max == 8192


def test_discover_runs(tmp_path: Path) -> None:
    write_run(tmp_path / ".benchmarks" / "Linux-CPython-3.11-64bit" / "0002_b.json")
    write_run(tmp_path / ".benchmarks" / "Linux-CPython-3.11-64bit" / "0001_a.json")
    assert [p.name for p in discover_runs(tmp_path / ".benchmarks")] == ["0001_a.json", "0002_b.json"]
    assert discover_runs(tmp_path / "nowhere") == []


def test_labels_disambiguate_same_stem(tmp_path: Path) -> None:
    blob = {"peak_bytes": [1], "allocations": [1], "total_bytes": [1]}
    a = write_run(tmp_path / "a" / "run.json", bench("m.py::t", None, None, {}, [1.0], blob))
    b = write_run(tmp_path / "b" / "run.json", bench("m.py::t", None, None, {}, [1.0], blob))
    df, _ = load_long_df([a, b], metric="peak")
    assert sorted(set(df["snapshot"])) == ["a/run", "b/run"]


def test_reader_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: not a readable JSON file"):
        load_long_df([bad])
    other = tmp_path / "other.json"
    other.write_text('{"x": 1}')
    with pytest.raises(ValueError, match="other.json: not a pytest-benchmark file"):
        load_long_df([other])
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_long_df([tmp_path / "missing.json"])
    broken = write_run(tmp_path / "broken.json", bench("m.py::t", None, None, {}, [1.0], {"peak_bytes": [1]}))
    with pytest.raises(ValueError, match="broken.json: benchmark 'm.py::t': benchmem blob has no 'allocations' series"):
        load_long_df([broken], metric="peak")
    with pytest.raises(ValueError, match="unknown metric 'bytes'"):
        load_long_df([broken], metric="bytes")
    # No benchmark with memory: an empty frame with the base columns, as pytest-benchmem.
    nomem = write_run(tmp_path / "nomem.json", bench("m.py::t", None, None, {}, [1.0], None))
    df, unit = load_long_df([nomem], metric="peak")
    assert df.empty and list(df.columns) == ["snapshot", "id", "value"] and unit == "B"


def test_missing_pandas_is_a_clear_error(runs: List[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'benchmem\[pandas\]'"):
        load_long_df(runs)


def test_memory_result_api_as_pytest_benchmem() -> None:
    # pytest-benchmem 0.5.5's values for the same samples.
    r = MemoryResult((Measurement(300, 3, 900), Measurement(100, 1, 700), Measurement(200, 2, 800)))
    assert (r.peak_bytes, r.peak_bytes_max, r.allocations, r.total_bytes, r.rss_bytes, r.repeats) == (100, 300, 1, 700, None, 3)
    assert r.representative == Measurement(100, 1, 700)
    assert r.series("peak_bytes") == [300, 100, 200] and r.series("rss_bytes") == [None, None, None]
    assert r.as_dict() == {"peak_bytes": [300, 100, 200], "allocations": [3, 1, 2], "total_bytes": [900, 700, 800]}
    assert MemoryResult.from_blob(r.as_dict()) == r
    iso = MemoryResult.from_blob({"peak_bytes": [5, 4], "allocations": [1, 1], "total_bytes": [5, 4], "rss_bytes": [40, 30]})
    assert iso.rss_bytes == 30 and iso.as_dict()["rss_bytes"] == [40, 30]
    # benchmem's own: retained, metric names as series keys, statistics.
    ours = MemoryResult.from_blob({"peak_bytes": 7, "allocations": 1, "total_bytes": 7, "retained_bytes": 7})
    assert ours.retained_bytes == 7 and ours.series("allocs") == [1] and ours.stat("peak", "mean") == 7.0
    assert ours.as_dict() == {"peak_bytes": [7], "allocations": [1], "total_bytes": [7], "retained_bytes": [7]}
    with pytest.raises(ValueError, match="no 'total_bytes' series"):
        MemoryResult.from_blob({"peak_bytes": [1], "allocations": [1]})
    with pytest.raises(ValueError, match="differ in length"):
        MemoryResult.from_blob({"peak_bytes": [1, 2], "allocations": [1], "total_bytes": [1]})
    with pytest.raises(ValueError, match="at least one"):
        MemoryResult(())


def test_human_bytes_takes_any_number() -> None:
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    assert human_bytes(np.int64(1_000_001)) == "977 KiB"
    assert human_bytes(np.uint32(1024)) == "1.00 KiB"
    assert human_bytes(np.float64(1221536.0)) == "1.16 MiB"
    assert human_bytes(np.float32(512)) == "512 B"
    assert human_bytes(Decimal("2048")) == "2.00 KiB" and human_bytes(Fraction(3, 1)) == "3 B"
    assert human_bytes(float("nan")) == "\u2014" and human_bytes(np.float64("nan")) == "\u2014"
    # The documented snippet: a value out of load_long_df's frame.
    df = pd.DataFrame({"value": [1_000_001]})
    assert human_bytes(df["value"].iloc[0]) == "977 KiB"
    for bad in ("1024", None, True, b"1", 1j, [1]):
        with pytest.raises(TypeError, match="human_bytes expects a number of bytes"):
            human_bytes(bad)
    assert math.isclose(float(np.int64(5)), 5.0)
