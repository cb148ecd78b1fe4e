"""The ``benchmem_*`` benchmark type.

A benchmark whose name matches ``benchmem_<name>`` (functions, methods) or
``Benchmem<Name>`` reports one exact figure of its body, chosen by the attribute
``benchmem_metric`` on the function, its class or its module:

- ``"peak"`` (default): high-water of live bytes allocated by the body;
- ``"allocated"``: sum of the sizes the body requested;
- ``"allocations"``: number of allocation calls;
- ``"retained"``: bytes allocated by the body and still live when it returned.

Measured by the benchmem preload, in one of two ways:

- asv's benchmark process already runs under the preload (``benchmem run -- asv run``):
  the body is measured right there with ``pytest_benchmem.measure_call``, as a region
  named after the benchmark (a row of benchmem's table);
- otherwise the benchmark is run again in a child process started under
  ``benchmem run``: asv's own benchmark script with its ``run`` command, on the same
  benchmark directory, benchmark id and working directory (so ``setup``, parameters and
  ``setup_cache`` behave as in the parent), and the child's result is returned.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from asv_runner.benchmarks._base import Benchmark
from pytest_benchmem import RegionStats, is_active, measure_call

__all__ = ["METRICS", "BenchmemBenchmark", "export_as_benchmark"]

# metric -> (RegionStats field, asv unit, asv benchmark type)
METRICS: Dict[str, Tuple[str, str, str]] = {
    "peak": ("peak_bytes", "bytes", "memory"),
    "allocated": ("total_bytes", "bytes", "memory"),
    "allocations": ("allocations", "allocations", "track"),
    "retained": ("retained_bytes", "bytes", "memory"),
}

# Set in the child started under `benchmem run`: there the preload must be active, and
# a child must never start another.
_ENV_CHILD = "ASV_BENCH_BENCHMEM_CHILD"


def _attribute(sources: Sequence[Any], name: str, default: str) -> str:
    """The first ``name`` attribute among ``sources`` (function, class, module)."""
    for source in sources:
        value = getattr(source, name, None)
        if value is not None:
            return str(value)
    return default


def _benchmem_binary() -> str:
    """The ``benchmem`` command: ``BENCHMEM_BIN``, the one the benchmem package
    bundles or built, on ``PATH``, or next to the interpreter."""
    override = os.environ.get("BENCHMEM_BIN")
    if override:
        return override
    try:
        from pytest_benchmem.locate import find_binary

        found = find_binary()
        if found is not None:
            return str(found)
    except ImportError:
        pass
    on_path = shutil.which("benchmem")
    if on_path:
        return on_path
    beside = Path(sys.executable).parent / "benchmem"
    if beside.is_file():
        return str(beside)
    raise RuntimeError(
        "asv_bench_benchmem: no benchmem binary (install the benchmem package, or set "
        "BENCHMEM_BIN)"
    )


class BenchmemBenchmark(Benchmark):  # type: ignore[misc]  # asv_runner is untyped
    """An asv benchmark reporting an exact memory figure of its body."""

    name_regex = re.compile(r"^(Benchmem[A-Z_].+)|(benchmem_.+)$")

    def __init__(self, name: str, func: Callable[..., Any], attr_sources: Sequence[Any]) -> None:
        Benchmark.__init__(self, name, func, attr_sources)
        metric = _attribute(attr_sources, "benchmem_metric", "peak")
        if metric not in METRICS:
            raise ValueError(
                f"{name}: benchmem_metric must be one of {', '.join(METRICS)}, not {metric!r}"
            )
        self.benchmem_metric = metric
        _, self.unit, self.type = METRICS[metric]
        self._benchmem_param_idx: Optional[int] = None

    def set_param_idx(self, param_idx: int) -> None:
        # Remembered for the child, which is given the benchmark's id "<name>-<index>".
        Benchmark.set_param_idx(self, param_idx)
        self._benchmem_param_idx = param_idx

    def _region_name(self) -> str:
        name = str(self.name)
        if self._benchmem_param_idx is None or not self.params:
            return name
        (values,) = itertools.islice(
            itertools.product(*self.params),
            self._benchmem_param_idx,
            self._benchmem_param_idx + 1,
        )
        return f"{name}({', '.join(values)})"

    def run(self, *param: Any) -> int:
        if is_active():
            return self._measure_here(param)
        if os.environ.get(_ENV_CHILD):
            raise RuntimeError(
                "asv_bench_benchmem: started under `benchmem run` but the benchmem preload "
                "is not active in this process"
            )
        return self._measure_in_child()

    def _measure_here(self, param: Tuple[Any, ...]) -> int:
        call = functools.partial(self.func, *param)
        stats: Optional[RegionStats]
        stats, _ = measure_call(self._region_name(), call)
        if stats is None:
            raise RuntimeError("asv_bench_benchmem: the benchmem preload did not measure")
        field = METRICS[self.benchmem_metric][0]
        return int(getattr(stats, field))

    def _measure_in_child(self) -> int:
        # asv starts its benchmark script as `python benchmark.py run|run_server
        # BENCHMARK_DIR ...` and forks run_server's children: the script and the
        # benchmark directory are in this process's argv either way.
        argv = sys.argv
        if len(argv) < 3 or argv[1] not in ("run", "run_server") or not os.path.isfile(argv[0]):
            raise RuntimeError(
                "asv_bench_benchmem: not started by asv and not under the benchmem preload; "
                "run the program with `benchmem run -- ...`"
            )
        script, benchmark_dir = argv[0], argv[2]
        bench_id = str(self.name)
        if self._benchmem_param_idx is not None and self.params:
            bench_id = f"{self.name}-{self._benchmem_param_idx}"
        env = dict(os.environ)
        env[_ENV_CHILD] = "1"
        with tempfile.TemporaryDirectory(prefix="asv-bench-benchmem-") as tmp:
            result_file = Path(tmp) / "result.json"
            cmd = [
                _benchmem_binary(),
                "run",
                "--",
                sys.executable,
                script,
                "run",
                benchmark_dir,
                bench_id,
                "{}",
                "None",
                str(result_file),
            ]
            done = subprocess.run(
                cmd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=self.timeout,
            )
            output = done.stdout.decode("utf-8", "replace")
            if done.returncode != 0 or not result_file.is_file():
                raise RuntimeError(
                    f"asv_bench_benchmem: measuring {bench_id} under benchmem failed "
                    f"(exit status {done.returncode}):\n{output}"
                )
            value = json.loads(result_file.read_text())
        if not isinstance(value, int):
            raise RuntimeError(f"asv_bench_benchmem: {bench_id} measured {value!r}:\n{output}")
        return value


export_as_benchmark = [BenchmemBenchmark]
