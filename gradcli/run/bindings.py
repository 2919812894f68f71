"""Input values: ``NAME=VALUE`` arguments and ``--vars FILE.json``.

A value is a constant expression in gradcli's own language (``3``, ``1/3``,
``-2.5e-3``, ``pi/4``), parsed and evaluated by gradcli itself -- never by Python's
``eval``.  JSON files hold numbers or such expressions as strings.
"""

from __future__ import annotations

import json
import math
import re
from typing import Iterable, NamedTuple, Optional

from ..core.errors import GradcliError, MathError, ParseError, UsageError
from ..core.fmt import shorten


class Binding(NamedTuple):
    name: str
    #: a float, or a float64 NumPy array (vectors, matrices, tensors of rank 3 and 4…)
    value: object
    #: the text the value was written as (kept for exact arithmetic and messages)
    text: str
    #: where it came from: "argument" or the --vars file name
    origin: str


#: a plain decimal number (``3``, ``-2.5e-3``, ``.5``): its value is `float`'s, as the language reads it
_PLAIN_NUMBER = re.compile(r"[ \t]*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?[ \t]*")


def constant_value(text: str, where: str) -> object:
    """Evaluate a constant expression such as ``1/3``, ``-pi/4`` or ``[1, 2/3]``."""
    if _PLAIN_NUMBER.fullmatch(text):  # a number needs no graph (unless it overflows: the graph's message)
        value = float(text)
        if math.isfinite(value):
            return value
    return graph_value(text, where)


def graph_value(text: str, where: str) -> object:
    """`constant_value` by parsing, lowering and evaluating the expression."""
    from ..core.engine import Tape
    from ..core.errors import ShapeError
    from ..language.lower import lower
    from ..language.parser import parse
    from ..core.shapes import infer_shapes

    try:
        program = parse(text)
        if len(program.statements) != 1 or program.statements[0].target is not None:
            raise UsageError(f"{where}: the value must be one expression, got {text!r}")
        graph = lower(program)
    except ParseError as exc:
        line, col = exc.line_col
        raise UsageError(f"{where}: {exc.message} (column {col} of {text!r})") from None
    if graph.inputs:
        names = ", ".join(graph.nodes[i].name for i in graph.inputs)  # type: ignore[misc]
        raise UsageError(f"{where}: a value may not use other names ({names}) in {text!r}")
    try:
        infer_shapes(graph, {})
        values = Tape(graph).forward({})
    except MathError as exc:
        raise MathError(f"{where}: {exc.message}") from None
    except ShapeError as exc:
        if "(stack)" in exc.message and "one shape" in exc.message:
            raise UsageError(f"{where}: {text!r} is not a rectangular array (rows of different lengths)") from None
        raise UsageError(f"{where}: {exc.message}") from None
    value = values[graph.output]
    return value if hasattr(value, "shape") else float(value)


#: deepest nesting accepted for an array in --vars (a matrix is 2, a batch of images (N, C, H, W) 4)
MAX_RANK = 8
#: the most elements an input array may have (--vars and NAME=[...]; README, "Files and limits")
from ..core.shapes import MAX_ELEMENTS as MAX_ARRAY_ELEMENTS  # noqa: E402 - the one limit, kept in core


def json_array(raw: list, where: str):
    """A rectangular list of numbers (any nesting up to MAX_RANK) as a float64 array."""
    import numpy as np

    depth, probe = 0, raw
    while isinstance(probe, list):
        depth += 1
        if depth > MAX_RANK or not probe:
            why = f"too deeply nested (more than {MAX_RANK} levels)" if probe else "an empty list"
            raise UsageError(f"{where}: {why} is not an array")
        probe = probe[0]
    flat: list = []
    shape: list = []
    level = [raw]
    for _ in range(depth):
        sizes = {len(x) if isinstance(x, list) else -1 for x in level}
        if len(sizes) != 1 or -1 in sizes:
            raise UsageError(f"{where}: rows of different lengths (an array must be rectangular)")
        shape.append(sizes.pop())
        level = [y for x in level for y in x]
        if len(level) > MAX_ARRAY_ELEMENTS:
            raise UsageError(f"{where}: more than {MAX_ARRAY_ELEMENTS:,} elements; gradcli takes arrays "
                             f"up to {MAX_ARRAY_ELEMENTS:,} elements")
    for v in level:
        if isinstance(v, str):  # an expression such as "1/2" or "pi/4", as for a single value
            value = constant_value(v, where)
            if getattr(value, "shape", ()) != ():
                raise UsageError(f"{where}: {v!r} is not a single number")
            flat.append(float(value))  # type: ignore[arg-type]
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise UsageError(f"{where}: {json.dumps(v)[:40]} is not a number")
        flat.append(_finite(v, where))
    arr = np.array(flat, dtype=float).reshape(shape)
    if not np.all(np.isfinite(arr)):
        raise UsageError(f"{where}: numbers must be finite")
    return arr


def _check_name(name: str, where: str) -> None:
    from ..core.ops import CONSTANTS

    if not name or not (name[0].isalpha() or name[0] == "_") or not all(
        ch.isalpha() or ch in "_0123456789" for ch in name
    ):
        raise UsageError(f"{where}: {name!r} is not a valid name (letters, digits, _)")
    if name in CONSTANTS:  # function names are not reserved: an input may be called `mean`
        raise UsageError(f"{where}: {name!r} is a built-in constant and cannot be bound")


def parse_argument(arg: str) -> Binding:
    """``a=3`` -> Binding('a', 3.0, '3', 'argument')."""
    name, eq, text = arg.partition("=")
    name = name.strip()
    if not eq:
        raise UsageError(f"unexpected argument {arg!r}: bindings are written NAME=VALUE, e.g. x=0.5")
    _check_name(name, f"binding {arg!r}")
    if not text.strip():
        raise UsageError(f"binding {arg!r} has no value after '='")
    return Binding(name, constant_value(text, f"binding {name}"), text.strip(), "argument")


def read_vars_file(path: str) -> list[Binding]:
    """Bindings from a JSON object ``{"a": 3, "b": "1/3"}``."""
    from .files import read_text

    text = read_text(path, f"--vars {path}")
    try:
        data = json.loads(text, object_pairs_hook=_object_once)
    except _Repeated as exc:  # two values for one name: which one was meant is the user's to say
        raise UsageError(f"--vars {path}: {exc.args[0]!r} is given twice; keep one value") from None
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"--vars {path}: not valid JSON ({shorten(str(exc), 120)})") from None
    if not isinstance(data, dict):
        raise UsageError(f"--vars {path}: expected a JSON object of name: value pairs")
    out = []
    for name, raw in data.items():
        where = f"--vars {path}: {name}"
        _check_name(name, f"--vars {path}")
        if isinstance(raw, list):
            out.append(Binding(name, json_array(raw, where), json.dumps(raw), path))
            continue
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            kind = {dict: "an object", type(None): "null"}.get(type(raw), type(raw).__name__)
            raise UsageError(f"{where}: expected a number, a list of numbers or an expression string, got {kind}")
        if isinstance(raw, str):
            value = constant_value(raw, where)
            text = raw
        else:
            value = _finite(raw, where)
            text = repr(raw) if isinstance(raw, float) else str(raw)
        out.append(Binding(name, value, text, path))
    return out


class _Repeated(Exception):
    """A JSON object with a key given twice (json.loads would keep the last silently)."""


def _object_once(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object's pairs as a dict, refusing a repeated key."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _Repeated(key)
        out[key] = value
    return out


def _finite(raw, where: str) -> float:
    """A JSON number as a finite float, or a UsageError (1e400, an integer of 400 digits)."""
    try:
        value = float(raw)
    except OverflowError:
        value = math.inf
    if math.isnan(value):
        raise UsageError(f"{where}: NaN is not a number gradcli can use")
    if not math.isfinite(value):
        shown = str(raw) if len(str(raw)) <= 30 else str(raw)[:27] + "…"
        raise UsageError(f"{where}: {shown} is too large for a 64-bit float")
    return value


def program_point(source: str, folder: str = ".") -> tuple[dict[str, Binding], Optional[str], list[str]]:
    """The default point a program file states, and its default output.

    ``#: bind a=3 b=2`` gives values, ``#: vars FILE.json`` a values file (relative to
    the program's folder), ``#: output NAME`` the step to differentiate; other ``#:``
    lines (a sample's expected answers) are not read here.  Values given on the
    command line or with --vars override these.  A ``#: vars`` file that cannot be
    read is returned as a problem, not raised: it matters only if a value is missing.
    """
    import os

    point: dict[str, Binding] = {}
    output = None
    problems: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#:"):
            continue
        key, _, rest = stripped[2:].strip().partition(" ")
        if key == "bind":
            for item in rest.split():
                b = parse_argument(item)
                point[b.name] = Binding(b.name, b.value, b.text, "program")
        elif key == "vars" and rest.strip():
            path = os.path.join(folder, rest.strip())
            try:
                found = read_vars_file(path)
            except UsageError as exc:
                problems.append(f"the program's '#: vars {rest.strip()}' line: {exc.message}")
                continue
            for b in found:
                point[b.name] = Binding(b.name, b.value, b.text, "program")
        elif key == "output" and rest.strip():
            output = rest.strip()
    return point, output, problems


def collect(arguments: Iterable[str], vars_files: Iterable[str]) -> dict[str, Binding]:
    """All bindings by name; a command-line argument overrides a --vars file."""
    bound: dict[str, Binding] = {}
    for path in vars_files:
        for b in read_vars_file(path):
            bound[b.name] = b
    seen: set[str] = set()
    for arg in arguments:
        b = parse_argument(arg)
        if b.name in seen:
            raise UsageError(f"{b.name} is bound twice on the command line")
        seen.add(b.name)
        bound[b.name] = b
    return bound


__all__ = ["Binding", "collect", "constant_value", "parse_argument", "read_vars_file", "GradcliError"]
