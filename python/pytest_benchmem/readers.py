"""Readers of saved runs: pytest-benchmark JSON files with ``extra_info.benchmem`` (SPEC §5).

``load_long_df`` needs pandas (``pip install 'benchmem[pandas]'``); the rest is stdlib.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Sequence, Tuple, Union

from .measure import MemoryResult, metric_by_name

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = ["RunLike", "benchmem_blob", "load_run", "memory_from_pytest_benchmark", "load_long_df"]

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


def _labels(runs: Sequence[RunLike]) -> List[str]:
    """File stems, made unique with the parent directory (then an index) on a clash."""
    stems: List[str] = []
    for i, run in enumerate(runs):
        stems.append(f"run{i}" if isinstance(run, Mapping) else Path(run).stem)
    labels = list(stems)
    for i, run in enumerate(runs):
        if stems.count(stems[i]) > 1 and not isinstance(run, Mapping):
            p = Path(run)
            labels[i] = f"{p.parent.name}/{p.stem}" if p.parent.name else p.stem
    seen: Dict[str, int] = {}
    for i, label in enumerate(labels):
        if labels.count(label) > 1:
            seen[label] = seen.get(label, 0) + 1
            labels[i] = f"{label}#{seen[label]}"
    return labels


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
    ``run`` (file stem), ``id`` (pytest node id), ``name``, ``group``, one column per
    param (prefixed ``param:`` when it clashes with these), ``repeat`` and ``value`` in
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
    name = metric.strip().lower()
    if name == "time":
        key, unit = None, "s"
    else:
        m = metric_by_name(name)
        key, unit, name = m.key, ("B" if m.is_bytes else "count"), m.name

    rows: List[Dict[str, Any]] = []
    param_names: List[str] = []
    for label, run in zip(_labels(run_list), run_list):
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
            f"no benchmark has {what} data in {', '.join(map(str, _labels(run_list)))}"
            + ("" if key is None else " (measure with --benchmark-memory or the benchmark_memory fixture)")
        )
    columns = ["run", "id", "name", "group", *param_names, "repeat", "value"]
    df = pd.DataFrame.from_records(rows, columns=columns)
    return df, unit
