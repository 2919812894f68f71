"""JSON text exactly as ``json.dumps`` writes it, made faster where the eval document is big.

* `encode` -- one value as the eval document writes it (``", "`` and ``": "`` between items,
  non-ASCII kept, a stray NaN/inf written as its string).
* `node_rows` -- the eval document's node table, one line per node, built column by column
  from the graph's arrays instead of a dict per node: ids, names, ops, expressions with their
  argument lists, values and adjoints are each formatted in bulk by C code (one orjson text
  for a batch's values and adjoints, where its text is ``repr``'s; a batch's templates filled
  by ``%`` twice, with the arguments' labels, then their ids), and a batch of rows is placed
  by slice assignment into one list for one ``"".join``.  The text is byte for byte what
  ``json.dumps`` makes of `node_entries` (tests/test_json_text.py); a batch it cannot write
  (a node unlike any the rules make) is written from those dicts.
* `node_entries` -- the same table as dicts, one a node (the API's `to_json`).
* `expressions` -- the ``expr`` column alone (`Graph.definition` of each node, in bulk).
* `string_inside` -- a string value (the program's text) as the document writes it.

Measured at 10^5 nodes and not kept: a whole row as one ``%`` template (a fill costs about a
nanosecond a template character, where a join copies constant text for almost nothing), and
zipping the columns (slice assignment is twice as fast).  Nor (issue 24, second wave; ns a
node): the fills as splits at markers with the labels and ids placed by slice assignment and
joined (355 against 262: a ``%`` fill costs about 30 ns a directive and half a nanosecond a
character), the ids by ``str.format`` after the labels' ``%`` (365), the expression and the
inputs as two columns of short templates (no faster: one more split), the op's text in the
template instead of a column (as fast: the fills' longer text costs what the column saves),
one-digit exponents by ``str.replace`` (four passes, each slower than the regular expression's
one), the regular expressions on orjson's bytes before decoding (as fast), ``float.__repr__``
of each number (1,160 against orjson's 300).

No NumPy import here: ``gradcli eval ... --json`` runs this on its fast path.
"""

from __future__ import annotations

import json
import math
import re
import sys
from array import array
from bisect import bisect_left
from itertools import accumulate, compress, islice, repeat
from json.encoder import encode_basestring
from operator import is_, is_not, itemgetter
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

from ..core.fmt import json_number, json_value
from ..core.graph import INPUT, Graph, positions
from ..core.ops import OPS
from .terminal import _UNSAFE, json_visible

if TYPE_CHECKING:  # pragma: no cover
    from ..run.evaluate import Evaluation

#: nodes formatted together: a batch's columns are made whole, so memory stays bounded.
#: Small enough that a batch's texts (about 200 bytes a node, several passes each) stay in the
#: CPU's cache: `node_rows` at 10^4 and 10^5 nodes took 1.01 µs a node by 512, 1.07 by 1024,
#: 1.08-1.11 by 4096 (CPU time, best of 9; 256 no faster than 512)
BATCH = 512
#: between two nodes of the table
ROW_SEPARATOR = ",\n    "
#: what json.dumps escapes in a string (ensure_ascii off)
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f]')
#: between the pieces of a batch's template; JSON-escaped text never holds a raw NUL
_SEP = "\x00"
#: the template of an op whose nodes write their own expression (`_Columns.templates`)
_OWN = "\x00own"
#: ops whose expression a node's parameter or argument count shapes (`Graph.definition`)
_OWN_FORM = frozenset({"stack", "index", "gather", "amax", "amin"})


def encode(x: Any) -> str:
    """`x` as the eval document writes a value: json.dumps with ``", "``/``": "``, non-ASCII
    kept, and non-finite floats (which strict JSON has not) as ``"nan"``, ``"inf"``, ``"-inf"``."""
    try:
        return json.dumps(x, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
    except ValueError:  # a NaN/inf float somewhere: encode them as strings
        return json.dumps(finite_only(x), ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def finite_only(doc: Any) -> Any:
    """A copy of `doc` with non-finite floats as ``"nan"``/``"inf"``/``"-inf"`` (no recursion)."""
    pending: list = []

    def fix(x: Any) -> Any:
        if isinstance(x, float):
            return x if math.isfinite(x) else json_number(x)
        if isinstance(x, dict):
            copy: Any = dict(x)
        elif isinstance(x, (list, tuple)):
            copy = list(x)
        else:
            return x
        pending.append(copy)
        return copy

    root = fix(doc)
    while pending:
        container = pending.pop()
        keys = container.keys() if isinstance(container, dict) else range(len(container))
        for k in list(keys):
            container[k] = fix(container[k])
    return root


# ---- numbers ---------------------------------------------------------------------------
#: orjson writes this many numbers or more: fewer are written by ``repr`` faster than orjson
#: is imported (about 10 ms: it imports dataclasses, uuid, pathlib, … for the types it can
#: write), which a plain ``gradcli eval … --json`` in a shell loop must not pay
ORJSON_FROM = 2048


def _orjson(count: int) -> Any:
    """The orjson module for writing `count` numbers, or None (too few, and not imported yet;
    or not installed)."""
    module = sys.modules.get("orjson")
    if module is not None:  # imported already (for an earlier batch): the last, short batch uses it too
        return module
    if count < ORJSON_FROM:
        return None
    try:
        import orjson
    except ImportError:
        return None
    return orjson


def scalar_text(x: Any) -> str:
    """What the eval document writes for a scalar node's value or adjoint (a float, or None)."""
    if isinstance(x, float):
        return float.__repr__(x) if math.isfinite(x) else encode(json_number(x))
    return encode(x)


#: a one-digit negative exponent in orjson's text (``4.6e-6``; repr writes ``4.6e-06``)
_SHORT_EXPONENT = re.compile(r"e-(?=[0-9][,\]])")
_DIGITS = frozenset("0123456789")


def _small_decimals(text: str) -> str:
    """orjson's list text with its numbers in [1e-5, 1e-4) as repr writes them: ``0.000012``
    is ``1.2e-05`` (such a number is ``0.0000`` and a digit from 1 to 9, then digits)."""
    pieces = text.split("0.0000")
    if len(pieces) == 1:
        return text
    out = [pieces[0]]
    for piece in islice(pieces, 1, None):
        if out[-1][-1:] in _DIGITS:  # inside a bigger number (10.00001): as it is
            out.append("0.0000")
            out.append(piece)
            continue
        end = piece.find(",")
        if end < 0:
            end = piece.find("]")
        out.append(f"{piece[0]}.{piece[1:end]}e-05" if end > 1 else f"{piece[0]}e-05")
        out.append(piece[end:])
    return "".join(out)


def scalars_text(xs: list, count: Optional[int] = None) -> list[str]:
    """`scalar_text` of each of `xs`, in bulk.

    orjson writes a list of floats several times faster than ``repr`` one at a time, with the
    same digits (the shortest that round-trip).  Only its layout differs, outside [1e-4, 1e16):
    a one-digit negative exponent (orjson ``4.6e-6``, repr ``4.6e-06``) and numbers in
    [1e-5, 1e-4) written out (``0.000012``, repr ``1.2e-05``); both are rewritten in the
    text.  NaN and inf (orjson's ``null``) are written one at a time, as is everything when
    orjson is missing or refuses an item (an int past 64 bits, a NumPy scalar).  `count`: how
    many nodes the numbers are of, for `ORJSON_FROM` (by default, one a number).
    """
    orjson = _orjson(len(xs) if count is None else count)
    text = None
    if orjson is not None and xs:
        try:
            text = orjson.dumps(xs).decode()
        except TypeError:
            text = None
    if text is None:
        try:
            if all(map(math.isfinite, xs)):
                return list(map(float.__repr__, xs))
        except TypeError:  # not all floats
            pass
        return [scalar_text(x) for x in xs]
    # (each check below scans the text once: no "x in text" first, which would scan it twice)
    text = _small_decimals(_SHORT_EXPONENT.sub("e-0", text))
    parts = text.split(",")  # then the brackets off the first and last: no copy of the text without them
    parts[0] = parts[0][1:]
    parts[-1] = parts[-1][:-1]
    try:  # a sum in C, faster than a scan of the text: finite when no item is NaN, inf (or None)
        finite = math.isfinite(sum(xs))
    except TypeError:
        finite = False
    if not finite and "null" in text:
        parts = [scalar_text(x) if p == "null" else p for p, x in zip(parts, xs)]
    return parts


# ---- strings ---------------------------------------------------------------------------
#: printable ASCII but ``"`` and ``\``: text of these alone is the same inside a JSON string
_PLAIN_ASCII = bytes(c for c in range(0x20, 0x7f) if chr(c) not in '"\\')


def printable_ascii(text: str) -> bool:
    """Is `text` printable ASCII without ``"`` or ``\\`` (nothing that `encode` or `json_visible`
    escapes)?  Checked in C a byte at a time, several times faster than a regular expression."""
    return text.isascii() and not text.encode("ascii").translate(None, _PLAIN_ASCII)


def string_inside(text: str) -> str:
    """`text` as the inside of the document's JSON string: ``json_visible(encode(text))``
    without its quotes.  Printable ASCII lines (a program's text) by string methods, which run
    in C twice as fast."""
    if text.isascii() and not text.encode("ascii").translate(None, _PLAIN_ASCII).strip(b"\n"):
        return text.replace("\n", "\\n")
    return json_visible(encode(text)[1:-1])


# ---- expressions ----------------------------------------------------------------------
def _escaped(text: str) -> str:
    """`text` as the inside of a JSON string (json.dumps's escapes, ensure_ascii off)."""
    return encode_basestring(text)[1:-1]


def _plain(text: str) -> str:
    return text


def _template(op_name: str, escape: Callable[[str], str] = _escaped, percent: str = "%%") -> Optional[str]:
    """The ``expr`` of a node of `op_name` without a parameter, as a % template over its
    arguments' labels (what `Graph.definition` writes), with a literal % as `percent`; None
    where the node decides."""
    op = OPS.get(op_name)
    if op is None or op.arity <= 0 or op_name in _OWN_FORM:
        return None
    if op.infix and op.arity == 2:
        return f"%s {escape(op.infix).replace('%', percent)} %s"
    if op_name == "neg":
        return "-%s"
    return f"{escape(op_name).replace('%', percent)}({', '.join(['%s'] * op.arity)})"


def _pick(items: list, ids: Any) -> tuple:
    """``tuple(items[i] for i in ids)``, in C."""
    if len(ids) > 1:
        return itemgetter(*ids)(items)  # type: ignore[no-any-return]
    return tuple(items[i] for i in ids)


class _Columns:
    """What every batch of one graph's node table reads: the labels, and each op's template.

    `table` True: text JSON-escaped, for the table; False: as it is (`expressions`).

    For the table, a node's template is its expression, then the row's text to its inputs, its
    argument list and the row's text to its value: ``%s * %s", "inputs": [%%d, %%d], "value": ``.
    A batch's templates are filled twice, in order each time: with the arguments' labels
    (escaped ``%%``), then with the argument ids; the labels and ids of a node need no
    interleaving, and one split makes the column."""

    def __init__(self, graph: Graph, table: bool = True) -> None:
        self.graph = graph
        self.escape = escape = _escaped if table else _plain
        self.table = table
        names, ops, texts, label = graph.names_of, graph.ops, graph.texts, graph.label
        labels: list = list(names)
        #: the unnamed nodes, in order (their name is null, their label a constant's text or %i)
        self.unnamed = positions(names, None)
        for i in self.unnamed:
            labels[i] = label(i)
        #: each node's label (`Graph.label`)
        self.labels: list[str] = labels
        joined = "".join(labels)
        plain = printable_ascii(joined)  # the common case, checked in C a byte at a time: no regex scan
        #: the labels as they go into an expression
        self.arg_labels = list(map(escape, labels)) if table and not plain and _NEEDS_ESCAPE.search(joined) \
            else labels
        #: the labels as the first fill takes them: a % doubled for the second (table)
        self.fill_labels = [t.replace("%", "%%") for t in self.arg_labels] if table and "%" in joined \
            else self.arg_labels
        #: user text with characters `json_visible` escapes (names, constants' source text)
        self.unsafe = not plain and bool(_UNSAFE.search(joined)) or bool(_UNSAFE.search("".join(texts.values())))
        distinct = set(ops)
        #: a literal % in a template: for one fill (`expressions`), or two (table)
        self.percent = "%%%%" if table else "%%"
        templates = {op: _template(op, escape, self.percent) for op in distinct}
        self.templates = {op: _OWN if t is None else t + self.tail(OPS[op].arity) for op, t in templates.items()}
        #: how many arguments each op's template takes (-1: none, the node writes its own)
        self.arity = {op: -1 if t is None else OPS[op].arity for op, t in templates.items()}
        #: the row's text from the name to the expression; with the name's closing quote
        self.op_pieces = {op: f', "op": {encode(op)}, "expr": "' for op in distinct}
        self.quoted_op_pieces = {op: '"' + piece for op, piece in self.op_pieces.items()}
        #: no label needs a JSON escape: a name is its label in quotes
        self.plain_names = self.arg_labels is labels

    def tail(self, arity: int) -> str:
        """What follows the expression in a template: for the table, the row's text to its inputs,
        the argument list (for the second fill), the row's text to its value; else nothing."""
        return f'", "inputs": [{", ".join(["%%d"] * arity)}], "value": ' if self.table else ""

    def expressions(self, start: int, stop: int) -> list[str]:
        """The ``expr`` of nodes start..stop-1 (for the table: then `tail`, filled)."""
        g, escape = self.graph, self.escape
        ops, params = g.ops, g.params
        batch_ops = ops[start:stop]
        templates: list = list(map(self.templates.__getitem__, batch_ops))
        # inputs, constants, nodes with a parameter: `Graph.definition` writes them
        own: set[int] = set()
        batch_params = params[start:stop]
        if batch_params.count(None) < stop - start:  # (params are hashable: == None is plain)
            own.update(compress(range(start, stop), map(is_not, batch_params, repeat(None))))
        if _OWN in templates:  # (a str: str == str is quick where None == str is not)
            own.update(compress(range(start, stop), map(is_, templates, repeat(_OWN))))
        arity_of = self.arity.__getitem__
        # (a list only where a node's own count replaces its op's: else the counts are summed as mapped)
        expected: Any = list(map(arity_of, batch_ops)) if own else map(arity_of, batch_ops)
        arg_end = g.arg_end
        for i in sorted(own):
            expr = g.names_of[i] if ops[i] == INPUT else g.definition(i)
            if not isinstance(expr, str):
                raise _Irregular(i)
            arity = arg_end[i] - (arg_end[i - 1] if i else 0)
            templates[i - start] = "%.0s" * arity + escape(expr).replace("%", self.percent) + self.tail(arity)
            expected[i - start] = arity
        first = arg_end[start - 1] if start else 0
        ends = arg_end[start - 1:stop] if start else [0, *arg_end[:stop]]  # the ends from the one before
        if list(accumulate(expected, initial=first)) != (ends.tolist() if ends.__class__ is array else list(ends)):
            # a node with another argument count than its op's row: never made by the rules
            raise _Irregular(start)
        argv = tuple(g.argv[first:g.arg_end[stop - 1]])  # (the ints made once, for both fills)
        try:
            text = _SEP.join(templates) % _pick(self.fill_labels, argv)
            if self.table:
                text %= argv
        except (TypeError, ValueError) as e:  # an op with another argument count than its row says
            raise _Irregular(start) from e
        exprs = text.split(_SEP)
        if len(exprs) != stop - start:  # a NUL in unescaped text
            raise _Irregular(start)
        return exprs


class _Irregular(Exception):
    """A batch the columns cannot write (a node unlike any the rules make): it is written from its dicts."""


def expressions(graph: Graph, start: int = 0, stop: Optional[int] = None) -> list[str]:
    """``Graph.definition`` of nodes start..stop-1 (an input's is its name), in bulk."""
    stop = len(graph) if stop is None else stop
    if stop <= start:
        return []
    try:
        return _Columns(graph, table=False).expressions(start, stop)
    except _Irregular:
        return [graph.names_of[i] if graph.ops[i] == INPUT else graph.definition(i)  # type: ignore[misc]
                for i in range(start, stop)]


# ---- the node table -------------------------------------------------------------------------
def node_entries(ev: Evaluation, start: int = 0, stop: Optional[int] = None) -> Iterator[dict]:
    """The ``nodes`` entries of the eval document (of nodes start..stop-1), one dict at a
    time (`gradcli.output.documents.to_json`).  `node_rows` writes their text from the
    graph's columns without them."""
    graph, values, adjoints, live = ev.graph, ev.values, ev.adjoints, ev.tape.live
    stop = len(graph) if stop is None else stop
    scalar = ev.tape.scalar
    finite = math.isfinite
    ops, names, shapes = graph.ops, graph.names_of, graph.shapes
    args_of, tangents = graph.args, ev.tangents
    for i, expr in zip(range(start, stop), expressions(graph, start, stop)):
        value = values[i]
        adjoint = adjoints[i] if live[i] and adjoints else None
        if scalar:  # floats: the common, fast case
            value = value if finite(value) else json_number(value)
            if adjoint is not None and not finite(adjoint):
                adjoint = json_number(adjoint)
        else:
            value = json_value(value)
            adjoint = None if adjoint is None else json_value(adjoint)
        entry = {
            "id": i,
            "name": names[i],
            "op": ops[i],
            "expr": expr,
            "inputs": list(args_of(i)),
            "value": value,
            "adjoint": adjoint,
        }
        if shapes[i]:
            entry["shape"] = list(shapes[i])
        if tangents:
            entry["tangent"] = {name: json_value(t[i]) for name, t in tangents.items()}
        yield entry


#: the start of a row, before its id
_HEAD = '{"id": '
#: a row's end, the next one's separation and start: one piece between a row's last column and
#: the next row's first, not three (a piece costs a slot in the rows' list and in its join)
_END = "}" + ROW_SEPARATOR + _HEAD


def _ids(start: int, stop: int) -> list[str]:
    """``str`` of start..stop-1 (orjson writes them twice as fast)."""
    orjson = _orjson(stop - start)
    if orjson is None:
        return list(map(str, range(start, stop)))
    return orjson.dumps(list(range(start, stop))).decode()[1:-1].split(",")  # type: ignore[no-any-return]


def node_rows(ev: Evaluation, batch: Optional[int] = None) -> Iterator[str]:
    """The eval document's node table: each item the rows of up to `batch` (`BATCH`) nodes, joined by
    `ROW_SEPARATOR`, as `encode` writes `node_entries` (with DEL, C1 and bidi
    characters from user text as ``\\u`` escapes, `json_visible`)."""
    graph = ev.graph
    n = len(graph)
    if not n:
        return
    batch = batch or BATCH
    _orjson(n)  # a table of ORJSON_FROM nodes or more: orjson for every batch, however short
    columns = _Columns(graph)
    dead = positions(ev.tape.live, False)
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        try:
            text = _rows(ev, columns, dead, start, stop)
        except _Irregular:
            yield dict_rows(list(node_entries(ev, start, stop)))
            continue
        yield json_visible(text) if columns.unsafe else text


def dict_rows(entries: list[dict]) -> str:
    """Node entries (dicts) as rows of the node table, joined by `ROW_SEPARATOR`."""
    text = encode(entries)[1:-1]
    if text.count("}, {") == len(entries) - 1:  # one encoder call, then a line break between nodes
        return json_visible(text.replace("}, {", "}" + ROW_SEPARATOR + "{"))
    return json_visible(ROW_SEPARATOR.join(map(encode, entries)))  # "}, {" in a name: one at a time


def _rows(ev: Evaluation, columns: _Columns, dead: list[int], start: int, stop: int) -> str:
    """The rows of nodes start..stop-1, joined by `ROW_SEPARATOR`."""
    graph = ev.graph
    unnamed = columns.unnamed[_first_at(columns.unnamed, start):_first_at(columns.unnamed, stop)]
    if columns.plain_names:  # the quotes go with the text around the names
        names: Any = columns.labels[start:stop]
        name_piece, op_pieces = ', "name": "', columns.quoted_op_pieces
    else:
        names = list(map(encode_basestring, columns.labels[start:stop]))
        for i in unnamed:
            names[i - start] = "null"
        name_piece, op_pieces = ', "name": ', columns.op_pieces
    values, adjoints = _numbers(ev, dead, start, stop)
    extras = _extras(ev, start, stop)
    pieces = [_ids(start, stop), name_piece, names, list(map(op_pieces.__getitem__, graph.ops[start:stop])),
              columns.expressions(start, stop), values, ', "adjoint": ', adjoints,
              extras if extras is not None else _END]
    rows = _interleaved(pieces, stop - start)
    if columns.plain_names:  # an unnamed node's name is null, without the quotes
        width = len(pieces)
        for i in unnamed:
            at = (i - start) * width + 1  # its pieces 1..3: name_piece, names, op_pieces
            rows[at:at + 3] = [', "name": ', "null", columns.op_pieces[graph.ops[i]]]
    rows[0] = _HEAD + rows[0]  # the first row's start (its id: a short copy)
    rows[-1] = rows[-1][:1 - len(_END)]  # the last row's end: its "}" alone
    return "".join(rows)


def _interleaved(columns: list, count: int) -> list[str]:
    """The pieces of `count` rows, row by row: each of `columns` is a piece every row has (a
    str) or a list of one piece a row.  Made by slice assignment, in C: twice as fast as
    zipping the columns."""
    width = len(columns)
    out = [c if c.__class__ is str else "" for c in columns] * count
    for k, column in enumerate(columns):
        if column.__class__ is not str:
            out[k::width] = column
    return out


def _first_at(ids: list[int], i: int) -> int:
    """Where `i` is, or would go, in the sorted list `ids`."""
    return bisect_left(ids, i)


def _numbers(ev: Evaluation, dead: list[int], start: int, stop: int) -> tuple[list[str], Any]:
    """The ``value`` and ``adjoint`` columns of nodes start..stop-1 (an adjoint is null where
    no input reaches the node, and everywhere when there are none)."""
    values, adjoints = ev.values[start:stop], ev.adjoints[start:stop] if ev.adjoints else None
    if not ev.tape.scalar:  # arrays: nested lists, one node at a time
        live = ev.tape.live
        value_text = [encode(json_value(v)) for v in values]
        if adjoints is None:
            return value_text, "null"  # every row's
        return value_text, [encode(json_value(a)) if live[start + k] else "null" for k, a in enumerate(adjoints)]
    if values.__class__ is array:  # C doubles (`Tape.forward`): orjson reads lists
        values = values.tolist()
    if adjoints.__class__ is array:
        adjoints = adjoints.tolist()
    if adjoints is None:  # floats: the common, fast case
        return scalars_text(values), "null"  # every row's
    count = stop - start
    text = scalars_text(values + adjoints, count)  # one call for both: one orjson text, one regex pass, one split
    for i in dead[_first_at(dead, start):_first_at(dead, stop)]:
        text[count + i - start] = "null"
    return text[:count], text[count:]


def _extras(ev: Evaluation, start: int, stop: int) -> Optional[list[str]]:
    """Each row's end after its adjoint: ``"shape"`` (arrays) and ``"tangent"`` (forward
    mode) when a node has them, then `_END`; None when no node here has either."""
    shapes, tangents = ev.graph.shapes[start:stop], ev.tangents
    if not tangents and not any(shapes):
        return None
    out = []
    for k, shape in enumerate(shapes):
        piece = f', "shape": {encode(list(shape))}' if shape else ""
        if tangents:
            piece += f', "tangent": {encode({name: json_value(t[start + k]) for name, t in tangents.items()})}'
        out.append(piece + _END)
    return out
