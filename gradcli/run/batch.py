"""Batch evaluation: one program at many points (``gradcli eval PROG --points FILE.csv``).

A scalar program is elementwise throughout, so evaluating it at N points is the same
program on vectors of length N: the rows become NumPy arrays, the tape runs once on
them (forward and backward, in chunks), and every row gets its value and gradient.
Rows where an operation is undefined get ``nan`` and are counted, not fatal.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .bindings import Binding
from ..core.errors import UsageError
from .evaluate import prepare

#: rows per vectorized pass (bounds memory: a few arrays of this length per node)
CHUNK = 200_000


class Batch:
    """Inputs, values and gradients for every row."""

    def __init__(self, names: list[str], inputs: dict[str, np.ndarray], value: np.ndarray,
                 gradient: dict[str, np.ndarray], failed: np.ndarray, first_error: str) -> None:
        self.names = names
        self.inputs = inputs
        self.value = value
        self.gradient = gradient
        self.failed = failed
        self.first_error = first_error


def read_points(path: str, option: str = "--points") -> tuple[list[str], np.ndarray]:
    """Column names and an (N, k) float array from a CSV with a header line (`option` names
    the file in messages)."""
    names, data, _ = read_points_lines(path, option)
    return names, data


def read_points_lines(path: str, option: str = "--points") -> tuple[list[str], np.ndarray, np.ndarray]:
    """Column names, an (N, k) float array, and the line of the file each row came from.

    Read with the csv module's rules, so quoted headers ("a","b") and quoted numbers work;
    blank lines are skipped.  At most `MAX_INPUT_BYTES` are read ('-': stdin).

    Most files are plain numbers and commas: those are parsed in bulk (`_parse_bulk`).
    A file the bulk parse does not accept -- quotes, blank lines, a malformed or
    non-finite row -- is read again row by row (`_parse_rows`), which names the line at
    fault; both give the same result wherever both apply.
    """
    from .files import read_text

    where = f"{option} {path}"
    text = read_text(path, where)
    bulk = _parse_bulk(text)
    if bulk is not None:
        return bulk
    return _parse_rows(text, where)


def _parse_rows(text: str, where: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """`read_points_lines` row by row with the csv module: every row checked, and the
    first bad one reported by its line."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        names = [h.strip() for h in header] if header else []
        if not names or any(not n for n in names):
            raise UsageError(f"{where}: the first line must name the inputs, e.g. a,b")
        if len(set(names)) != len(names):
            raise UsageError(f"{where}: a column name appears twice")
        rows: list[list[float]] = []
        lines: list[int] = []
        for cells in reader:
            if not cells or all(not c.strip() for c in cells):
                continue
            line = reader.line_num
            if len(cells) != len(names):
                raise UsageError(f"{where}: line {line}: {len(cells)} values per row but {len(names)} column names")
            row = []
            for cell in cells:
                try:
                    row.append(float(cell))
                except ValueError:
                    raise UsageError(f"{where}: line {line}: {cell.strip()[:30]!r} is not a number") from None
            rows.append(row)
            lines.append(line)
    except csv.Error as exc:
        raise UsageError(f"{where}: line {reader.line_num}: {exc}") from None
    if not rows:
        raise UsageError(f"{where}: no rows after the header line")
    data = np.array(rows, dtype=float).reshape(len(rows), len(names))
    if not np.all(np.isfinite(data)):
        bad = int(np.argmax(~np.all(np.isfinite(data), axis=1)))
        raise UsageError(f"{where}: line {lines[bad]}: every value must be a finite number")
    return names, data, np.array(lines)


def _parse_bulk(text: str) -> Optional[tuple[list[str], np.ndarray, np.ndarray]]:
    """`_parse_rows`'s result for a plain file, or None where it must decide.

    Plain: no quotes, no NUL, lines ended by \\n or \\r\\n, no blank line, exactly k-1
    commas on every line, every cell a finite number for ``float``, no line longer than
    the csv module's field limit.  Then the csv module would split exactly at the commas
    and newlines, so the cells are found by two string methods and converted by ``float``
    (the very function the row reader uses), with one check of the separators in NumPy
    instead of one per row.  Anything else returns None: the row reader then reads the
    file again and reports the first bad line in its words.
    """
    import csv

    if '"' in text or "\0" in text:
        return None
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            return None  # a lone \r ends a csv row too: the row reader decides
        text = text.replace("\r\n", "\n")
    head, newline, body = text.partition("\n")
    names = [h.strip() for h in head.split(",")]
    if not newline or not body or any(not n for n in names) or len(set(names)) != len(names):
        return None
    if not body.endswith("\n"):
        body += "\n"
    k = len(names)
    raw = np.frombuffer(body.encode("utf-8"), dtype=np.uint8)
    seps = np.flatnonzero((raw == 44) | (raw == 10))  # ',' and '\n'
    if len(seps) % k:
        return None
    ends = seps[k - 1::k]
    grid = (raw[seps] == 10).reshape(-1, k)
    if not grid[:, -1].all() or grid[:, :-1].any():
        return None  # some line has more or fewer than k cells (or is blank)
    lengths = np.diff(ends, prepend=-1) - 1  # bytes per line, at least the characters
    if lengths.max() > csv.field_size_limit() or (lengths == 0).any():
        return None
    cells = body.replace("\n", ",").split(",")
    cells.pop()  # after the last line's separator
    try:
        data = np.array(list(map(float, cells)), dtype=float).reshape(-1, k)
    except ValueError:
        return None
    if not np.isfinite(data).all():
        return None
    return names, data, np.arange(2, data.shape[0] + 2)


def evaluate_points(source: str, names: list[str], data: np.ndarray, fixed: dict[str, Binding],
                    output: Optional[str] = None, wrt: Optional[list[str]] = None,
                    progress: Optional[Callable[[int], None]] = None,
                    lines: Optional[np.ndarray] = None) -> Batch:
    """Values and gradients of `source` at every row of `data` (columns `names`).

    A row whose value is not finite -- undefined (nan) or overflowing (±inf) -- failed: its
    value and gradient are both written as nan, one rule for both.  `lines` (the line of
    the file each row came from) names the first failing row in the message.
    """
    n = data.shape[0]
    columns = {name: data[:, k] for k, name in enumerate(names)}
    probe = {name: Binding(name, float(col[0]) if n else 0.0, "", "--points") for name, col in columns.items()}
    bindings = {**fixed, **probe}
    ev = prepare(source, bindings, output, wrt)
    unused = [name for name in names if name not in ev.inputs]
    if unused:
        raise UsageError(f"--points: column{'s' if len(unused) > 1 else ''} {', '.join(unused)} "
                         f"{'are' if len(unused) > 1 else 'is'} not an input of the program "
                         f"(inputs: {', '.join(ev.inputs)})")
    if any(getattr(ev.env[name], "shape", ()) for name in ev.inputs) or not ev.tape.scalar:
        raise UsageError("--points evaluates scalar programs; this one has vectors or matrices")
    from ..core.shapes import infer_shapes
    from ..core.engine import Tape

    value = np.empty(n)
    gradient = {name: np.empty(n) for name in ev.wrt}
    failed = np.zeros(n, dtype=bool)
    first_error = ""
    graph = ev.graph
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        env = {name: (columns[name][start:stop] if name in columns else np.full(stop - start, ev.env[name]))
               for name in ev.inputs}
        infer_shapes(graph, env)
        tape = Tape(graph)
        with np.errstate(all="ignore"):
            values = tape.forward_unchecked(env)
            out = np.broadcast_to(np.asarray(values[graph.output], dtype=float), (stop - start,))
            seed = np.ones(stop - start) if graph.nodes[graph.output].shape else 1.0
            adjoint = tape.backward(values, seed)
        bad = ~np.isfinite(out)
        value[start:stop] = np.where(bad, np.nan, out)
        for name in ev.wrt:
            g = np.broadcast_to(adjoint[graph.names[name]], (stop - start,))
            gradient[name][start:stop] = np.where(bad, np.nan, g)  # no gradient where the value failed
        if bad.any():
            failed[start:stop] = bad
            if not first_error:
                row = start + int(np.argmax(bad))
                line = int(lines[row]) if lines is not None else None
                first_error = _row_error(source, names, data[row], fixed, output, row, line)
        if progress is not None:
            progress(stop - start)
    for node in graph.nodes:  # leave the graph as a scalar graph again
        node.shape = ()
    return Batch(list(ev.wrt), columns, value, gradient, failed, first_error)


def _row_error(source, names, row, fixed, output, index: int, line: Optional[int] = None) -> str:
    """The math error of one failing row, by evaluating it alone."""
    from ..core.errors import MathError
    from .evaluate import run

    bindings = {**fixed, **{name: Binding(name, float(v), "", "--points") for name, v in zip(names, row)}}
    where = f"row {index + 1}" if line is None else f"line {line} (row {index + 1})"
    try:
        run(prepare(source, bindings, output))
    except MathError as exc:
        return f"{where}: {exc.message}"
    return f"{where}: the result is not finite"


def write_csv(batch: Batch, out, fmt: str = "csv") -> None:
    """Inputs, value and ∂/∂input per row; ``nan`` where a row failed."""
    sep = "," if fmt == "csv" else "\t"
    in_names = list(batch.inputs)
    header = [*in_names, "value", *[f"d/d{name}" for name in batch.names]]
    out.write(sep.join(header) + "\n")
    cols = [batch.inputs[name] for name in in_names] + [batch.value] + [batch.gradient[n] for n in batch.names]
    if not cols or not len(batch.value):
        return
    table = np.column_stack(cols) + 0.0  # + 0.0 turns -0.0 into 0.0: no "-0.0" in the output
    for start in range(0, table.shape[0], CHUNK):
        _write_pieces(out, float_rows(table[start:start + CHUNK], sep))


#: largest single write: a pipe's reader that goes away (``| head -2``) must be noticed
PIECE = 1 << 16


def _write_pieces(out, text: str) -> None:
    """Write `text` a pipe's worth at a time.  One huge write into a pipe whose reader has
    gone returns short without an error (CPython's text layer then drops the rest silently,
    exit 0); the next small write raises BrokenPipeError, which the command line reports as 141."""
    for start in range(0, len(text), PIECE):
        out.write(text[start:start + PIECE])


def float_rows(table: np.ndarray, sep: str = ",") -> str:
    """Rows of `sep`-separated floats, one line each, every value exactly ``repr(value)``.

    Float-to-text is most of a batch run's time, and ``repr`` one value at a time is
    the fastest pure-Python way.  With orjson (a regular dependency) the rows are
    written in bulk: orjson prints finite floats in [1e-4, 1e16) and zero exactly as
    ``repr`` does (shortest round trip), so those rows go through it, and the rest
    (non-finite values, which orjson prints as null; exponent forms, which it prints
    as 1e-5 where repr prints 1e-05) go through ``repr``.
    """
    orjson = _orjson()
    if orjson is None or not table.size:
        columns = [list(map(repr, table[:, j].tolist())) for j in range(table.shape[1])]
        return "".join([line + "\n" for line in map(sep.join, zip(*columns))])
    size = np.abs(table)
    special = (~np.isfinite(table) | ((size < 1e-4) & (table != 0)) | (size >= 1e16)).any(axis=1)
    plain = np.ascontiguousarray(table[~special] if special.any() else table, dtype=np.float64)
    text = orjson.dumps(plain, option=orjson.OPT_SERIALIZE_NUMPY).decode("ascii")[2:-2].replace("],[", "\n")
    if sep != ",":
        text = text.replace(",", sep)
    if not special.any():
        return text + "\n"
    lines = np.empty(table.shape[0], dtype=object)
    if len(plain):
        lines[~special] = text.split("\n")
    row_format = sep.join(["%r"] * table.shape[1])
    lines[special] = [row_format % tuple(row) for row in table[special].tolist()]
    return "\n".join(lines.tolist()) + "\n"


def _orjson():
    """The orjson module, or None when it cannot be imported (then ``repr`` and ``float`` do it all)."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson


def write_json_lines(batch: Batch, out) -> None:
    import json

    from ..core.fmt import json_number

    in_names = list(batch.inputs)
    for k in range(len(batch.value)):
        doc = {
            "schema": 1,  # the layout version, as in every gradcli JSON document (gradcli/schemas/points.schema.json)
            "row": k + 1,
            "inputs": {name: float(batch.inputs[name][k]) + 0.0 for name in in_names},
            "value": json_number(float(batch.value[k]) + 0.0),
            "gradient": {name: json_number(float(batch.gradient[name][k]) + 0.0) for name in batch.names},
        }
        out.write(json.dumps(doc, allow_nan=False) + "\n")
