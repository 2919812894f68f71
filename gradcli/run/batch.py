"""Batch evaluation: one program at many points (``gradcli eval PROG --points FILE.csv``).

A scalar program is elementwise throughout, so evaluating it at N points is the same
program on vectors of length N: the rows become NumPy arrays, the tape runs once on
them (forward and backward, in chunks), and every row gets its value and gradient.
Rows where an operation is undefined get ``nan`` and are counted, not fatal.
"""

from __future__ import annotations

import re
import sys
from typing import Callable, Optional

import numpy as np

from .bindings import Binding
from ..core.errors import UsageError
from ..core.fmt import plural
from .evaluate import prepare

#: rows per vectorized pass (bounds memory: a few arrays of this length per node)
CHUNK = 200_000


class Batch:
    """Inputs, values and gradients for every row."""

    def __init__(self, names: list[str], inputs: dict[str, np.ndarray], value: np.ndarray,
                 gradient: dict[str, np.ndarray], failed: np.ndarray, first_error: str,
                 warnings: Optional[list[str]] = None) -> None:
        self.names = names
        self.inputs = inputs
        self.value = value
        self.gradient = gradient
        self.failed = failed
        self.first_error = first_error
        #: what the evaluation says about the fixed bindings (one computed by the program, or unused)
        self.warnings = warnings or []


def read_points(path: str, option: str = "--points") -> tuple[list[str], np.ndarray]:
    """Column names and an (N, k) float array from a CSV with a header line (`option` names
    the file in messages)."""
    names, data, _ = read_points_lines(path, option)
    return names, data


def read_points_lines(path: str, option: str = "--points") -> tuple[list[str], np.ndarray, np.ndarray]:
    """Column names, an (N, k) float array, and the line of the file each row came from.

    Read with the csv module's rules, so quoted headers ("a","b") and quoted numbers work;
    blank lines are skipped.  At most `MAX_INPUT_BYTES` are read ('-': stdin).

    Most files are plain numbers and commas: those are parsed in bulk, from the bytes
    read (`_parse_bulk`).  A file the bulk parse does not accept -- quotes, blank lines, a
    byte-order mark, a malformed or non-finite row -- is decoded and read again row by row
    (`_parse_rows`), which names the line at fault; both give the same result wherever
    both apply.
    """
    from .files import MAX_INPUT_BYTES, decode_text, read_bytes

    where = f"{option} {path}"
    raw = read_bytes(path, MAX_INPUT_BYTES, where)
    bulk = _parse_bulk(raw)
    if bulk is not None:
        return bulk
    return _parse_rows(decode_text(raw, where), where)


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
                raise UsageError(f"{where}: line {line}: {plural(len(cells), 'value')} in the row but "
                                 f"{plural(len(names), 'column name')}")
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


def _parse_bulk(raw: "bytes | str") -> Optional[tuple[list[str], np.ndarray, np.ndarray]]:
    """`_parse_rows`'s result for a plain file (its UTF-8 bytes), or None where it must decide.

    Plain: no quotes, no NUL, no byte-order mark, lines ended by \\n or \\r\\n, no blank
    line, exactly k-1 commas on every line, nothing but number characters, blanks and
    commas after the header line, every cell a finite number for ``float``, no cell longer
    than the csv module's field limit.  Then the csv module would split exactly at the
    commas and newlines, so the cells are found without it: the layout is checked in one
    pass (`_plain_layout`) and the numbers read in bulk (`_bulk_numbers`), to exactly the
    values ``float`` -- the function the row reader uses -- gives each cell.  Anything
    else returns None: the row reader then reads the file again and reports the first bad
    line in its words.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if raw.startswith(_BOM):
        return None
    if b"\r" in raw:
        if raw.count(b"\r") != raw.count(b"\r\n"):
            return None  # a lone \r ends a csv row too: the row reader decides
        raw = raw.replace(b"\r\n", b"\n")
    end = raw.find(b"\n")
    if end < 0 or end + 1 == len(raw) or end > _field_limit():
        return None  # no rows, or a name over the csv module's field limit: the row reader's error
    head = raw[:end]
    if b'"' in head or b"\0" in head:
        return None  # quotes: the csv module's rules (in the rows `_plain_layout` lets neither through)
    try:
        names = [h.strip() for h in head.decode("utf-8").split(",")]
    except UnicodeDecodeError:
        return None
    if any(not n for n in names) or len(set(names)) != len(names):
        return None
    k = len(names)
    rows = _plain_layout(raw, end, k)
    if rows is None:
        return None
    data = _bulk_numbers(raw, end, rows * k)
    if data is None or not np.isfinite(data).all():
        return None
    return names, data.reshape(rows, k), np.arange(2, rows + 2)


_BOM = "\ufeff".encode("utf-8")


def _field_limit() -> int:
    """The csv module's field limit.  Where the module was never imported, nothing changed
    it from its default (and importing it costs a batch a millisecond)."""
    csv = sys.modules.get("csv")
    return _CSV_FIELD_LIMIT if csv is None else csv.field_size_limit()


#: the csv module's default field limit (``_csv.c``: 128 KiB)
_CSV_FIELD_LIMIT = 128 * 1024


#: the bytes a number's cell may hold (``float`` strips the blanks and reads ``1_000``): deleted, they
#: leave the separators, in order, and any other byte
_NUMBER_BYTES = b"0123456789.eE+-_\t "


def _plain_layout(raw: bytes, end: int, k: int) -> Optional[int]:
    """The number of rows after the header line (which ends at `end`) when every line
    has exactly k cells of number bytes and no cell is over the csv module's field limit;
    else None.

    With the number bytes deleted, what is left of the rows must be k-1 commas and a
    newline, once per row (the last newline may be missing): a blank line, a short or long
    row, or any other byte breaks the pattern; and every stretch of half the field limit
    must hold a separator (then no cell is longer than the limit: a longer one would cover
    a whole stretch).
    """
    separators = raw.translate(None, _NUMBER_BYTES)
    head = len(raw[:end].translate(None, _NUMBER_BYTES)) + 1  # the header line's separators and newline
    ended = raw.endswith(b"\n")
    rows, extra = divmod(len(separators) - head + (not ended), k)
    if extra or not rows:
        return None
    pattern = (b"," * (k - 1) + b"\n") * rows
    if len(separators) - head != len(pattern) - (not ended) or not pattern.startswith(
            memoryview(separators)[head:]):
        return None
    stretch = max(1, _field_limit() // 2)  # a cell over the limit fills one such stretch
    for start in range(end, len(raw), stretch):
        if raw.find(b"\n", start, start + stretch) < 0 and raw.find(b",", start, start + stretch) < 0:
            return None
    return rows


def _bulk_numbers(raw: bytes, end: int, count: int) -> Optional[np.ndarray]:
    """The `count` numbers of the rows after the header line (which ends at `end`), laid
    out plainly (`_plain_layout`), each exactly ``float`` of its cell; None when a cell
    is not a number for ``float``.

    orjson reads the cells as one JSON array, in C, where every cell is a JSON number
    (JSON's numbers are a subset of ``float``'s texts, read with correct rounding to the
    same double; the layout let through only number bytes, blanks and separators, so
    nothing else, no string or ``null``, can be in the array); ``float`` reads them one by
    one otherwise: without orjson, where a cell is not JSON (``1_000``, ``.5``, ``+1``,
    ``1e``), where a cell is ``-0``, which JSON reads as the integer 0 and ``float``
    as -0.0, and where a cell may be too long for orjson to round as ``float`` does
    (`_short_cells`).
    """
    orjson = _orjson()
    if orjson is not None:
        text, first, last = _json_array(raw, end)
        try:  # no cells read where some may be too long: then ``float`` reads the file
            cells = orjson.loads(memoryview(text)[first:last]) if _short_cells(text, first, last) else []
            data = np.fromiter(cells, dtype=np.float64, count=len(cells))
        except (orjson.JSONDecodeError, OverflowError):
            pass
        else:
            if data.shape == (count,) and (data.all() or not _negative_zero_integer(text, first, last)):
                return data
        del text  # a copy of the file: not kept while ``float`` reads it
    stop = len(raw) - raw.endswith(b"\n")  # the last line's newline, if any, is not a cell's
    try:
        return np.array(list(map(float, raw[end + 1:stop].replace(b"\n", b",").split(b","))), dtype=np.float64)
    except ValueError:
        return None


#: bytes changed in place at a time (`_json_array`): the stretch and its mask stay in cache
_STRETCH = 1 << 18


def _json_array(raw: bytes, end: int) -> tuple[bytearray, int, int]:
    """The rows after the header line (which ends at `end`) as the text of one JSON array,
    text[first:last]: '[', the cells with every newline a comma, and ']' for the last
    newline.  One copy of the file, changed in place a stretch at a time (no temporaries
    the size of the file: in a fresh process each costs its page faults)."""
    text = bytearray(raw)
    if not raw.endswith(b"\n"):
        text.append(10)  # the last line's newline: it becomes the ']'
    size = len(text)
    chars = np.frombuffer(text, dtype=np.uint8)
    newline = np.empty(min(size, _STRETCH), dtype=bool)
    for start in range(end + 1, size, _STRETCH):
        part = chars[start:start + _STRETCH]
        hit = newline[:len(part)]
        np.equal(part, 10, out=hit)
        np.copyto(part, 44, where=hit)  # ','
    text[end] = 91  # '['
    text[-1] = 93  # ']'
    return text, end, size


#: orjson reads a number of up to this many significant digits exactly as ``float`` does;
#: past them it rounds as if the digits it drops were not all zeros (measured, orjson 3.13:
#: 1.00000000000000011102230246251565404236316680908203125, halfway between 1 and the next
#: double, followed by 715 zeros read as 1.0000000000000002; ``float`` rounds it to even, 1.0)
_JSON_DIGITS = 768

#: the windows `_short_cells` looks for a comma in: a cell over `_JSON_DIGITS` bytes (two
#: windows less one, or more) covers a whole one; `_SHORT_STEP` bytes (a multiple) at a time
_WINDOW = 256
_SHORT_STEP = _WINDOW << 10


def _short_cells(text: bytearray, first: int, last: int) -> bool:
    """Whether every cell of the JSON array text[first:last] is short enough for orjson
    (`_JSON_DIGITS`): every aligned window of `_WINDOW` bytes after the '[' holds a comma.
    A cell of 2·`_WINDOW` - 1 bytes or more leaves some window without one, and then
    ``float`` reads the file (for a cell of 511 to 768 bytes too: slower, never wrong).
    In NumPy, a cached step at a time with one mask for all."""
    chars = np.frombuffer(text, dtype=np.uint8)[first + 1:last]
    whole = len(chars) // _WINDOW * _WINDOW  # a longer cell that reaches the rest still fills the last window
    comma = np.empty(min(whole, _SHORT_STEP), dtype=bool)
    for start in range(0, whole, _SHORT_STEP):
        hit = comma[:min(_SHORT_STEP, whole - start)]
        np.equal(chars[start:start + len(hit)], 44, out=hit)
        if not hit.reshape(-1, _WINDOW).any(axis=1).all():
            return False
    return True


def _negative_zero_integer(text: bytearray, first: int, last: int) -> bool:
    """Whether the JSON array text[first:last] may hold the cell ``-0`` (the integer 0 for
    JSON, -0.0 for ``float``).  Looked for only where some value read is zero; ``1e-0,``
    counts too (then ``float`` reads the file: slower, never wrong)."""
    return any(text.find(end, first, last) >= 0 for end in (b"-0,", b"-0]", b"-0 ", b"-0\t"))


def evaluate_points(source: str, names: list[str], data: np.ndarray, fixed: dict[str, Binding],
                    output: Optional[str] = None, wrt: Optional[list[str]] = None,
                    progress: Optional[Callable[[int], None]] = None,
                    lines: Optional[np.ndarray] = None, option: str = "--points") -> Batch:
    """Values and gradients of `source` at every row of `data` (columns `names`).

    `option` names where the columns came from in the messages (``--points``, descend's
    ``--examples``, ``plot``'s ranges).

    A row where some node's value is not finite -- undefined (nan) or overflowing (±inf) --
    failed, as evaluating it alone is a math error (`_failed_rows`): its value and gradient
    are both written as nan, one rule for both.  `lines` (the line of the file each row came
    from) names the first failing row in the message.
    """
    n = data.shape[0]
    columns = {name: data[:, k] for k, name in enumerate(names)}
    probe = {name: Binding(name, float(col[0]) if n else 0.0, "", "--points") for name, col in columns.items()}
    bindings = {**fixed, **probe}
    ev = prepare(source, bindings, output, wrt)
    unused = [name for name in names if name not in ev.inputs]
    if unused:
        raise UsageError(f"{option}: column{'s' if len(unused) > 1 else ''} {', '.join(unused)} "
                         f"{'are' if len(unused) > 1 else 'is'} not an input of the program "
                         f"(inputs: {', '.join(ev.inputs) or 'none'})")
    if any(getattr(ev.env[name], "shape", ()) for name in ev.inputs) or any(ev.tape.shapes):
        raise UsageError(f"{option} evaluates scalar programs; this one has vectors or matrices")
    if not ev.tape.scalar:  # scalars only, but an op that would run across the rows (sum of a scalar)
        from ..core.ops import OPS

        ops = sorted(op for op in ev.graph.op_names() if op in OPS and not OPS[op].elementwise)
        raise UsageError(f"{option} evaluates scalar programs a row at a time; {', '.join(ops)} "
                         f"{'is' if len(ops) == 1 else 'are'} for vectors and matrices")
    from ..core.shapes import infer_shapes
    from ..core.engine import Tape

    values_parts: list[np.ndarray] = []
    gradient_parts: dict[str, list[np.ndarray]] = {name: [] for name in ev.wrt}
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
        bad = _failed_rows(values, tape, stop - start)
        failing = bad.any()
        # the pass's own arrays where every row is finite (no copy), else nan in the failed rows
        values_parts.append(np.where(bad, np.nan, out) if failing else np.ascontiguousarray(out))
        for name in ev.wrt:
            g = np.broadcast_to(adjoint[graph.names[name]], (stop - start,))
            gradient_parts[name].append(
                np.where(bad, np.nan, g) if failing else np.ascontiguousarray(g, dtype=np.float64))
        if failing:
            failed[start:stop] = bad
            if not first_error:
                row = start + int(np.argmax(bad))
                line = int(lines[row]) if lines is not None else None
                first_error = _row_error(source, names, data[row], fixed, output, row, line)
        if progress is not None:
            progress(stop - start)
    value = _joined(values_parts)
    gradient = {name: _joined(parts) for name, parts in gradient_parts.items()}
    for node in graph.nodes:  # leave the graph as a scalar graph again
        node.shape = ()
    return Batch(list(ev.wrt), columns, value, gradient, failed, first_error, ev.warnings)


def _failed_rows(values: list, tape, rows: int) -> np.ndarray:
    """The rows where some computed node's value is not finite: where `Tape.forward` of the
    row alone raises a math error, also where a later node maps the nan or inf back to a
    finite number (``tanh(log(0))`` is -1; ``clip`` and ``1 / inf`` too), so the output
    alone would not show it.  (The inputs are finite: the reader and the bindings check.)"""
    bad = None
    for i, _, _ in tape.code:
        finite = np.isfinite(values[i])
        if not finite.all():
            bad = ~finite if bad is None else bad | ~finite
    if bad is None:
        return np.zeros(rows, dtype=bool)
    return np.broadcast_to(bad, (rows,))  # a node of constants alone: every row


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """One array of the passes' parts (the part itself where there is one pass)."""
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.empty(0)


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
    """Inputs, value and ∂/∂input per row; ``nan`` where a row failed.

    The rows are ASCII bytes (`float_row_pieces`): where `out` is a text stream over a
    binary one (stdout), they go to the binary stream, after the text written so far;
    else they are decoded and written as text."""
    sep = "," if fmt == "csv" else "\t"
    in_names = list(batch.inputs)
    header = [*in_names, "value", *[f"d/d{name}" for name in batch.names]]
    out.write(sep.join(header) + "\n")
    cols = [batch.inputs[name] for name in in_names] + [batch.value] + [batch.gradient[n] for n in batch.names]
    if not cols or not len(batch.value):
        return
    binary = _binary_stream(out)
    most = _largest_write(binary)
    for _, block in _row_blocks(cols):
        for piece in float_row_pieces(block, sep):
            if binary is not None:
                _write_pieces(binary, piece, most)
            else:
                _write_pieces(out, bytes(piece).decode("ascii"))


#: rows turned into text at a time: a block's numbers, its text and the temporaries of
#: both stay in the processor's cache and in memory already mapped (200,000 rows at once
#: took twice as long in a fresh process; measured in benchmarks/points.py)
BLOCK_ROWS = 8192


def _row_blocks(cols: list):
    """(first row, block): the rows of `cols` (equal-length columns), `BLOCK_ROWS` at a
    time, as (m, k) arrays with -0.0 turned into 0.0 (no "-0.0" in the output).  One
    buffer serves every block: each is used before the next is made."""
    n = len(cols[0])
    buffer = np.empty((min(n, BLOCK_ROWS), len(cols)))
    for start in range(0, n, BLOCK_ROWS):
        stop = min(n, start + BLOCK_ROWS)
        block = buffer[:stop - start]
        for j, col in enumerate(cols):
            np.add(col[start:stop], 0.0, out=block[:, j])  # + 0.0 turns -0.0 into 0.0
        yield start, block


def _binary_stream(out):
    """The binary stream under the text stream `out` (flushed: what was written as text
    comes first), or None.  It is buffered, or raw under ``python -u``/PYTHONUNBUFFERED.
    None too where the text stream would write the rows' characters otherwise than
    ASCII does: another encoding (UTF-16), or newlines translated (Windows)."""
    import io
    import os

    binary = getattr(out, "buffer", None)
    if not isinstance(binary, (io.BufferedIOBase, io.RawIOBase)) or os.linesep != "\n":
        return None
    try:
        if _ROW_CHARACTERS.encode(getattr(out, "encoding", None) or "ascii") != _ROW_CHARACTERS.encode("ascii"):
            return None
    except (LookupError, UnicodeError):
        return None
    out.flush()
    return binary


#: every character a row of numbers can hold
_ROW_CHARACTERS = "0123456789.,-+eE\t\nnaif"


#: largest single write: a pipe's reader that goes away (``| head -2``) must be noticed
PIECE = 1 << 16


def _largest_write(stream) -> int:
    """`PIECE`, or no limit where `stream` writes to a regular file: no reader can go
    away, and each write call costs a system call (a 20 MB batch made 300 of them)."""
    import os
    import stat

    try:
        regular = stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, AttributeError, ValueError):  # io.UnsupportedOperation is an OSError
        regular = False
    return 1 << 62 if regular else PIECE


def _write_pieces(out, text, most: int = PIECE) -> None:
    """Write `text` (a string, or bytes for a binary stream) at most `most` characters a
    call: a pipe's worth by default.  One huge write into a pipe whose reader has gone
    returns short without an error (CPython's text layer then drops the rest silently,
    exit 0); the next small write raises BrokenPipeError, which the command line reports
    as 141."""
    if not isinstance(text, str):
        text = memoryview(text)  # slices without copies
    for start in range(0, len(text), most):
        piece = text[start:start + most]
        done = out.write(piece)
        while isinstance(done, int) and 0 < done < len(piece):  # a raw stream writes what it can
            piece = piece[done:]
            done = out.write(piece)


def float_rows(table: np.ndarray, sep: str = ",") -> str:
    """Rows of `sep`-separated floats, one line each, every value exactly ``repr(value)``."""
    return b"".join(float_row_pieces(table, sep)).decode("ascii")


def float_row_pieces(table: np.ndarray, sep: str = ",") -> list:
    """`float_rows` as ASCII pieces (bytes-like, in order) to write or join.

    Float-to-text is most of a batch run's time, and ``repr`` one value at a time is
    the fastest pure-Python way.  With orjson (a regular dependency) the values are
    written in bulk: orjson prints finite floats in [1e-4, 1e16) and zero exactly as
    ``repr`` does (shortest round trip), so those go through it (`_json_rows`), and the
    rest (non-finite values, which orjson prints as null; exponent forms, which it
    prints as 1e-5 or 0.00001 where repr prints 1e-05) through ``repr``, cell by cell;
    where those are over half the values, ``repr`` prints every value.
    """
    orjson = _orjson()
    values = np.ascontiguousarray(table, dtype=np.float64).ravel()
    if orjson is not None and values.size:
        size = np.abs(values)
        plain = (size >= 1e-4) & (size < 1e16)  # False for nan too
        special = _NONE if plain.all() else np.flatnonzero(~plain & (values != 0))
        pieces = None if len(special) > _SPECIAL_SHARE * values.size else _json_rows(
            orjson, values, table.shape[1], special, sep)
        if pieces is not None:
            return pieces
    columns = [list(map(repr, table[:, j].tolist())) for j in range(table.shape[1])]
    return ["".join([line + "\n" for line in map(sep.join, zip(*columns))]).encode("ascii")]


#: no special values (the indices `float_row_pieces` finds in most blocks)
_NONE = np.empty(0, dtype=np.intp)


#: above this share of values that orjson cannot print as ``repr`` does, ``repr`` prints
#: every value (measured: the same time at about this share)
_SPECIAL_SHARE = 1 / 2


#: up to this many special values are put in between views of orjson's text; more, by
#: splitting the text at the stand-ins (a few passes over it, but no Python loop)
_FEW_SPECIAL = 1000


#: stand-ins for the values orjson cannot print as ``repr`` does: plain floats whose
#: text marks their cells (the first that no value written equals)
_STAND_INS = (1234567.8901234567, 2345678.9012345676, 98765.43210987654)


def _json_rows(orjson, values: np.ndarray, k: int, special: np.ndarray, sep: str) -> Optional[list]:
    """Rows of k `values` each, the `special` ones (flat indices) printed by ``repr`` and
    the others by orjson; None where no stand-in marks the special cells unmistakably.

    orjson writes all values as one flat JSON array, ``[a,b,c,d]`` (a flat array is twice
    as fast for it as rows of arrays), each special value as a stand-in; every k-th comma
    becomes a newline, in place in NumPy, the closing bracket the last newline, and the
    opening one is left out (a view, no copy).  Then ``repr`` of each special value takes
    its stand-in's place: between views of the text where they are few, else by splitting
    the text at the stand-ins' cells and joining the parts with them (the stand-in's text
    must appear exactly once per special value, or this returns None)."""
    written = values
    if len(special):
        stand_in = next((s for s in _STAND_INS if not (values == s).any()), None)
        if stand_in is None:
            return None
        written = values.copy()
        written[special] = stand_in
    text = bytearray(orjson.dumps(written, option=orjson.OPT_SERIALIZE_NUMPY))
    chars = np.frombuffer(text, dtype=np.uint8)
    commas = np.flatnonzero(chars == 44)  # ','
    chars[commas[k - 1::k]] = 10  # '\n'
    chars[-1] = 10
    if sep != ",":
        chars[commas] = np.where(chars[commas] == 44, ord(sep), 10).astype(np.uint8)
    if not len(special):
        return [memoryview(text)[1:]]
    if len(special) <= _FEW_SPECIAL:  # the text as views between the stand-ins' cells: no pass over it
        bounds = np.concatenate(([0], commas, [len(text) - 1]))  # cell i lies between bounds[i] and bounds[i + 1]
        view = memoryview(text)
        pieces: list = []
        at = 1
        for start, stop, number in zip((bounds[special] + 1).tolist(), bounds[special + 1].tolist(),
                                       values[special].tolist()):
            pieces += (view[at:start], repr(number).encode("ascii"))
            at = stop
        pieces.append(view[at:])
        return pieces
    del chars  # releases the text's buffer, which may now be split
    marker = repr(stand_in).encode("ascii")  # as orjson prints it: a plain float
    if text.count(marker) != len(special):
        return None  # some other value's text holds the marker
    pieces = [None] * (2 * len(special) + 1)
    pieces[0::2] = text.split(marker)
    pieces[0] = pieces[0][1:]
    pieces[1::2] = "\0".join(map(repr, values[special].tolist())).encode("ascii").split(b"\0")
    return [b"".join(pieces)]


def _orjson():
    """The orjson module, or None when it cannot be imported (then ``repr`` and ``float`` do it all)."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson


def write_json_lines(batch: Batch, out) -> None:
    """One JSON document per row (gradcli/schemas/points.schema.json): each line exactly
    ``json.dumps`` of ``{"schema": 1, "row": k, "inputs": {…}, "value": v, "gradient": {…}}``,
    non-finite numbers written "nan", "inf", "-inf" (`gradcli.core.fmt.json_number`).

    ``json.dumps`` writes a float as ``repr`` does, so the numbers are `float_row_pieces`'
    text (in bulk), and each row is one line template filled in."""
    import json

    def members(names: list[str]) -> str:
        return ", ".join(json.dumps(name).replace("%", "%%") + ": %s" for name in names)

    # "schema": the layout version, as in every gradcli JSON document
    template = ('{"schema": 1, "row": %d, "inputs": {' + members(list(batch.inputs)) + '}, "value": %s, '
                '"gradient": {' + members(batch.names) + "}}\n")
    cols = [*batch.inputs.values(), batch.value, *(batch.gradient[name] for name in batch.names)]
    if not len(batch.value):
        return
    width = len(cols)
    for start, block in _row_blocks(cols):  # + 0.0 done: as json_number(x + 0.0) did
        text = b"".join(float_row_pieces(block)).decode("ascii")
        if not np.isfinite(block).all():
            text = _NON_FINITE_CELL.sub(r'"\1"', text)
        cells = text.replace("\n", ",").split(",")
        cells.pop()  # after the last row's newline
        columns = [cells[j::width] for j in range(width)]
        _write_pieces(out, "".join(map(template.__mod__, zip(range(start + 1, start + len(block) + 1), *columns))))


#: a cell ``repr`` writes for a non-finite number, which JSON writes as a string
_NON_FINITE_CELL = re.compile(r"(?<![^,\n])(nan|-?inf)(?![^,\n])")
