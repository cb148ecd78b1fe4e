"""Byte units: formatting, parsing, and the one-unit-per-column choice of the tables.

The same rules as the ``benchmem`` command's (cli/src/units.rs); tests/golden/units.json
holds cases both sides are tested against.
"""

from __future__ import annotations

import decimal
import math
import numbers
import re
from typing import Iterable, List, Optional, Sequence, Tuple, Union

__all__ = [
    "MISSING",
    "UNITS",
    "format_column",
    "format_count",
    "format_scaled",
    "human_bytes",
    "parse_count",
    "parse_size",
    "pick_unit",
]

#: Binary units, 1024-based, smallest first.
UNITS: Tuple[Tuple[str, int], ...] = (
    ("B", 1),
    ("KiB", 1024),
    ("MiB", 1024**2),
    ("GiB", 1024**3),
    ("TiB", 1024**4),
)
_FACTOR = {name.lower(): factor for name, factor in UNITS}


MISSING = "\u2014"


def _three_figures(v: float) -> str:
    decimals = 2 if v < 10 else 1 if v < 100 else 0
    return f"{v:.{decimals}f}"


def _number(n: object) -> Union[int, float]:
    """Any real number (int, float, numpy and Decimal scalars, Fraction) as an int or float."""
    if isinstance(n, (bool, str, bytes)) or n is None:
        raise TypeError(f"human_bytes expects a number of bytes, got {n!r}")
    if isinstance(n, numbers.Integral):
        return int(n)
    if isinstance(n, (numbers.Real, decimal.Decimal)):
        return float(n)
    if isinstance(n, numbers.Number) or not hasattr(n, "__float__"):
        raise TypeError(f"human_bytes expects a number of bytes, got {n!r}")
    try:
        return float(n)  # a numeric type not registered with numbers
    except (TypeError, ValueError):
        raise TypeError(f"human_bytes expects a number of bytes, got {n!r}") from None


def human_bytes(n: object, precision: Optional[int] = None) -> str:
    """A byte count in prose, as the ``benchmem`` command writes it: three significant
    figures in the largest binary unit it reaches (``1221536 -> "1.16 MiB"``,
    ``85094 -> "83.1 KiB"``), whole bytes below 1 KiB (``"1,023 B"``), ``"—"`` for NaN.
    ``precision`` asks for that many decimals instead of three figures. Takes any real
    number: int, float, numpy integers and floats (``human_bytes(df["value"].iloc[0])``),
    Decimal, Fraction; anything else raises TypeError."""
    x = _number(n)
    if not math.isfinite(x):
        return MISSING
    sign = "-" if x < 0 else ""
    a = abs(x)
    index = 0
    for i, (_, f) in enumerate(UNITS):
        if a >= f:
            index = i
    if precision is not None:
        name, factor = UNITS[index]
        if factor == 1:
            return f"{sign}{a:,.0f} B"
        return f"{sign}{a / factor:,.{precision}f} {name}"
    text = _three_figures(a / UNITS[index][1])
    # 1023.9 KiB rounds to "1024": say "1.00 MiB" instead.
    if index + 1 < len(UNITS) and float(text) >= UNITS[index + 1][1] / UNITS[index][1]:
        index += 1
        text = _three_figures(a / UNITS[index][1])
    name, factor = UNITS[index]
    if factor == 1:
        text = f"{a:.0f}"
    return f"{sign}{_group_thousands(text)} {name}"


def _group_thousands(text: str) -> str:
    """``"1234567.50" -> "1,234,567.50"``."""
    whole, dot, frac = text.partition(".")
    return f"{int(whole):,}{dot}{frac}" if whole.isdigit() else text


_SIZE_RE = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*([A-Za-z]*)\s*$")


def parse_size(value: Union[str, int, float]) -> int:
    """Bytes from ``"100MiB"``, ``"1.5 GiB"``, ``"512B"``, ``"4096"``, ``"1e6"`` or a
    number, as the ``benchmem`` command reads sizes (whole bytes: rounded).

    Units: B, KiB, MiB, GiB, TiB (case-insensitive); none means bytes. Booleans,
    negative or infinite values and unknown units (decimal ones too: MB) raise ValueError.
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
    number, unit = float(m.group(1)), m.group(2).lower() or "b"
    if unit not in _FACTOR:
        raise ValueError(f"unknown size unit {m.group(2)!r} in {value!r} (use B, KiB, MiB, GiB, TiB)")
    if number < 0 or not math.isfinite(number * _FACTOR[unit]):
        raise ValueError(f"size must be a finite number of bytes >= 0: {value!r}")
    return int(round(number * _FACTOR[unit]))


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
    positive = [v for v in values if math.isfinite(v) and v > 0]
    if not positive:
        return UNITS[0]
    smallest = min(positive)
    chosen = UNITS[0]
    for name, factor in UNITS:
        if smallest >= factor:
            chosen = (name, factor)
    return chosen


def format_column(values: Sequence[float]) -> Tuple[Optional[str], List[str]]:
    """A column of bytes as the ``benchmem`` command's tables write it: the column's unit
    and its cells. Every value reads as :func:`human_bytes` writes it; when every nonzero
    value lands in the same unit, that unit is the column's and the cells are the numbers
    alone (zero as ``"0"``), otherwise the unit is None and each cell keeps its own."""
    units: "set[str]" = set()
    for v in values:
        if math.isfinite(v) and v != 0:
            units.add(human_bytes(v).rsplit(" ", 1)[1])
    if len(units) > 1:
        return None, [human_bytes(v) for v in values]
    unit = units.pop() if units else UNITS[0][0]
    cells: List[str] = []
    for v in values:
        if not math.isfinite(v):
            cells.append(MISSING)
        elif v == 0:
            cells.append("0")
        else:
            cells.append(human_bytes(v).rsplit(" ", 1)[0])
    return unit, cells


def format_scaled(value: float, factor: int) -> str:
    """A cell in a byte column: ``{:,.2f}`` in the column's unit, whole numbers for B,
    ``"—"`` for NaN."""
    if not math.isfinite(value):
        return MISSING
    if factor == 1:
        return f"{value:,.0f}"
    return f"{value / factor:,.2f}"


def format_count(value: float) -> str:
    """A count, in a cell or in prose: ``{:,}``, two decimals when not whole (a mean),
    ``"—"`` for NaN."""
    if not math.isfinite(value):
        return MISSING
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"
