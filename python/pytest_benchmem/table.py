"""Memory columns appended to pytest-benchmark's own results table.

pytest-benchmark prints its table through the terminal reporter (``TableResults.display``).
Rather than re-implementing it, the plugin hands that method a thin proxy of the
terminal reporter, :class:`TableDecorator`: every line pytest-benchmark writes passes
through unchanged, and the lines of each group's table (title, header, separators and
one row per benchmark, in pytest-benchmark's own sort order) get the memory columns
appended to the right of a ``│``; a caption follows each table. Anything it does not
recognise is written as is, so a future table layout degrades to "no memory columns",
never to a broken table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .compare import growth
from .results import ALL_METRICS, MemoryMetric, MemoryResult, compute_stat
from .units import format_count, format_scaled, pick_unit

__all__ = ["CAPTION", "SPLIT_CAPTION", "MemoryTable", "TableDecorator", "DIVIDER"]

CAPTION = "memory (right of \u2502): a separate, untimed pass, not the timed rounds"
SPLIT_CAPTION = "memory: a separate, untimed pass, not the timed rounds"
DIVIDER = "\u2502"
MISSING = "\u2014"
SEPARATOR = "  \u2022  "
DELTA = "\u0394 peak"

Segment = Tuple[str, Dict[str, bool]]
Lookup = Callable[[Mapping[str, Any]], Optional[MemoryResult]]
#: A row's baseline (``--benchmark-memory-compare``): None when the saved run lacks it.
BaseLookup = Callable[[Mapping[str, Any]], Optional[MemoryResult]]


@dataclass(frozen=True)
class Block:
    """The memory part of one group's table: a header and one cell string per row."""

    header: str
    rows: List[str]

    @property
    def width(self) -> int:
        return len(self.header)


class MemoryTable:
    """Which memory columns to show and how to render them: the metrics (in order), the
    statistics each spreads into when any benchmark has more than one pass, the metrics
    left out (named in the caption), and, when comparing with a saved run, its label
    (adds ``base (unit)`` and ``Δ peak``)."""

    def __init__(
        self,
        metrics: Sequence[MemoryMetric],
        stats: Sequence[str],
        spread: bool,
        hidden: Sequence[str] = (),
        baseline_label: Optional[str] = None,
    ) -> None:
        self.metrics = list(metrics)
        self.stats = list(stats)
        self.spread = spread
        self.hidden = list(hidden)
        self.baseline_label = baseline_label

    @property
    def comparing(self) -> bool:
        return self.baseline_label is not None

    def caption(self, split: bool = False) -> str:
        parts = [SPLIT_CAPTION if split else CAPTION]
        if self.hidden:
            parts.append("also available via --benchmark-memory-columns: " + ", ".join(self.hidden))
        if self.comparing:
            parts.append(f"{DELTA} vs {self.baseline_label}")
        return SEPARATOR.join(parts)

    def headers_and_cells(
        self, results: Sequence[Optional[MemoryResult]], bases: Optional[Sequence[Optional[MemoryResult]]] = None
    ) -> List[Tuple[str, List[str]]]:
        columns: List[Tuple[str, List[str]]] = []
        stats = self.stats if self.spread else ["min"]
        for metric in self.metrics:
            values: Dict[str, List[Optional[float]]] = {}
            for stat in stats:
                column: List[Optional[float]] = []
                for r in results:
                    series = r.values(metric.key) if r is not None else []
                    column.append(compute_stat(series, stat) if series else None)
                values[stat] = column
            unit_name, factor = "", 1
            if metric.is_bytes:
                # One unit for the metric's whole group of columns, so they compare at a glance.
                unit_name, factor = pick_unit(v for col in values.values() for v in col if v is not None)
            for i, stat in enumerate(stats):
                label = metric.label if not self.spread else f"{metric.label}\u00b7{stat}"
                if metric.is_bytes and i == 0:
                    label += f" ({unit_name})"
                cells = [
                    MISSING
                    if v is None
                    else (format_scaled(v, factor) if metric.is_bytes else format_count(v))
                    for v in values[stat]
                ]
                columns.append((label, cells))
        if self.comparing:
            base_list = list(bases) if bases is not None else [None] * len(results)
            peaks = [float(r.peak_bytes) for r in list(results) + base_list if r is not None]
            unit_name, factor = pick_unit(peaks)
            base_cells: List[str] = []
            delta_cells: List[str] = []
            for r, b in zip(results, base_list):
                if b is None or r is None:
                    base_cells.append(MISSING if b is None else format_scaled(b.peak_bytes, factor))
                    delta_cells.append(MISSING)
                else:
                    base_cells.append(format_scaled(b.peak_bytes, factor))
                    delta_cells.append(growth(b.peak_bytes, r.peak_bytes))
            columns.append((f"base ({unit_name})", base_cells))
            columns.append((DELTA, delta_cells))
        return columns

    def block(
        self, results: Sequence[Optional[MemoryResult]], bases: Optional[Sequence[Optional[MemoryResult]]] = None
    ) -> Block:
        columns = self.headers_and_cells(results, bases)
        header = " " + DIVIDER
        rows = [" " + DIVIDER for _ in results]
        for label, cells in columns:
            width = 2 + max([len(label), *(len(c) for c in cells)])
            header += label.rjust(width)
            rows = [row + cell.rjust(width) for row, cell in zip(rows, cells)]
        return Block(header, rows)

    def split_lines(
        self,
        names: Sequence[str],
        results: Sequence[MemoryResult],
        bases: Optional[Sequence[Optional[MemoryResult]]] = None,
    ) -> List[str]:
        """A table of its own (``--benchmark-memory-table=split``): one row per benchmark,
        heaviest peak first, in pytest-benchmark's table style."""
        order = sorted(range(len(results)), key=lambda i: -results[i].peak_bytes)
        ordered = [results[i] for i in order]
        ordered_bases = [bases[i] for i in order] if bases is not None else None
        columns = self.headers_and_cells(ordered, ordered_bases)
        label = "Name"
        name_width = max([len(label), *(len(names[i]) for i in order)])
        header = label.ljust(name_width)
        rows = [names[i].ljust(name_width) for i in order]
        for title, cells in columns:
            width = 2 + max([len(title), *(len(c) for c in cells)])
            header += title.rjust(width)
            rows = [row + cell.rjust(width) for row, cell in zip(rows, cells)]
        width = len(header)
        n = len(results)
        title = f" Memory: {n} benchmark{'s' if n != 1 else ''} "
        rule = "-" * width
        return [title.center(width, "-"), header, rule, *rows, rule, self.caption(split=True)]


_TITLE_RE = re.compile(r"^-* benchmark.*: \d+ tests?.* -*$")


class TableDecorator:
    """A proxy of the terminal reporter for pytest-benchmark's ``TableResults.display``."""

    def __init__(
        self,
        tr: Any,
        groups: Sequence[Sequence[Mapping[str, Any]]],
        lookup: Lookup,
        table: MemoryTable,
        base: Optional[BaseLookup] = None,
    ) -> None:
        """``groups``: each group's rows (flat benchmark dicts) in the order the table
        prints them; ``lookup``: a row's memory, or None; ``base``: a row's baseline."""
        self._tr = tr
        self._table = table
        self._groups: List[Tuple[List[Any], Optional[Block]]] = []
        for benchmarks in groups:
            ordered = list(benchmarks)
            results = [lookup(b) for b in ordered]
            bases = [base(b) for b in ordered] if base is not None else None
            block = table.block(results, bases) if any(r is not None for r in results) else None
            self._groups.append((ordered, block))
        self._next_group = 0
        self._segments: List[Segment] = []
        self._state = "idle"
        self._block: Optional[Block] = None
        self._ordered: List[Any] = []
        self._row = 0
        self._base_width = 0
        self._title: Segment = ("", {})

    # -- the terminal reporter API used by pytest-benchmark -------------------------------

    def write(self, content: str, *, flush: bool = False, **markup: bool) -> None:
        while content:
            head, nl, content = content.partition("\n")
            if head:
                self._segments.append((head, dict(markup)))
            if not nl:
                break
            self._line_done()
        if flush:
            self.flush()

    def write_line(self, line: str = "", **markup: bool) -> None:
        self.write(str(line) + "\n", **markup)

    def rewrite(self, line: str, **markup: bool) -> None:
        self._flush_partial()
        self._tr.rewrite(line, **markup)

    def ensure_newline(self) -> None:
        self._flush_partial()
        self._tr.ensure_newline()

    def flush(self) -> None:
        self._flush_partial()
        self._tr.flush()

    def __getattr__(self, name: str) -> Any:
        self._flush_partial()
        return getattr(self._tr, name)

    # -- line handling --------------------------------------------------------------------

    def _flush_partial(self) -> None:
        # A partial line written before something else: emit it as is.
        for text, markup in self._segments:
            self._tr.write(text, **markup)
        self._segments = []

    def _emit(self, segments: Sequence[Segment], suffix: str = "") -> None:
        for text, markup in segments:
            self._tr.write(text, **markup)
        self._tr.write(suffix + "\n")

    def _line_done(self) -> None:
        segments, self._segments = self._segments, []
        text = "".join(t for t, _ in segments)
        markup = segments[0][1] if segments else {}
        state = self._state
        if state == "idle":
            if _TITLE_RE.match(text) and self._next_group < len(self._groups):
                self._ordered, self._block = self._groups[self._next_group]
                self._next_group += 1
                if self._block is not None:
                    self._state = "labels"
                    self._title = (text, markup)
                    return  # written with the header, once its width is known
            self._emit(segments)
            return
        block = self._block
        assert block is not None
        if state == "labels":
            self._base_width = len(text)
            width = self._base_width + block.width
            title, tmarkup = self._title
            self._tr.write((" " + title.strip("-").strip() + " ").center(width, "-") + "\n", **tmarkup)
            self._emit(segments, block.header)
            self._state = "top"
        elif state == "top":
            self._tr.write("-" * (self._base_width + block.width) + "\n", **markup)
            self._state = "rows"
            self._row = 0
        elif state == "rows":
            if self._row < len(self._ordered) and text.startswith(str(self._ordered[self._row].get("name", ""))):
                pad = " " * max(0, self._base_width - len(text))
                self._emit(segments, pad + block.rows[self._row])
                self._row += 1
                if self._row == len(self._ordered):
                    self._state = "bottom"
            else:  # not the layout we expected: stop decorating this group
                self._emit(segments)
                self._state = "idle"
        elif state == "bottom":
            if text and set(text) == {"-"}:
                self._tr.write("-" * (self._base_width + block.width) + "\n", **markup)
                self._tr.write(self._table.caption() + "\n")
            else:
                self._emit(segments)
            self._state = "idle"
