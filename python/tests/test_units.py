from __future__ import annotations

import pytest

from pytest_benchmem import human_bytes, parse_size
from pytest_benchmem.units import format_count, format_scaled, parse_count, pick_unit


@pytest.mark.parametrize(
    "n, text",
    [
        (1221536, "1.16 MiB"),
        (0, "0 B"),
        (1023, "1,023 B"),
        (1024, "1.00 KiB"),
        (10_000_001, "9.54 MiB"),
        (3 * 1024**3 // 2, "1.50 GiB"),
        (-2048, "-2.00 KiB"),
    ],
)
def test_human_bytes(n: int, text: str) -> None:
    assert human_bytes(n) == text


@pytest.mark.parametrize(
    "text, n",
    [
        ("100MiB", 100 * 1024**2),
        ("1.5 GiB", 3 * 1024**3 // 2),
        ("512B", 512),
        ("4096", 4096),
        ("2kib", 2048),
        (123, 123),
    ],
)
def test_parse_size(text: str, n: int) -> None:
    assert parse_size(text) == n


@pytest.mark.parametrize("bad", ["10 MB", "abc", "-1", True, -5, "1.5 XiB", ""])
def test_parse_size_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_size(bad)  # type: ignore[arg-type]


def test_parse_count() -> None:
    assert parse_count("9_001") == 9001
    assert parse_count(12) == 12
    with pytest.raises(ValueError):
        parse_count("10MiB")
    with pytest.raises(ValueError):
        parse_count(False)


def test_pick_unit_anchors_on_smallest_positive() -> None:
    assert pick_unit([0, 8000, 10_000_001]) == ("KiB", 1024)
    assert pick_unit([0, 0]) == ("B", 1)
    assert pick_unit([5 * 1024**2, 7 * 1024**3]) == ("MiB", 1024**2)
    assert format_scaled(8000, 1024) == "7.81"
    assert format_scaled(999, 1) == "999"
    assert format_count(9001) == "9,001"
    assert format_count(2.5) == "2.50"
