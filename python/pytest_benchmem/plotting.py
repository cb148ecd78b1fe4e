"""Pictures of saved runs for notebooks, drawn by the ``benchmem`` binary.

``plot(runs, ...)`` runs ``benchmem plot ... -o -`` and returns a :class:`Plot`: Jupyter
shows it (``_repr_html_``: the interactive page in an iframe; ``_repr_svg_``: the static
picture) and ``save(path)`` writes ``.html`` or ``.svg``. Nothing is drawn in Python: the
pictures are the command line's, byte for byte, so the two cannot drift apart.

The keyword arguments are ``benchmem plot``'s options (``view="sweep"`` is ``--view
sweep``, ``where={"n": "1000"}`` is ``--where n=1000``, ``log_x=False`` is
``--linear-x``); ``None`` leaves the command's default.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Union

from .locate import find_binary

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["Plot", "PlotError", "plot"]


class PlotError(RuntimeError):
    """``benchmem plot`` refused the runs or the options; the message is its own line."""


def _pair(flag_on: str, flag_off: str, value: Optional[bool]) -> List[str]:
    if value is None:
        return []
    return [flag_on if value else flag_off]


class Plot:
    """One picture of saved runs, as ``benchmem plot`` draws it.

    The SVG is drawn when the plot is made (so bad options raise at once), the HTML page
    when first asked for.
    """

    def __init__(self, args: Sequence[str]) -> None:
        self._args = list(args)
        # Drawn now: errors belong to the call that made the plot.
        self._svg: str = _run(self._args, "svg")
        self._html: Optional[str] = None

    @property
    def args(self) -> List[str]:
        """The ``benchmem plot`` arguments this picture is drawn with (without ``-o``)."""
        return list(self._args)

    @property
    def svg(self) -> str:
        """The static picture (an SVG document)."""
        return self._svg

    @property
    def html(self) -> str:
        """The self-contained interactive page (hover, legend toggling)."""
        if self._html is None:
            self._html = _run(self._args, "html")
        return self._html

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_html_(self) -> str:
        # An iframe keeps the page's script and style to itself inside the notebook.
        match = re.search(r'<svg[^>]*\sheight="(\d+)"', self.svg)
        height = int(match.group(1)) + 40 if match else 600
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
            f'style="width:100%;height:{height}px;border:0" title="benchmem plot"></iframe>'
        )

    def save(self, path: PathLike) -> Path:
        """Writes the picture to ``path`` (``.html``/``.htm`` or ``.svg``), atomically."""
        dest = Path(path)
        suffix = dest.suffix.lower()
        if suffix in (".html", ".htm"):
            text = self.html
        elif suffix == ".svg":
            text = self.svg
        else:
            raise ValueError(f"{dest}: write .html (interactive) or .svg, not {suffix or 'no suffix'!r}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".benchmem-plot-", suffix=".tmp", dir=dest.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest


def _run(args: Sequence[str], fmt: str) -> str:
    binary = find_binary()
    if binary is None or not binary.is_file():
        raise PlotError(
            "the benchmem binary is not installed with this package; reinstall with "
            "`pip install benchmem` on a machine with cargo, or set BENCHMEM_BIN"
        )
    proc = subprocess.run(
        [str(binary), "plot", *args, "-o", "-", "--format", fmt],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()
        raise PlotError(message.removeprefix("benchmem: "))
    return proc.stdout.decode("utf-8")


def plot(
    runs: Union[PathLike, Sequence[PathLike]],
    *,
    view: Optional[str] = None,
    metric: Optional[str] = None,
    stat: Optional[str] = None,
    x: Optional[str] = None,
    color: Optional[str] = None,
    facet: Optional[str] = None,
    where: Optional[Mapping[str, object]] = None,
    pivot: Optional[str] = None,
    band: Optional[str] = None,
    clip: Optional[float] = None,
    log_log: Optional[bool] = None,
    log_x: Optional[bool] = None,
    log_y: Optional[bool] = None,
    y_zero: Optional[bool] = None,
    free_axes: Optional[str] = None,
    relative: bool = False,
    repeat: Optional[int] = None,
    labels: Optional[Sequence[str]] = None,
) -> Plot:
    """A picture of saved runs (pytest-benchmark JSON, with or without benchmem's memory).

    One run draws ``scaling``, two ``scatter``, more ``sweep`` unless ``view`` says
    (``compare``, ``timeline`` too). Raises :class:`PlotError` with the command's message
    when the runs or options do not fit.
    """
    paths = [runs] if isinstance(runs, (str, os.PathLike)) else list(runs)
    args: List[str] = [os.fspath(p) for p in paths]
    for flag, value in (
        ("--view", view),
        ("--columns", metric),
        ("--stat", stat),
        ("--x", x),
        ("--color", color),
        ("--facet", facet),
        ("--pivot", pivot),
        ("--band", band),
        ("--free-axes", free_axes),
    ):
        if value is not None:
            args += [flag, value]
    if clip is not None:
        args += ["--clip", repr(float(clip))]
    if repeat is not None:
        args += ["--repeat", str(int(repeat))]
    for key, wanted in (where or {}).items():
        args += ["--where", f"{key}={wanted}"]
    args += _pair("--log-log", "--linear", log_log)
    args += _pair("--log-x", "--linear-x", log_x)
    args += _pair("--log-y", "--linear-y", log_y)
    args += _pair("--y-zero", "--no-y-zero", y_zero)
    if relative:
        args.append("--relative")
    for label in labels or ():
        args += ["--label", label]
    return Plot(args)
