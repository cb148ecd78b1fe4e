"""Readers of saved runs: pytest-benchmark JSON files with ``extra_info.benchmem`` (the
layout: docs/architecture.md, "The saved run").

``load_long_df`` needs pandas (``pip install 'benchmem[pandas]'``); the rest is stdlib.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Sequence, Tuple, Union

from .measure import MemoryResult, canonical_metric, metric_by_name

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = ["RunLike", "benchmem_blob", "load_long_df", "load_run", "memory_from_pytest_benchmark", "run_labels"]

RunLike = Union[str, "os.PathLike[str]", Mapping[str, Any]]

#: Columns of ``load_long_df`` that are not params.
BASE_COLUMNS = ("run", "id", "name", "group", "repeat", "value")


def load_run(run: RunLike) -> Dict[str, Any]:
    """A pytest-benchmark document from a path (or the document itself), checked for the
    ``benchmarks`` key. Errors name the file: FileNotFoundError, ValueError."""
    if isinstance(run, Mapping):
        doc = dict(run)
        where = "<document>"
    else:
        path = Path(run)
        where = str(path)
        try:
            with open(path, "rb") as fh:
                doc = json.load(fh)
        except FileNotFoundError:
            raise FileNotFoundError(f"{where}: no such file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{where}: not a readable JSON file ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ValueError(f"{where}: not a pytest-benchmark file (no 'benchmarks' list)")
    return doc


def benchmem_blob(bench: Mapping[str, Any]) -> Any:
    """``extra_info["benchmem"]`` of one benchmark of a saved run (the memory blob), or None.

    Not checked further: callers test for a mapping (a file written by something else may
    hold anything there)."""
    extra = bench.get("extra_info")
    if isinstance(extra, Mapping):
        return extra.get("benchmem")
    return None


def memory_from_pytest_benchmark(run: RunLike) -> Dict[str, MemoryResult]:
    """``{fullname: MemoryResult}`` for every benchmark of one run that has memory."""
    doc = load_run(run)
    out: Dict[str, MemoryResult] = {}
    for bench in doc["benchmarks"]:
        blob = benchmem_blob(bench)
        if isinstance(blob, Mapping):
            out[str(bench.get("fullname") or bench.get("name"))] = MemoryResult.from_blob(blob)
    return out


def _stem(run: RunLike, index: int) -> str:
    return f"run{index}" if isinstance(run, Mapping) else Path(run).stem


def _with_parent(run: RunLike, index: int) -> str:
    if isinstance(run, Mapping):
        return _stem(run, index)
    parent = Path(run).parent.name
    return f"{parent}/{Path(run).stem}" if parent not in ("", "..") else Path(run).stem


def _path_key(run: RunLike) -> Tuple[Any, ...]:
    """Equal for two paths that name the file the same way (as Rust compares paths:
    ``a/run.json`` and ``./a/run.json`` differ, ``a//run.json`` and ``a/run.json`` do not)."""
    if isinstance(run, Mapping):
        return ("document", id(run))
    text = os.fspath(run)
    return (text == "." or text.startswith("./"), PurePosixPath(text).parts)


def run_labels(runs: Sequence[RunLike]) -> List[str]:
    """The label of each run, as ``benchmem compare`` gives them: the file stem, or
    ``parent/stem`` when another file has the same stem, then `` (N)`` for the N-th time
    the same label comes back (the same file given twice). A document (not a file) is
    ``run<index>``. tests/golden/labels.json holds the cases both sides are tested against."""
    stems = [_stem(run, i) for i, run in enumerate(runs)]
    keys = [_path_key(run) for run in runs]
    labels = [
        _with_parent(run, i)
        if any(stems[j] == stems[i] and keys[j] != keys[i] for j in range(len(runs)))
        else stems[i]
        for i, run in enumerate(runs)
    ]
    out = list(labels)
    for i, label in enumerate(labels):
        n = labels[:i].count(label)
        if n:
            out[i] = f"{label} ({n + 1})"
    return out


def _param_column(name: str) -> str:
    return f"param:{name}" if name in BASE_COLUMNS else name


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def load_long_df(
    runs: Union[RunLike, Iterable[RunLike]], metric: str = "peak"
) -> Tuple["pandas.DataFrame", str]:
    """A tidy DataFrame of one metric and its unit.

    One row per benchmark and repeat (for ``time``: per timed round of the saved
    ``stats.data``, or the round minimum when the file has no data), with columns
    ``run`` (the run's label, see :func:`run_labels`), ``id`` (pytest node id), ``name``,
    ``group``, one column per param (prefixed ``param:`` when it clashes with these),
    ``repeat`` and ``value`` in
    raw units: bytes (``"B"``) for peak/allocated/retained, a ``"count"`` for
    allocations, seconds (``"s"``) for time.
    """
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            "load_long_df needs pandas: install it with `pip install 'benchmem[pandas]'` "
            "(or `pip install pandas`)"
        ) from None

    if isinstance(runs, (str, os.PathLike, Mapping)):
        run_list: List[RunLike] = [runs]
    else:
        run_list = list(runs)
    if not run_list:
        raise ValueError("load_long_df: no runs given")
    name = canonical_metric(metric)
    if name == "time":
        key, unit = None, "s"
    else:
        m = metric_by_name(name)
        key, unit = m.key, ("B" if m.is_bytes else "count")

    rows: List[Dict[str, Any]] = []
    param_names: List[str] = []
    for label, run in zip(run_labels(run_list), run_list):
        doc = load_run(run)
        for bench in doc["benchmarks"]:
            if key is None:
                stats = bench.get("stats") or {}
                data = stats.get("data") or ([stats["min"]] if "min" in stats else [])
                values: List[Any] = [float(v) for v in data]
            else:
                blob = benchmem_blob(bench)
                if not isinstance(blob, Mapping) or key not in blob:
                    continue
                values = [int(v) for v in blob[key]]
            params = bench.get("params") or {}
            base: Dict[str, Any] = {
                "run": label,
                "id": bench.get("fullname") or bench.get("name"),
                "name": bench.get("name"),
                "group": bench.get("group"),
            }
            for pname, pvalue in params.items():
                col = _param_column(str(pname))
                if col not in param_names:
                    param_names.append(col)
                base[col] = _scalar(pvalue)
            for i, v in enumerate(values):
                rows.append({**base, "repeat": i, "value": v})
    if not rows:
        what = "timing" if key is None else f"memory ({name})"
        raise ValueError(
            f"no benchmark has {what} data in {', '.join(map(str, run_labels(run_list)))}"
            + ("" if key is None else " (measure with --benchmark-memory or the benchmark_memory fixture)")
        )
    columns = ["run", "id", "name", "group", *param_names, "repeat", "value"]
    df = pd.DataFrame.from_records(rows, columns=columns)
    return df, unit
