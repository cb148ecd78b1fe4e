"""Benchmark types exported to asv_runner (each module's ``export_as_benchmark``)."""
