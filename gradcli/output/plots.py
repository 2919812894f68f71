"""Pictures of gradients: a function and its derivative, a gradient field, a descent.

* `figure_curve`, `figure_field`, `figure_descent` draw with matplotlib (PNG or SVG
  bytes).  matplotlib is imported only here, only when a picture file is asked for;
  without it the error says how to install it (``pip install 'gradcli[plot]'``).
* `text_curve` draws a curve and its derivative in the terminal with plain
  characters: a small renderer of our own rather than a dependency, since two
  panels of dots are all it takes and its output is stable enough to test exactly.
* `curve_rows`, `field_rows` are the sampled data for ``--format csv``.

Nothing here prints.
"""

from __future__ import annotations

import functools
import io
from typing import Any, Callable, Optional

import numpy as np

from ..core.errors import UsageError
from ..core.fmt import number
from ..run.sample import Curve, Field, with_gaps


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("pictures of gradients need matplotlib: pip install 'gradcli[plot]' "
                         "(or use --format csv, or the terminal plot)") from None
    return plt


def _drawing(draw: Callable[..., bytes]) -> Callable[..., bytes]:
    """A figure function that leaves no figure open (whatever it raises) and lets no warning of
    NumPy's or matplotlib's reach stderr: huge ranges and flat fields are drawn as they come."""

    @functools.wraps(draw)
    def quiet(*args: Any, **kwargs: Any) -> bytes:
        import warnings

        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                return draw(*args, **kwargs)
        except (ValueError, OverflowError) as exc:  # matplotlib's limits: extreme ranges and values
            raise UsageError(f"matplotlib cannot draw this picture ({exc}): its numbers are too large "
                             "to place on an axis; try smaller ranges or values") from None
        finally:
            _pyplot().close("all")

    return quiet


def _save(fig: Any, fmt: str) -> bytes:
    buf = io.BytesIO()
    meta = {"Software": None} if fmt == "png" else {"Date": None}
    fig.savefig(buf, format=fmt, dpi=120, bbox_inches="tight", metadata=meta)
    _pyplot().close(fig)
    return buf.getvalue()


@_drawing
def figure_curve(c: Curve, fmt: str) -> bytes:
    """The output and its derivative over one input, in two panels sharing the x axis."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 6))
    x, y = c.x, c.value
    top.plot(x, y, color="#1d4ed8", lw=2, label=c.output)
    top.set_ylabel(c.output)
    top.set_title(f"{c.output} and ∂{c.output}/∂{c.name}")
    gx, gy = with_gaps(c.x, c.slope, c.jumps)
    bottom.plot(gx, gy, color="#b45309", lw=2, label=f"∂{c.output}/∂{c.name} (reverse mode)")
    if c.fd is not None:
        bottom.plot(c.x[::max(1, len(c.x) // 40)], c.fd[::max(1, len(c.x) // 40)], "o", ms=4,
                    mfc="none", color="#374151", label="finite differences")
    bottom.set_ylabel(f"∂{c.output}/∂{c.name}")
    bottom.set_xlabel(c.name)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.axhline(0, color="#9ca3af", lw=0.8)
        ax.legend(loc="best")
    return _save(fig, fmt)


def _thin(f: Field, target: int = 21) -> tuple[slice, slice]:
    sx = max(1, -(-len(f.x) // target))
    sy = max(1, -(-len(f.y) // target))
    return slice(None, None, sy), slice(None, None, sx)


@_drawing
def figure_field(f: Field, fmt: str, path: Optional[list[tuple[float, float]]] = None) -> bytes:
    """Contours of the output with the gradient as arrows (thinned to about 20 per axis)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    X, Y = np.meshgrid(f.x, f.y)
    filled = ax.contourf(X, Y, f.value, levels=20, cmap="viridis")
    ax.contour(X, Y, f.value, levels=20, colors="k", linewidths=0.3, alpha=0.5)
    fig.colorbar(filled, ax=ax, label=f.output)
    rows, cols = _thin(f)
    gx, gy = f.gx[rows, cols], f.gy[rows, cols]
    size = np.hypot(gx, gy)
    with np.errstate(invalid="ignore", divide="ignore"):  # arrows of one length: the direction reads,
        ux, uy = np.where(size > 0, gx / size, 0.0), np.where(size > 0, gy / size, 0.0)  # colour gives size
    arrows = ax.quiver(X[rows, cols], Y[rows, cols], ux, uy, np.log10(np.maximum(size, 1e-300)), cmap="Reds",
                       angles="xy", pivot="mid", width=0.004)
    fig.colorbar(arrows, ax=ax, label=f"log10 |∇{f.output}|")
    if path:
        px, py = zip(*path)
        ax.plot(px, py, "-o", color="#dc2626", ms=3, lw=1.5, label="gradient descent")
        ax.legend(loc="best")
    ax.set_xlabel(f.names[0])
    ax.set_ylabel(f.names[1])
    ax.set_title(f"{f.output} and its gradient (arrows)")
    return _save(fig, fmt)


@_drawing
def figure_descent(losses: list[tuple[int, float]], output: str, fmt: str) -> bytes:
    """The loss curve of a descent."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    steps, values = zip(*losses)
    ax.plot(steps, values, "-o", ms=3, color="#1d4ed8")
    if min(values) > 0 and max(values) / min(values) > 100:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(output)
    ax.set_title(f"{output} during gradient descent")
    ax.grid(alpha=0.3)
    return _save(fig, fmt)


def text_curve(c: Curve, width: int = 64, height: int = 12) -> str:
    """Two panels of characters: the output, then its derivative, over the same x axis."""
    def panel(y: np.ndarray, title: str, mark: str) -> list[str]:
        xs = np.linspace(c.x[0], c.x[-1], width)
        ys = np.interp(xs, c.x, np.where(np.isfinite(y), y, np.nan))
        finite = ys[np.isfinite(ys)]
        if not finite.size:
            return [f"{title}: undefined over the whole range"]
        lo, hi = float(finite.min()), float(finite.max())
        if hi == lo:
            pad = max(1.0, abs(lo) / 2)  # ± 1 vanishes at 1e300
            lo, hi = lo - pad, hi + pad

        def row(v: float) -> int:  # halves: hi - lo may overflow where hi/2 - lo/2 does not
            return min(height - 1, max(0, int(round((hi / 2 - v / 2) / (hi / 2 - lo / 2) * (height - 1)))))

        grid = [[" "] * width for _ in range(height)]
        if lo < 0 < hi:  # the zero line
            grid[row(0.0)] = ["·"] * width
        for col, v in enumerate(ys):
            if np.isfinite(v):
                grid[row(float(v))][col] = mark
        label_w = max(len(number(hi, 4)), len(number(lo, 4)))
        lines = [title]
        for r, cells in enumerate(grid):
            label = number(hi, 4) if r == 0 else (number(lo, 4) if r == height - 1 else "")
            lines.append(f"{label:>{label_w}} │{''.join(cells)}")
        lines.append(" " * label_w + " └" + "─" * width)
        left, right = number(float(c.x[0]), 4), number(float(c.x[-1]), 4)
        lines.append(" " * (label_w + 2) + left + " " * max(1, width - len(left) - len(right)) + right)
        return lines

    top = panel(c.value, f"{c.output} over {c.name}", "*")
    bottom = panel(c.slope, f"∂{c.output}/∂{c.name} (reverse mode)", "+")
    return "\n".join(top + [""] + bottom)


def curve_rows(c: Curve) -> list[list[str]]:
    rows = [[c.name, c.output, f"d{c.output}/d{c.name}"] + (["finite_difference"] if c.fd is not None else [])]
    for k in range(len(c.x)):
        row = [repr(float(c.x[k])), repr(float(c.value[k])), repr(float(c.slope[k]))]
        if c.fd is not None:
            row.append(repr(float(c.fd[k])))
        rows.append(row)
    return rows


def field_rows(f: Field) -> list[list[str]]:
    a, b = f.names
    rows = [[a, b, f.output, f"d{f.output}/d{a}", f"d{f.output}/d{b}"]]
    for i in range(len(f.y)):
        for j in range(len(f.x)):
            rows.append([repr(float(f.x[j])), repr(float(f.y[i])), repr(float(f.value[i, j])),
                         repr(float(f.gx[i, j])), repr(float(f.gy[i, j]))])
    return rows
