"""Readers of saved runs: pytest-benchmark JSON files, with memory in
``extra_info.benchmem`` (the layout: docs/architecture.md, "The saved run").

Reads are per metric, as pytest-benchmem's: :func:`from_pytest_benchmark` reads timing,
:func:`memory_from_pytest_benchmark` memory, :func:`load_samples` either, each as
``(label, samples, unit)`` with one :class:`Sample` (``id``, ``value``, ``dims``) per
benchmark; :func:`load_long_df` stacks runs into one tidy DataFrame (it needs pandas,
``pip install 'benchmem[pandas]'``; the rest is the standard library).

A sample's dims are the benchmark's params, the scalar values of its ``extra_info``
(not benchmem's own keys) and ``node.module``, ``node.class``, ``node.func`` and
``node.group`` from its node id and group.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path, PurePosixPath
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from .results import STATS, MemoryResult, canonical_metric, compute_stat, metric_by_name, metric_of_field

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = [
    "DimValue",
    "RunLike",
    "Sample",
    "benchmem_blob",
    "discover_runs",
    "from_pytest_benchmark",
    "load_long_df",
    "load_run",
    "load_samples",
    "memory_from_pytest_benchmark",
    "memory_results",
    "run_labels",
]

RunLike = Union[str, "os.PathLike[str]", Mapping[str, Any]]
#: A value of a dim: categorical (str) or numeric.
DimValue = Union[str, int, float]

#: Key of the memory blob in a benchmark's ``extra_info``.
BENCHMEM_KEY = "benchmem"
#: Prefix of dims taken from the node id and the group.
NODE_DIM_PREFIX = "node."
#: What pytest-benchmark writes for a param it could not serialize: not an axis.
_UNSERIALIZABLE = "UNSERIALIZABLE["
#: The columns of :func:`load_long_df` that are not dims.
RESERVED_COLUMNS = ("snapshot", "id", "value", "repeat")


class Sample(NamedTuple):
    """One benchmark's value of one metric: its id (pytest node id), the value and the
    dims (params, scalar ``extra_info``, ``node.*``)."""

    id: str
    value: float
    dims: Mapping[str, DimValue]


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
        return extra.get(BENCHMEM_KEY)
    return None


def _bench_id(bench: Mapping[str, Any]) -> str:
    return str(bench.get("fullname") or bench.get("name"))


def _is_dim_value(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        return not value.startswith(_UNSERIALIZABLE)
    return isinstance(value, (int, float))


def _node_dims(bench: Mapping[str, Any]) -> Dict[str, DimValue]:
    """``node.group``, ``node.module``, ``node.func`` and ``node.class`` from the group and
    the node id (``module.py::Class::func[params]``), where they can be told."""
    out: Dict[str, DimValue] = {}
    group = bench.get("group")
    if isinstance(group, str) and group:
        out[f"{NODE_DIM_PREFIX}group"] = group
    fullname = bench.get("fullname")
    if not isinstance(fullname, str) or "::" not in fullname:
        return out
    module, _, rest = fullname.partition("::")
    if module:
        out[f"{NODE_DIM_PREFIX}module"] = module
    segments = rest.split("::")
    func = segments[-1].split("[", 1)[0]
    if func:
        out[f"{NODE_DIM_PREFIX}func"] = func
    if len(segments) > 1:
        out[f"{NODE_DIM_PREFIX}class"] = segments[-2]
    return out


def _dims(bench: Mapping[str, Any]) -> Dict[str, DimValue]:
    """The node dims, then the params and the scalar ``extra_info`` values (benchmem's own
    keys left out); a param or extra_info value wins over a node dim of the same name."""
    dims = _node_dims(bench)
    for source in (bench.get("params"), bench.get("extra_info")):
        if isinstance(source, Mapping):
            for key, value in source.items():
                if str(key).startswith(BENCHMEM_KEY) or not _is_dim_value(value):
                    continue
                dims[str(key)] = value
    return dims


def _label(run: RunLike) -> str:
    return "run" if isinstance(run, Mapping) else Path(run).stem


def from_pytest_benchmark(path: RunLike, *, metric: str = "min") -> Tuple[str, List[Sample], str]:
    """Timing out of a pytest-benchmark file: ``(label, samples, "s")``, one sample per
    benchmark whose ``stats`` has ``metric`` (``min``, ``mean``, ``median``, ``iqr``, any
    key of pytest-benchmark's statistics). ``label`` is the file's stem."""
    doc = load_run(path)
    samples = []
    for bench in doc["benchmarks"]:
        stats = bench.get("stats")
        if isinstance(stats, Mapping) and isinstance(stats.get(metric), (int, float)):
            samples.append(Sample(_bench_id(bench), float(stats[metric]), _dims(bench)))
    return _label(path), samples, "s"


def _unit(field: str) -> str:
    return "B" if metric_of_field(field).is_bytes else ""


def memory_from_pytest_benchmark(
    path: RunLike,
    *,
    field: str = "peak_bytes",
    reduce: Optional[Callable[[List[float]], float]] = None,
) -> Tuple[str, List[Sample], str]:
    """Memory out of a pytest-benchmark file: ``(label, samples, unit)``, one sample per
    benchmark that has a memory blob and the field.

    ``field`` is a blob key (``peak_bytes``, ``total_bytes``, ``allocations``,
    ``retained_bytes``, ``rss_bytes``) or a metric name (``peak``, ``allocated``, ...).
    Without ``reduce`` the value is the headline (:class:`MemoryResult`: the minimum peak,
    the other fields of that pass, the minimum rss); ``reduce`` (for example
    ``statistics.median``) reduces the per-pass series instead. ``unit`` is ``"B"`` for
    bytes, ``""`` for the allocation count."""
    metric = metric_of_field(field)
    doc = load_run(path)
    where = "<document>" if isinstance(path, Mapping) else str(path)
    samples = []
    for bench in doc["benchmarks"]:
        blob = benchmem_blob(bench)
        if not isinstance(blob, Mapping):
            continue
        try:
            result = MemoryResult.from_blob(blob)
        except ValueError as e:
            raise ValueError(f"{where}: benchmark {_bench_id(bench)!r}: {e}") from None
        values = result.values(metric.key)
        if not values:
            continue  # not measured for this benchmark (rss of an in-process pass)
        if reduce is not None:
            value = float(reduce([float(v) for v in values]))
        else:
            headline: Optional[int] = getattr(result, metric.key)
            if headline is None:
                continue
            value = float(headline)
        samples.append(Sample(_bench_id(bench), value, _dims(bench)))
    return _label(path), samples, _unit(metric.key)


def _reducer(stat: str) -> Callable[[List[float]], float]:
    if stat not in STATS:
        raise ValueError(f"unknown stat {stat!r} (choose from {', '.join(STATS)})")
    return lambda values: compute_stat(values, stat)


def load_samples(path: RunLike, *, metric: str = "time", stat: Optional[str] = None) -> Tuple[str, List[Sample], str]:
    """One run, one metric: ``(label, samples, unit)``. ``metric`` is ``time``, ``peak``,
    ``allocated``, ``allocations`` (``allocs``), ``retained`` or ``rss``; ``stat`` a
    statistic over the passes (``min``, ``max``, ``mean``, ``median``, ``stddev``), or
    for ``time`` any key of pytest-benchmark's ``stats`` (default ``min``); without it,
    memory reads the headline."""
    name = canonical_metric(metric, rss=True)
    if name == "time":
        return from_pytest_benchmark(path, metric=stat or "min")
    reduce = _reducer(stat) if stat is not None else None
    return memory_from_pytest_benchmark(path, field=metric_by_name(name, rss=True).key, reduce=reduce)


def memory_results(run: RunLike) -> Dict[str, MemoryResult]:
    """``{node id: MemoryResult}`` for every benchmark of one run that has memory."""
    doc = load_run(run)
    out: Dict[str, MemoryResult] = {}
    for bench in doc["benchmarks"]:
        blob = benchmem_blob(bench)
        if isinstance(blob, Mapping):
            try:
                out[_bench_id(bench)] = MemoryResult.from_blob(blob)
            except ValueError as e:
                raise ValueError(f"benchmark {_bench_id(bench)!r}: {e}") from None
    return out


def discover_runs(root: Union[str, "os.PathLike[str]"] = ".benchmarks") -> List[Path]:
    """The JSON files under ``root`` (default: pytest-benchmark's storage, ``.benchmarks``),
    sorted; empty when it does not exist."""
    base = Path(root)
    return sorted(base.rglob("*.json")) if base.is_dir() else []


def _stem(run: RunLike, index: int) -> str:
    return f"run{index}" if isinstance(run, Mapping) else Path(run).stem


def _label_parts(run: RunLike, index: int) -> List[str]:
    """The stem, then the parent directories from the nearest out (``.`` and the root
    left out, as the command reads paths); a document has its stem alone."""
    if isinstance(run, Mapping):
        return [_stem(run, index)]
    dirs = [c for c in PurePosixPath(os.fspath(run)).parent.parts if c != "/"]
    return [_stem(run, index), *reversed(dirs)]


def _label_at(parts: Sequence[str], depth: int) -> str:
    return "/".join(reversed(parts[: depth + 1]))


def run_labels(runs: Sequence[RunLike]) -> List[str]:
    """The label of each run, as ``benchmem compare`` gives them: the file stem; where
    another file has the same stem, as many parent directories as tell the two apart
    (``a/x/run`` and ``b/x/run``); then `` (N)`` for the N-th time the same label comes
    back (the same file given twice, which ``benchmem compare`` refuses). A document (not
    a file) is ``run<index>``. tests/golden/labels.json holds the cases both sides are
    tested against."""
    parts = [_label_parts(run, i) for i, run in enumerate(runs)]
    labels: List[str] = []
    for i, mine in enumerate(parts):
        rivals = [o for j, o in enumerate(parts) if j != i and o[0] == mine[0] and o != mine]
        depth = next(
            (d for d in range(len(mine)) if all(_label_at(o, d) != _label_at(mine, d) for o in rivals)),
            len(mine) - 1,
        )
        labels.append(_label_at(mine, depth))
    out = list(labels)
    for i, label in enumerate(labels):
        n = labels[:i].count(label)
        if n:
            out[i] = f"{label} ({n + 1})"
    return out


def _per_pass_rows(run: RunLike, label: str, metric: str, where: str) -> Tuple[List[Dict[str, Any]], str]:
    """One row per pass (memory) or timed round (time) of every benchmark of one run."""
    doc = load_run(run)
    rows: List[Dict[str, Any]] = []
    if metric == "time":
        unit = "s"
    else:
        unit = _unit(metric_by_name(metric, rss=True).key)
    for bench in doc["benchmarks"]:
        if metric == "time":
            stats = bench.get("stats") or {}
            data = stats.get("data") or ([stats["min"]] if "min" in stats else [])
            values: List[Any] = [float(v) for v in data]
        else:
            blob = benchmem_blob(bench)
            if not isinstance(blob, Mapping):
                continue
            try:
                result = MemoryResult.from_blob(blob)
            except ValueError as e:
                raise ValueError(f"{where}: benchmark {_bench_id(bench)!r}: {e}") from None
            values = [float(v) for v in result.values(metric)]
        dims = _dims(bench)
        for i, v in enumerate(values):
            rows.append({"snapshot": label, "id": _bench_id(bench), "repeat": i, "value": v, **dims})
    return rows, unit


def _strip_pivot_from_id(test_id: str, pivot_value: Any) -> str:
    """The id without the pivot value's token in its ``[...]`` params, so that rows
    differing only in the pivot pair up (``test_build[legacy-100]`` -> ``test_build[100]``)."""
    head, sep, rest = test_id.partition("[")
    if not sep:
        return test_id
    payload = rest[:-1] if rest.endswith("]") else rest
    tokens = payload.split("-")
    integral = isinstance(pivot_value, float) and pivot_value.is_integer()
    token = str(int(pivot_value)) if integral else str(pivot_value)
    if token in tokens:
        tokens.remove(token)
    return f"{head}[{'-'.join(tokens)}]" if tokens else head


def _pivot(df: "pandas.DataFrame", pivot: str) -> "pandas.DataFrame":
    col = pivot[len("param:"):] if pivot.startswith("param:") else pivot
    if df.empty:
        return df
    dims = [c for c in df.columns if c not in RESERVED_COLUMNS]
    if col not in dims:
        raise ValueError(f"pivot {pivot!r} is not a dim of this run; its dims: {', '.join(sorted(map(str, dims)))}")
    df = df.copy()
    df["id"] = [_strip_pivot_from_id(i, v) for i, v in zip(df["id"], df[col])]
    df["snapshot"] = df[col].astype(str)
    out = df.drop(columns=[col])
    if len(out) > 1 and not out["id"].duplicated().any():
        warnings.warn(
            f"pivot {pivot!r} left every row unpaired (no benchmark has two values of {col!r} under one id)",
            stacklevel=3,
        )
    return out


def load_long_df(
    runs: Union[RunLike, Iterable[RunLike]],
    *,
    metric: str = "time",
    stat: Optional[str] = None,
    labels: Optional[Sequence[str]] = None,
    pivot: Optional[str] = None,
    per_pass: bool = False,
) -> Tuple["pandas.DataFrame", str]:
    """Runs (one path or several) stacked into one tidy DataFrame of one metric, and its
    unit: ``(df, unit)``.

    One row per run and benchmark, with columns ``snapshot`` (the run's label: the file
    stem, ``parent/stem`` when stems clash, see :func:`run_labels`; or ``labels``), ``id``
    (the pytest node id), ``value`` (the headline of ``metric``, or ``stat`` over its
    passes: see :func:`load_samples`), then one column per dim (params, scalar
    ``extra_info``, ``node.module``/``node.func``/``node.class``/``node.group``; NaN
    where a benchmark lacks it). ``unit`` is ``"s"``, ``"B"`` or ``""`` (a count).

    ``pivot`` (one run only) makes a dim the series axis instead of the run: its values go
    to ``snapshot`` and it leaves the ids, so rows differing only in it pair up.
    ``per_pass=True`` gives one row per measured pass (time: per timed round saved in
    ``stats.data``) with a ``repeat`` column, and ignores ``stat``.
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
    if pivot is not None and len(run_list) > 1:
        raise ValueError(f"pivot folds one run along a dim; got {len(run_list)} runs")
    if labels is not None and len(labels) != len(run_list):
        raise ValueError(f"labels has {len(labels)} entries for {len(run_list)} runs")
    name = canonical_metric(metric, rss=True)
    if stat is not None and name != "time" and stat not in STATS:
        raise ValueError(f"unknown stat {stat!r} (choose from {', '.join(STATS)})")
    label_list = list(labels) if labels is not None else run_labels(run_list)

    rows: List[Dict[str, Any]] = []
    unit = ""
    for label, run in zip(label_list, run_list):
        where = "<document>" if isinstance(run, Mapping) else str(run)
        if per_pass:
            more, unit = _per_pass_rows(run, label, name, where)
            rows.extend(more)
        else:
            _, samples, unit = load_samples(run, metric=name, stat=stat)
            rows.extend({"snapshot": label, "id": s.id, "value": s.value, **s.dims} for s in samples)
    base = ["snapshot", "id", "repeat", "value"] if per_pass else ["snapshot", "id", "value"]
    columns = list(base)
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    df = pd.DataFrame.from_records(rows, columns=columns)
    return (_pivot(df, pivot) if pivot is not None else df), unit
