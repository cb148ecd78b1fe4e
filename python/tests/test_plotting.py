"""``pytest_benchmem.plotting``: the notebook face of ``benchmem plot`` (the same binary,
the same pictures)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Dict

import pytest

from pytest_benchmem.locate import find_binary
from pytest_benchmem.plotting import Plot, PlotError, plot


def bench(kind: str, n: int, peak: int) -> Dict[str, Any]:
    name = f"test_build[{kind}-{n}]"
    return {
        "group": None,
        "name": name,
        "fullname": f"tests/test_x.py::{name}",
        "params": {"kind": kind, "n": n},
        "param": f"{kind}-{n}",
        "extra_info": {"benchmem": {"peak_bytes": [peak, peak + 10], "allocations": [n, n]}},
        "options": {},
        "stats": {"min": 0.001, "max": 0.002, "mean": 0.0015, "median": 0.0015, "stddev": 0.0001, "rounds": 2},
    }


def write_run(path: Path, scale: float) -> Path:
    benches = [bench(k, n, int(n * 40 * scale * (1.2 if k == "list" else 1.0))) for k in ("list", "tuple") for n in (10, 100, 1000)]
    path.write_text(json.dumps({"machine_info": {}, "commit_info": {}, "benchmarks": benches, "datetime": "x", "version": "5.1.0"}))
    return path


@pytest.fixture()
def runs(tmp_path: Path) -> list[Path]:
    return [write_run(tmp_path / "base.json", 1.0), write_run(tmp_path / "head.json", 1.5)]


def binary() -> str:
    found = find_binary()
    if found is None or not found.is_file():
        pytest.fail("the benchmem binary is not built: cargo build -p benchmem, or set BENCHMEM_BIN")
    return str(found)


def test_same_picture_as_the_command_line(runs: list[Path]) -> None:
    p = plot(runs, view="compare", metric="peak", stat="max", relative=True)
    direct = subprocess.run(
        [binary(), "plot", *map(str, runs), "--view", "compare", "--columns", "peak", "--stat", "max", "--relative", "-o", "-", "--format", "svg"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert p.svg == direct
    assert p._repr_svg_() == direct
    assert 'data-view="compare"' in p.svg


def test_notebook_html_is_the_page_in_an_iframe(runs: list[Path]) -> None:
    p = plot(runs[0], where={"kind": "list"}, log_log=False)
    assert p.html.startswith("<!DOCTYPE html>")
    shown = p._repr_html_()
    assert shown.startswith("<iframe srcdoc=")
    assert "&lt;svg" in shown and "<svg" not in shown
    assert "--linear" in p.args and "kind=list" in p.args


def test_save_writes_html_or_svg(runs: list[Path], tmp_path: Path) -> None:
    p = plot(runs)
    assert p.save(tmp_path / "out" / "s.svg").read_text() == p.svg
    assert p.save(tmp_path / "s.html").read_text() == p.html
    with pytest.raises(ValueError, match="write .html"):
        p.save(tmp_path / "s.png")
    assert not (tmp_path / "s.png").exists()


def test_bad_options_raise_the_commands_message(runs: list[Path]) -> None:
    with pytest.raises(PlotError, match="--where size=3: 'size' is not a parameter"):
        plot(runs[0], where={"size": 3})
    with pytest.raises(PlotError, match="needs two runs"):
        plot(runs[0], view="scatter")


def test_plot_is_typed_as_a_plot(runs: list[Path]) -> None:
    assert isinstance(plot(runs, view="sweep"), Plot)
