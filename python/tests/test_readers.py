from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from pytest_benchmem import load_long_df, memory_from_pytest_benchmark


def bench(name: str, params: Dict[str, Any] | None, blob: Dict[str, Any] | None, data: list[float]) -> Dict[str, Any]:
    fullname = f"tests/test_x.py::{name}"
    return {
        "group": None,
        "name": name,
        "fullname": fullname,
        "params": params,
        "param": None,
        "extra_info": {} if blob is None else {"benchmem": blob},
        "options": {},
        "stats": {"min": min(data), "max": max(data), "data": data, "rounds": len(data)},
    }


def write_run(path: Path, *benches: Dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"machine_info": {}, "commit_info": {}, "benchmarks": list(benches), "datetime": "x", "version": "5.3.1"})
    )
    return path


BLOB = {"peak_bytes": [1221536, 1221600], "total_bytes": [308357376] * 2, "allocations": [9001, 9001], "retained_bytes": [0, 0]}


def test_long_df_one_row_per_benchmark_and_repeat(tmp_path: Path) -> None:
    base = write_run(
        tmp_path / "base.json",
        bench("test_a[10]", {"n": 10}, BLOB, [0.1, 0.2, 0.3]),
        bench("test_b", None, None, [1.0]),
    )
    head = write_run(tmp_path / "head.json", bench("test_a[10]", {"n": 10}, {**BLOB, "peak_bytes": [5, 6]}, [0.5]))
    df, unit = load_long_df([base, head], metric="peak")
    assert unit == "B"
    assert list(df.columns) == ["run", "id", "name", "group", "n", "repeat", "value"]
    assert df.to_dict("records") == [
        {"run": "base", "id": "tests/test_x.py::test_a[10]", "name": "test_a[10]", "group": None, "n": 10, "repeat": 0, "value": 1221536},
        {"run": "base", "id": "tests/test_x.py::test_a[10]", "name": "test_a[10]", "group": None, "n": 10, "repeat": 1, "value": 1221600},
        {"run": "head", "id": "tests/test_x.py::test_a[10]", "name": "test_a[10]", "group": None, "n": 10, "repeat": 0, "value": 5},
        {"run": "head", "id": "tests/test_x.py::test_a[10]", "name": "test_a[10]", "group": None, "n": 10, "repeat": 1, "value": 6},
    ]
    df, unit = load_long_df(base, metric="allocations")
    assert unit == "count" and list(df["value"]) == [9001, 9001]
    df, unit = load_long_df([base], metric="allocated")
    assert list(df["value"]) == [308357376] * 2
    df, unit = load_long_df([base, head], metric="time")
    assert unit == "s"
    assert list(df["value"]) == [0.1, 0.2, 0.3, 1.0, 0.5]
    assert df[df["id"] == "tests/test_x.py::test_b"]["n"].isna().all()


def test_labels_disambiguate_same_stem(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a" / "run.json", bench("t", None, BLOB, [1.0]))
    b = write_run(tmp_path / "b" / "run.json", bench("t", None, BLOB, [1.0]))
    df, _ = load_long_df([a, b], metric="peak")
    assert sorted(set(df["run"])) == ["a/run", "b/run"]


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
    nomem = write_run(tmp_path / "nomem.json", bench("t", None, None, [1.0]))
    with pytest.raises(ValueError, match="no benchmark has memory"):
        load_long_df([nomem], metric="peak")
    with pytest.raises(ValueError, match="unknown metric .rss."):
        load_long_df([nomem], metric="rss")


def test_missing_pandas_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = write_run(tmp_path / "r.json", bench("t", None, BLOB, [1.0]))
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'benchmem\[pandas\]'"):
        load_long_df([run])


def test_memory_from_pytest_benchmark(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r.json", bench("t", None, BLOB, [1.0]), bench("u", None, None, [1.0]))
    mem = memory_from_pytest_benchmark(run)
    assert list(mem) == ["tests/test_x.py::t"]
    r = mem["tests/test_x.py::t"]
    assert r.peak == 1221536 and r.repeats == 2
    assert r.stat("allocs", "stddev") == 0.0
    assert r.stat("peak", "max") == 1221600
    assert r.blob() == BLOB
