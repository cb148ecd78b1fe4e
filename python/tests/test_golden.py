"""The golden files shared with the ``benchmem`` command (tests/golden/*.json at the
repository root, also read by cli/src/units.rs and tests/tests/golden.rs): Python formats,
parses, names and labels as the command does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from pytest_benchmem import human_bytes, load_long_df, parse_size
from pytest_benchmem.measure import canonical_metric, metric_by_name
from pytest_benchmem.readers import run_labels
from pytest_benchmem.units import format_column, format_count, format_scaled, pick_unit

GOLDEN = Path(__file__).resolve().parents[2] / "tests" / "golden"


def golden(name: str) -> Dict[str, Any]:
    data: Dict[str, Any] = json.loads((GOLDEN / name).read_text())
    return data


UNITS = golden("units.json")
METRICS = golden("metrics.json")
LABELS = golden("labels.json")


@pytest.mark.parametrize("raw, text", UNITS["human_bytes"]["cases"])
def test_human_bytes(raw: int, text: str) -> None:
    assert human_bytes(raw) == text


@pytest.mark.parametrize("case", UNITS["byte_columns"]["cases"])
def test_byte_columns(case: Dict[str, Any]) -> None:
    name, factor = pick_unit(case["values"])
    assert name == case["unit"]
    assert [format_scaled(v, factor) for v in case["values"]] == case["cells"]


@pytest.mark.parametrize("case", UNITS["table_columns"]["cases"])
def test_table_columns(case: Dict[str, Any]) -> None:
    assert format_column(case["values"]) == (case["unit"], case["cells"])


@pytest.mark.parametrize("raw, text", UNITS["counts"]["cases"])
def test_counts(raw: float, text: str) -> None:
    assert format_count(raw) == text


@pytest.mark.parametrize("text, n", UNITS["sizes"]["accepted"])
def test_sizes_accepted(text: str, n: int) -> None:
    assert parse_size(text) == n


@pytest.mark.parametrize("text", UNITS["sizes"]["rejected"])
def test_sizes_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize("name, canonical", sorted(METRICS["accepted"].items()))
def test_metric_names_accepted(name: str, canonical: str) -> None:
    # The command reads rss wherever a run has it; in Python the callers that do pass rss=True.
    assert canonical_metric(name, rss=True) == canonical
    if canonical == "time":
        with pytest.raises(ValueError):  # not a memory metric
            metric_by_name(name, rss=True)
    else:
        assert metric_by_name(name, rss=True).name == canonical


@pytest.mark.parametrize("name", METRICS["rejected"])
def test_metric_names_rejected(name: str) -> None:
    for rss in (False, True):
        with pytest.raises(ValueError):
            canonical_metric(name, rss=rss)
        with pytest.raises(ValueError):
            metric_by_name(name, rss=rss)


@pytest.mark.parametrize("case", LABELS["cases"])
def test_run_labels(case: Dict[str, List[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_labels(case["files"]) == case["labels"]
    # load_long_df's snapshot column too.
    for f in set(case["files"]):
        Path(f).parent.mkdir(parents=True, exist_ok=True)
        Path(f).write_text(json.dumps({"benchmarks": [{"name": "t", "fullname": "m.py::t", "stats": {"min": 1.0}}]}))
    df, _ = load_long_df(case["files"], metric="time")
    assert list(df["snapshot"]) == case["labels"]
