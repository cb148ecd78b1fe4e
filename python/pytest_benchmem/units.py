"""Byte units: formatting, parsing, and the one-unit-per-column choice of the tables."""

from __future__ import annotations

import math
import re
from typing import Iterable, Tuple, Union

__all__ = ["UNITS", "human_bytes", "parse_size", "parse_count", "pick_unit", "format_scaled"]

#: Binary units, 1024-based, smallest first.
UNITS: Tuple[Tuple[str, int], ...] = (
    ("B", 1),
    ("KiB", 1024),
    ("MiB", 1024**2),
    ("GiB", 1024**3),
    ("TiB", 1024**4),
)
_FACTOR = {name.lower(): factor for name, factor in UNITS}


def human_bytes(n: Union[int, float], precision: int = 2) -> str:
    """``1221536 -> "1.16 MiB"``; whole bytes below 1 KiB (``"512 B"``)."""
    if isinstance(n, bool) or not isinstance(n, (int, float)):
        raise TypeError(f"human_bytes expects a number of bytes, got {n!r}")
    sign = "-" if n < 0 else ""
    a = abs(n)
    name, factor = UNITS[0]
    for cand, f in UNITS:
        if a >= f:
            name, factor = cand, f
    if factor == 1:
        return f"{sign}{a:,.0f} B"
    return f"{sign}{a / factor:,.{precision}f} {name}"


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*$")


def parse_size(value: Union[str, int, float]) -> int:
    """Bytes from ``"100MiB"``, ``"1.5 GiB"``, ``"512B"``, ``"4096"`` or a number.

    Units: B, KiB, MiB, GiB, TiB (case-insensitive); none means bytes. Booleans,
    negative values and unknown units raise ValueError.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, (int, float)):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"size must be a non-negative number of bytes: {value!r}")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"not a size: {value!r}")
    m = _SIZE_RE.match(value)
    if not m:
        raise ValueError(f"not a size: {value!r} (expected e.g. 100MiB, 1.5GiB, 4096)")
    number, unit = m.group(1), m.group(2).lower() or "b"
    if unit not in _FACTOR:
        raise ValueError(f"unknown size unit {m.group(2)!r} in {value!r} (use B, KiB, MiB, GiB, TiB)")
    return int(round(float(number) * _FACTOR[unit]))


def parse_count(value: Union[str, int, float]) -> int:
    """A plain non-negative count (``max_allocations``): no unit allowed."""
    if isinstance(value, bool):
        raise ValueError(f"not a count: {value!r}")
    if isinstance(value, str):
        try:
            value = int(value.replace("_", "").replace(",", "").strip())
        except ValueError:
            raise ValueError(f"not a count: {value!r} (a plain number, no unit)") from None
    if not isinstance(value, (int, float)) or value < 0 or not math.isfinite(value):
        raise ValueError(f"not a count: {value!r}")
    return int(value)


def pick_unit(values: Iterable[float]) -> Tuple[str, int]:
    """One binary unit for a column: the largest unit in which the smallest positive
    value is still >= 1 (so nothing in the column shows as 0.00)."""
    positive = [abs(v) for v in values if v]
    if not positive:
        return UNITS[0]
    smallest = min(positive)
    chosen = UNITS[0]
    for name, factor in UNITS:
        if smallest >= factor:
            chosen = (name, factor)
    return chosen


def format_scaled(value: float, factor: int) -> str:
    """A cell in a byte column: ``{:,.2f}`` in the column's unit, whole numbers for B."""
    if factor == 1:
        return f"{value:,.0f}"
    return f"{value / factor:,.2f}"


def format_count(value: float) -> str:
    """A cell in a count column: ``{:,}``, one decimal when not whole (a mean)."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"
