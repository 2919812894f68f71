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
    import os

    # gradcli always draws with Agg, so the user's MPLBACKEND is not read: matplotlib's import
    # validates it, and a name it does not know (MPLBACKEND=junk) would fail every picture
    backend = os.environ.pop("MPLBACKEND", None)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("pictures of gradients need matplotlib: pip install 'gradcli[plot]' "
                         "(or use --format csv, or the terminal plot)") from None
    finally:
        if backend is not None:
            os.environ["MPLBACKEND"] = backend
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


def _levels(value: np.ndarray, count: int = 20) -> Optional[np.ndarray]:
    """Contour levels that show the shape: evenly spaced, or at quantiles when a few high
    values would leave the interesting part one flat colour (Rosenbrock's valley).  None when
    the output is undefined or constant over the whole grid."""
    finite = value[np.isfinite(value)]
    if finite.size == 0:
        return None
    lo, hi = float(finite.min()), float(finite.max())
    if not hi > lo:
        return None
    even = np.linspace(lo, hi, count + 1)
    share_in_lowest = np.mean(finite <= even[1])
    if share_in_lowest < 0.25:  # the values spread well over the even levels
        return even
    quantiles = np.unique(np.quantile(finite, np.linspace(0, 1, count + 1)))
    return quantiles if quantiles.size >= 3 else even


def _arrow_colours(size: np.ndarray) -> tuple[np.ndarray, Optional[tuple[float, float]]]:
    """log10 |gradient| per arrow and the colour range: the finite, non-zero sizes only, so a
    stationary point on the grid (size 0, log −inf) does not stretch the scale to −300."""
    useful = np.isfinite(size) & (size > 0)
    if not useful.any():
        return np.zeros_like(size), None
    logs = np.log10(size[useful])
    lo, hi = float(logs.min()), float(logs.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    colours = np.full(size.shape, lo)
    colours[useful] = logs
    return colours, (lo, hi)


@_drawing
def figure_field(f: Field, fmt: str, path: Optional[list[tuple[float, float]]] = None) -> bytes:
    """Contours of the output with the gradient as arrows (thinned to about 20 per axis); a
    descent path in white with its start and end marked."""
    from matplotlib.colors import BoundaryNorm

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 6))
    X, Y = np.meshgrid(f.x, f.y)
    levels = _levels(f.value)
    if levels is not None:
        norm = BoundaryNorm(levels, ncolors=256)
        filled = ax.contourf(X, Y, f.value, levels=levels, cmap="viridis", norm=norm)
        ax.contour(X, Y, f.value, levels=levels, colors="k", linewidths=0.3, alpha=0.5)
        bar = fig.colorbar(filled, ax=ax, pad=0.02, fraction=0.05)
        bar.set_label(f.output, labelpad=2)
        bar.ax.yaxis.set_major_formatter(_short_ticks())
    rows, cols = _thin(f)
    gx, gy = f.gx[rows, cols], f.gy[rows, cols]
    size = np.hypot(gx, gy)
    useful = np.isfinite(size) & (size > 0)
    ux = np.divide(gx, size, out=np.zeros_like(size), where=useful)  # arrows of one length: the direction
    uy = np.divide(gy, size, out=np.zeros_like(size), where=useful)  # reads, colour gives the size
    colours, span = _arrow_colours(size)
    if span is not None:
        from matplotlib.colors import ListedColormap

        greys = ListedColormap(plt.get_cmap("Greys")(np.linspace(0.35, 1.0, 256)))  # never white on yellow
        arrows = ax.quiver(X[rows, cols][useful], Y[rows, cols][useful], ux[useful], uy[useful], colours[useful],
                           cmap=greys, clim=span, angles="xy", pivot="mid", width=0.004)
        bar = fig.colorbar(arrows, ax=ax, orientation="horizontal", location="bottom", pad=0.1, fraction=0.05,
                           aspect=40)  # below the axes: two vertical bars' labels would overlap
        bar.set_label(f"log10 |∇{f.output}| (arrow colour)")
    if path:
        px, py = zip(*path)
        ax.plot(px, py, "-", color="white", lw=2.5, zorder=3)
        ax.plot(px, py, "-", color="#111827", lw=1.0, zorder=4, label="gradient descent")
        ax.plot(px[:1], py[:1], "o", ms=9, mfc="#22c55e", mec="black", zorder=5, label="start")
        ax.plot(px[-1:], py[-1:], "*", ms=14, mfc="#f97316", mec="black", zorder=5, label="end")
        ax.legend(loc="best", framealpha=0.9)
    ax.set_xlabel(f.names[0])
    ax.set_ylabel(f.names[1])
    title = f"{f.output} and its gradient (arrows)"
    if span is None:
        title += ": the gradient is zero or undefined everywhere"
    ax.set_title(title)
    return _save(fig, fmt)


def _short_ticks() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: number(float(v), 3))


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
