"""Number formatting shared by tables, CSV and messages (JSON keeps full precision), and
names as LaTeX."""

from __future__ import annotations

import math
from typing import Callable

#: format specs by digits, built once
_SPECS = tuple(f".{d}g" for d in range(32))


def number(x: object, digits: int = 10) -> str:
    """A float as a person writes it: ``15``, ``0.3``, ``1.5e-07``, ``inf``, ``nan``.

    Arrays are shown as nested brackets, cut to a few elements per axis.
    """
    if type(x) is float:  # the common case: Python's ``g`` already writes inf, nan, 1e-07, 1e+300
        if x == 0:
            return "0"  # -0.0 too
        return format(x, _SPECS[digits] if 0 <= digits < len(_SPECS) else f".{digits}g")
    if hasattr(x, "shape") and getattr(x, "shape", ()) != ():
        return array(x, digits)
    try:
        x = float(x)  # type: ignore[arg-type]  # (an int, a bool, a NumPy scalar)
    except (TypeError, ValueError):
        return str(x)
    return number(x, digits)  # now a float: the case above


#: `number_formatter` keeps at most this many values
FORMATTER_LIMIT = 1 << 16


def number_formatter(digits: int = 10) -> Callable[[object], str]:
    """`number` at `digits`, remembering each float it formatted (up to `FORMATTER_LIMIT`):
    for an explanation that writes the same values again and again (an adjoint is the
    upstream factor of every edge into its node).  0.0 and -0.0 share an entry: both are "0"."""
    cache: dict[float, str] = {}
    get = cache.get

    def fmt(x: object) -> str:
        if type(x) is float:
            text = get(x)  # type: ignore[call-overload]
            if text is None:
                text = number(x, digits)
                if len(cache) < FORMATTER_LIMIT:
                    cache[x] = text  # type: ignore[index]
            return text
        return number(x, digits)

    return fmt


def json_number(x: float) -> object:
    """A float for strict JSON: non-finite numbers become "nan", "inf", "-inf"."""
    if math.isfinite(x):
        return x
    return number(x)


def columns(text: str) -> int:
    """Terminal columns `text` takes: combining marks (an adjoint's bar, a tangent's dot) take
    none, East Asian wide characters two.  Explanations line up their continuation lines by it,
    a parse error its caret, the terminal's wrapping its lines.  Each distinct non-ASCII
    character is looked up once (a line has a handful), so a long line costs what `len` does."""
    n = len(text)
    if text.isascii():
        return n
    for c in set(text):
        if c >= "\x80":
            n += (char_columns(c) - 1) * text.count(c)
    return n


_CHAR_COLUMNS: dict[str, int] = {}


def char_columns(c: str) -> int:
    """Terminal columns of the character `c` (`columns`)."""
    found = _CHAR_COLUMNS.get(c)
    if found is None:
        import unicodedata

        found = _CHAR_COLUMNS[c] = 0 if unicodedata.combining(c) else (
            2 if unicodedata.east_asian_width(c) in "WF" else 1)
    return found


def pad_to(text: str, width: int) -> str:
    """`text` with spaces after it to take `width` terminal columns (as str.ljust, by `columns`)."""
    return text + " " * (width - columns(text))


#: a tensor of rank ≥ 3 with more elements than this prints its first slice only (``array``)
SMALL_TENSOR = 64


def array(x, digits: int = 10, edge: int = 3, full: bool = False, lines: bool = False) -> str:
    """``[[1, 2], [3, 4]]``; with more than 2·edge elements on an axis, the middle is ``…``.

    A tensor of rank 3 or more with over SMALL_TENSOR elements is cut harder, so that a batch
    of images stays a few lines: its outer axes (all but the last two) show their first slice
    then ``…``, its last two axes min(edge, 2) elements at each end.  `lines` puts every row of
    such a tensor on a line of its own, indented as NumPy prints it (tables do; rank ≤ 2 is
    unchanged by it).
    """
    import numpy as np

    a = np.asarray(x)
    if a.ndim == 0:
        return number(float(a), digits)
    rank = a.ndim

    big = rank >= 3 and a.size > SMALL_TENSOR

    def keep(n: int, axis: int) -> list:
        if big and axis < rank - 2:
            return list(range(n)) if full or n == 1 else [0, -1]
        cut = min(edge, 2) if big else edge
        return list(range(n)) if full or n <= 2 * cut else [*range(cut), -1, *range(n - cut, n)]

    def row(sub, axis: int) -> str:  # depth ≤ the rank (8 at most): bounded recursion
        parts = []
        for k in keep(sub.shape[0], axis):
            if k < 0:
                parts.append("…")
            elif sub.ndim == 1:
                parts.append(number(float(sub[k]), digits))
            else:
                parts.append(row(sub[k], axis + 1))
        sep = ",\n" + " " * (axis + 1) if lines and rank >= 3 and sub.ndim >= 2 else ", "
        return "[" + sep.join(parts) + "]"

    return row(a, 0)


def json_value(x):
    """Numbers and arrays (nested lists) for strict JSON."""
    if hasattr(x, "tolist") and getattr(x, "shape", ()) != ():
        return _json_nested(x.tolist())
    return json_number(float(x))


def _json_nested(items):
    if isinstance(items, list):
        return [_json_nested(v) for v in items]
    return json_number(items)


def tex_name(name: str) -> str:
    """A node's name in LaTeX math: ``w1`` -> ``w_{1}``, ``lam`` -> ``\\mathrm{lam}``, and
    the characters TeX reads as commands escaped (``hidden#1.a`` -> ``\\mathrm{hidden\\#1.a}``,
    ``d_z`` -> ``\\mathrm{d\\_z}``: a bare ``_`` twice would be a double subscript)."""
    import re

    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", name)
    if m:
        return f"{m.group(1)}_{{{m.group(2)}}}"
    if len(name) > 1 and name.isascii():
        return "\\mathrm{" + re.sub(r"([#_$%&{}])", r"\\\1", name) + "}"
    return name


def tex_bar(name: str) -> str:
    """A node's adjoint in LaTeX: the bar over the letter, the subscript outside it
    (``z2`` -> ``\\bar{z}_{2}``, not ``\\bar{z_{2}}``)."""
    import re

    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", name)
    if m:
        return f"\\bar{{{m.group(1)}}}_{{{m.group(2)}}}"
    return f"\\bar{{{tex_name(name)}}}"


def shorten(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with an ellipsis where it is longer (a value quoted in
    a message)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plural(count: int, word: str, many: str = "") -> str:
    """``1 pass``, ``2 passes``, ``1 wrong element``: a count with its noun in the right number
    (`many` when the plural is not the word plus ``s``/``es``)."""
    if count == 1:
        return f"{count} {word}"
    if not many:
        many = word + ("es" if word.endswith(("s", "sh", "ch", "x")) else "s")
    return f"{count} {many}"


#: how a file format is named in prose ("an SVG plot", "an HTML picture")
FORMAT_NAMES = {"svg": "SVG", "png": "PNG", "html": "HTML", "dot": "DOT", "pdf": "PDF", "json": "JSON",
                "csv": "CSV", "tsv": "TSV", "text": "text", "numpy": "NumPy", "torch": "PyTorch", "jax": "JAX"}


def a_format(fmt: str, noun: str) -> str:
    """``an SVG plot``, ``a PNG plot``, ``an HTML picture``, ``a NumPy script``."""
    name = FORMAT_NAMES.get(fmt, fmt)
    article = "an" if name[:1].lower() in "aeio" or name[:1] in "FHLMNRSX" and name.isupper() else "a"
    return f"{article} {name} {noun}"
