"""Shared by the Python workloads (as common.h is by the C ones): ``region(name)``.

It is pytest_benchmem's region when that package is importable (scripts/bench puts
python/ on PYTHONPATH), else a no-op, so the workloads also run with plain python. The
workloads import it by name: python puts the script's directory (benches/) first on
sys.path, and so does `memray run`."""

try:  # the package is optional: the workload must run without it
    from pytest_benchmem.region import region
except Exception:
    import contextlib

    def region(name):
        return contextlib.nullcontext()
