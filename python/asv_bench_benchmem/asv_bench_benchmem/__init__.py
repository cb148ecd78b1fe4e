"""asv benchmarks measured by benchmem: ``benchmem_*`` functions and methods.

Installed next to asv, this distribution adds a benchmark type to asv_runner (which loads
the ``benchmarks`` subpackage of every installed ``asv_bench_*`` distribution): a
benchmark named ``benchmem_<name>`` (or a class ``Benchmem<Name>``) reports the exact
peak live bytes its body allocated, or, with ``benchmem_metric``, the bytes allocated,
the allocation count or the bytes still live at its end. See
:mod:`asv_bench_benchmem.benchmarks.exact`.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from .benchmarks.exact import METRICS, BenchmemBenchmark

__all__ = ["METRICS", "BenchmemBenchmark"]
try:
    __version__ = _metadata.version("asv_bench_benchmem")  # the Cargo workspace's version
except _metadata.PackageNotFoundError:  # a source checkout on PYTHONPATH, not installed
    __version__ = "0+unknown"
