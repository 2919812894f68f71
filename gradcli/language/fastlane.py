"""The fast lane of parsing and lowering: text straight to graph nodes, in one pass.

Most programs are lines of ``name = expression`` over names, numbers, the arithmetic
and comparison operators, parentheses and built-in function calls.  For those,
`lower_fast` runs the parser's shunting-yard and lowering's stack machine as one
loop over the lexer's token texts (one compiled regular expression, C speed): each
operand and operator becomes its graph node the moment the parser would have
emitted its postfix item, so the nodes, their order, ids, positions, names and
hash-consing are exactly those of ``lower(parse(source))``.  No statement, token or
postfix object is made, and the only name table is the graph's own.

Two lanes, tried in turn: `_lower_lines` compiles each distinct line *skeleton* (the
line with letters and digits replaced by their class) once into a template of postfix
steps (the commonest runs fused into one) and replays it for every line of that shape,
taking the names and numbers from one split of the text; it makes the nodes itself,
into `Graph.add`'s hash-consing tables (by op, keyed by the argument tuple the lane
keeps anyway), and fills the graph's columns in bulk at the end
(`_Columns`), keeping what compiling needs (`Graph.kept`: the argument tuples and which
nodes an input reaches) so that `Tape` has little left to do.  `_lower` reads any
program of the language token by token (statements that go on past a line end, say).

It is a lane of the same road, not another road: anything it does not handle -- a
``def``, a prelude call, brackets, ``.T``, a non-ASCII character -- and every error
of any kind returns None, and the caller runs the general path
(`gradcli.language.lower.lower_source`), which then reports exactly the error it
always has.  Checks that need the whole program (a name used before the statement
that assigns it, a name assigned twice, a function name that is also a step or an
input) are made at the end, from the graph's names, and also return None.
tests/test_fastlane.py compares both paths on random programs (Hypothesis).
"""

from __future__ import annotations

import re
from collections import deque
from functools import partial
from array import array
from itertools import accumulate, chain, repeat
from typing import Any, Optional

from ..core.graph import CONST, INPUT, Graph, Kept
from ..core.ops import (AXES_ARG_OPS, AXIS_OPS, BINARY_OPS, CONSTANTS, DEFAULT_ARGS, DEFAULT_AXIS, FUNCTIONS,
                        INT_ARG_OPS, SHAPE_ARG_OPS, table_changes)
from . import calls, prelude
from .lexer import _chunks
from .parser import BINARY, COMPARE_POWER, UNARY_POWER

# token classes, by the token's first character (the lexer's own classification)
_BLANK, _NL, _NUM, _NAME, _OP, _OTHER = range(6)
_FIRST: dict[str, int] = {}
for _c in " \t\r\f\v#":
    _FIRST[_c] = _BLANK
_FIRST["\n"] = _NL
for _c in "0123456789":
    _FIRST[_c] = _NUM
for _c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_":
    _FIRST[_c] = _NAME
for _c in "-+*/^@()=<>!,;":
    _FIRST[_c] = _OP
_FIRST["."] = _NUM  # .5; a "." alone (x.T) fails float() and so falls back
# brackets, ":" and anything else: _OTHER

#: the fast lane's tokens: the lexer's, on ASCII text, with the blanks after a name, a number or an
#: operator kept in its token (fewer matches; `_lower` strips them)
_FAST_TOKEN = re.compile(
    r"""
    (?:[A-Za-z_][A-Za-z0-9_]*
      | [-+/^(),;@]
      | \*\*?
      | [<>=!]=?
      | (?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?
    )[ \t]*
  | [ \t\r\f\v]+
  | \n
  | \#[^\n]*
  | .
    """,
    re.VERBOSE | re.DOTALL,
)
#: an operator token, with or without one blank after it -> the operator
_OP_TEXT = {t + blank: t for t in ("-", "+", "/", "^", "(", ")", ",", ";", "@", "*", "**", "<", ">", "=", "!", "<=",
                                   ">=", "==", "!=") for blank in ("", " ")}

#: binary operator text -> (binding power, right associative, the graph op's name)
_BINARY = {text: (power, right, BINARY_OPS["^" if text == "**" else text].name)
           for text, (power, right) in BINARY.items()}

#: op-stack markers (an operator's entry holds its binding power, >= 0, first)
_PAREN = -1
_CALL = -2


class _Fallback(Exception):
    """The fast lane does not handle this program: the general path will."""


def _plain_call(name: str, nargs: int) -> Optional[tuple[str, Any]]:
    """(op name, param) when `calls.call` would add ``op(args)`` directly, with no constant,
    integer argument or error on the way (its last line); None otherwise."""
    op = FUNCTIONS.get(name)
    if op is None or name in prelude.NAMES:
        return None
    if (name in AXIS_OPS and nargs == 2) or name in SHAPE_ARG_OPS or name == "onehot" or name in INT_ARG_OPS:
        return None
    if name in AXES_ARG_OPS and nargs > 1:
        return None
    if name in DEFAULT_ARGS and nargs == op.arity - 1:
        return None
    if op.variadic:
        if nargs == 0 or (nargs == 1 and name in ("max", "min")):
            return None
    elif nargs != op.arity:
        return None
    return op.name, DEFAULT_AXIS.get(name)


#: (function, number of arguments) -> `_plain_call`'s answer (() for None), filled on first use
#: and emptied when `register`/`unregister` change the op table (`_PLAIN_OF` says when it was filled)
_PLAIN: dict[tuple[str, int], tuple] = {}
_PLAIN_OF = [table_changes()]


def _plain_cached(name: str, nargs: int) -> tuple:
    """`_plain_call`'s answer, () for None, remembered in `_PLAIN`."""
    key = (name, nargs)
    plain = _PLAIN.get(key)
    if plain is None:
        plain = _PLAIN[key] = _plain_call(name, nargs) or ()
    return plain


def lower_fast(source: str, output: Optional[str] = None) -> Optional[Graph]:
    """``lower(parse(source), output)`` for a program the fast lane handles, else None."""
    if not source.isascii() or "\x00" in source:
        return None
    if _PLAIN_OF[0] != table_changes():
        _PLAIN.clear()
        _PLAIN_OF[0] = table_changes()
    try:
        graph = _lower_lines(source, output)
        return graph if graph is not None else _lower(source, output)
    except Exception:  # noqa: BLE001 - any error at all: the general path reports it, as it always has
        return None


def _lower(source: str, output: Optional[str]) -> Graph:
    """The token lane: shunting-yard and stack machine in one loop, where lines won't do."""
    g = Graph()
    ops, names_of, names = g.ops, g.names_of, g.names
    const = g.const
    names_get = names.get
    first_of = _FIRST.get
    op_of = _OP_TEXT.get
    binary_of = _BINARY.get
    user_calls: dict[str, int] = {}
    values: list[int] = []  # the machine's value stack
    push = values.append
    stack: list = []  # the shunting-yard's operator stack: (power, pos, op name) or markers
    expect = True  # expecting an operand (else an operator)
    pending: Optional[str] = None  # a name read, not yet known to be a call, a target or an operand
    pending_pos = 0
    first = False  # the pending name is the statement's first token
    start = True  # nothing of the current statement read yet
    target: Optional[str] = None
    depth = 0
    last = -1
    last_target: Optional[str] = None
    pos = 0

    apply = partial(_apply, g, values)

    for text in chain.from_iterable(map(_FAST_TOKEN.findall, repeat(source), *_chunks(source))):
        p = pos
        pos += len(text)
        kind = first_of(text[0], _OTHER)
        if kind == _OP:
            text = op_of(text) or text.rstrip(" \t")
        elif kind == _NAME or kind == _NUM:
            text = text.rstrip(" \t")
        elif kind == _BLANK:
            continue
        if expect:
            if kind == _NAME:
                if start and text == "def":
                    raise _Fallback  # a definition (or a step of that name: rare)
                pending, pending_pos, first, start = text, p, start, False
                expect = False
            elif kind == _NUM:
                value = float(text)
                if value == _INF:
                    raise _Fallback
                push(const(value, text, p))
                expect = start = False
            elif text == "(":
                stack.append((_PAREN, p, None))
                depth += 1
                start = False
            elif text == "-":
                stack.append((UNARY_POWER, p, None))
                start = False
            elif text == "+":
                start = False
            elif kind == _NL or (text == ";" and start):
                pass
            else:
                raise _Fallback
            continue
        # expecting an operator
        if pending is not None:
            if text == "(":
                stack.append([_CALL, pending_pos, pending, 0])
                pending = None
                depth += 1
                expect = True
                continue
            if text == "=" and first:
                target = pending
                pending = None
                expect = True
                continue
            node = names_get(pending)
            push(node if node is not None else _operand(g, pending, pending_pos))
            pending = None
        if kind == _OP:
            found = binary_of(text)
            if found is not None:
                _push_operator(stack, apply, found, p)
                expect = True
                continue
            if text == ")":
                while stack and stack[-1][0] >= 0:
                    apply(stack.pop())
                if not stack:
                    raise _Fallback
                top = stack.pop()
                depth -= 1
                if top[0] == _CALL:
                    push(_close_call(g, top, values, user_calls))
                continue
            if text == ",":
                while stack and stack[-1][0] >= 0:
                    apply(stack.pop())
                if not stack or stack[-1][0] != _CALL:
                    raise _Fallback
                stack[-1][3] += 1
                expect = True
                continue
            if text != ";":
                raise _Fallback
        elif kind != _NL:
            raise _Fallback
        elif depth:
            continue  # a newline inside brackets is white space
        # the statement ends (a newline outside brackets, or ";")
        last, last_target = _end(apply, stack, values, target, names, names_of, ops)
        target = None
        expect = start = True
    if not expect:
        if pending is not None:
            node = names_get(pending)
            push(node if node is not None else _operand(g, pending, pending_pos))
        last, last_target = _end(apply, stack, values, target, names, names_of, ops)
    elif not start:
        raise _Fallback  # the program ends inside a statement
    return _finish(g, user_calls, source, last, last_target, output)


def _finish(g: Graph, user_calls: dict[str, int], source: str, last: int, last_target: Optional[str],
            output: Optional[str]) -> Graph:
    """The whole-program checks the fast lane leaves to the end, then `finish_graph`."""

    names = g.names
    if last < 0:
        raise _Fallback  # no statement: an empty program
    for name in user_calls:
        if name in names:  # a called function that is also an input or a step: an error
            raise _Fallback
    if output is not None and output not in names:
        raise _Fallback
    g.call = -1
    return calls.finish_graph(g, names, user_calls, source, {}, last, last_target or "", output)


def _push_operator(stack: list, apply, found: tuple, pos: int) -> None:
    """A binary operator read: the shunting-yard applies the operators on the stack that bind
    at least as tightly (`found` is its power, whether it groups to the right, its op name)."""
    power, right, name = found
    while stack:
        top_power = stack[-1][0]
        if top_power > power or (top_power == power and not right):
            if power == COMPARE_POWER and top_power == COMPARE_POWER:
                raise _Fallback  # a chained comparison: an error
            apply(stack.pop())
        else:
            break
    stack.append((power, pos, name))


def _apply(g: Graph, values: list[int], entry: tuple) -> None:
    """An operator popped from the shunting-yard's stack: its node on the value stack, as
    lowering's stack machine makes it."""
    _, p, name = entry
    if name is None:  # unary minus: -literal is folded into one constant
        a = values.pop()
        param = g.params[a]
        if g.ops[a] == CONST and isinstance(param, float):
            text = g.texts[a]
            values.append(g.const(-param, text[1:] if text.startswith("-") else "-" + text, p))
        else:
            values.append(g.add("neg", (a,), None, p))
    else:
        b = values.pop()
        values.append(g.add(name, (values.pop(), b), None, p))


def _operand(g: Graph, name: str, pos: int) -> int:
    """A name met for the first time as an operand: a constant (``pi``) or a new input."""
    constant = CONSTANTS.get(name)
    return g.const(constant, name, pos) if constant is not None else g.input(name, pos)


def _close_call(g: Graph, top: list, values: list[int], user_calls: dict[str, int]) -> int:
    """The node of a call whose ``)`` was just read: `top` is its stack entry ``[_CALL, pos,
    name, commas]``, its arguments the last values."""
    name, nargs, pos = top[2], top[3] + 1, top[1]
    args = tuple(values[len(values) - nargs:])
    del values[len(values) - nargs:]
    if name not in user_calls:
        user_calls[name] = pos
    plain = _plain_cached(name, nargs)
    if plain:
        return g.add(plain[0], args, plain[1], pos)
    if name in prelude.NAMES:
        raise _Fallback
    return calls.call(g, name, args, pos, _fail, {})


def _end(apply, stack, values, target, names, names_of, ops) -> tuple[int, Optional[str]]:
    """The last statement ends (at the end of the program): its node, named after its target."""
    while stack:
        if stack[-1][0] < 0:
            raise _Fallback  # a bracket left open
        apply(stack.pop())
    if len(values) != 1:
        raise _Fallback
    result = values.pop()
    if target is not None:
        if target in names or target in CONSTANTS:
            raise _Fallback  # assigned twice, used before it is assigned, or a constant
        names[target] = result
        if names_of[result] is None and ops[result] != CONST:
            names_of[result] = target
    return result, target


def _fail(message: str, pos: int) -> _Fallback:
    return _Fallback(message)


_INF = float("inf")


# ---- lines as templates ------------------------------------------------------------------
#
# The token structure of a line (which tokens are names, numbers, operators, where each
# starts) depends only on its characters' classes: letters, the letter e (exponents),
# digits, and every other character as itself.  So a line's *skeleton* -- the line with
# each letter written n (e and E written e) and each digit d -- decides its postfix
# code entirely, and lines with the same skeleton (``v12 = tanh(v3 + v7)`` and
# ``v40 = tanh(v9 + v31)``) share one compiled template: what varies is only the text
# of their names and numbers, taken in order from one `findall` over the text.  A
# template runs the same steps as `_lower` does for the line's tokens, with the
# positions at the same offsets from the line's start (the skeleton keeps every length).

_CLASSES = str.maketrans({**{c: "n" for c in "abcdfghijklmnopqrstuvwxyzABCDFGHIJKLMNOPQRSTUVWXYZ_"},
                          "e": "e", "E": "e", **{c: "d" for c in "0123456789"}})
#: the names and numbers of a text (the lexer's tokens of those kinds, in order, once
#: comments are removed)
_RUN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: the same, faster, for a text whose lines are all templates: there a name or a number ends at
#: a blank, an operator or the line's end, so splitting at those finds them, unless a number
#: has a signed exponent (1e-3: `_signed_exponent` of the skeleton), whose sign would split it
_SEPARATORS = str.maketrans(dict.fromkeys("-+*/^@()=<>!,;", " "))


def _signed_exponent(classes: str) -> bool:
    """Does a skeleton hold a signed exponent (or a name ending in e, then + or -)?  Two string
    searches, much faster than a regular expression that starts with a class of characters."""
    return "e-" in classes or "e+" in classes


_COMMENT = re.compile(r"#[^\n]*")

#: a longer line (a 10^6-term sum on one line, say) is read by the token lane: its template
#: would be as large as its graph and used once
_LONGEST_TEMPLATE = 2000

# template instructions: (kind, ...), kinds numbered so that `lines` tells the groups apart with
# one comparison each (a binary node: kind <= _T_BIN; a call: kind <= _T_CALL), the commonest first:
# two names and a binary operator, a name and a binary operator (`_fuse` makes those two), a binary
# operator on the last two values; a name and a call of one argument (`_fuse`), a call; the rest.
_T_BIN_NAMES, _T_BIN_NAME, _T_BIN, _T_CALL_NAME, _T_CALL, _T_NAME, _T_NUM, _T_NEG, _T_END = range(9)


def _fuse(code: list[tuple]) -> list[tuple]:
    """`code` with its commonest runs of instructions as one (fewer steps to dispatch)."""
    out: list[tuple] = []
    for ins in code:
        kind = ins[0]
        if kind == _T_BIN and out and out[-1][0] == _T_NAME:  # the operands' (run, position) after the BIN's,
            # the second's first (at the same place in both: `lines` reads them with positive indices, faster)
            b = out.pop()
            if out and out[-1][0] == _T_NAME:
                a = out.pop()
                out.append((_T_BIN_NAMES, *ins[1:], b[1], b[2], a[1], a[2]))
            else:
                out.append((_T_BIN_NAME, *ins[1:], b[1], b[2]))
        elif kind == _T_CALL and ins[2] == 1 and out and out[-1][0] == _T_NAME:
            a = out.pop()
            out.append((_T_CALL_NAME, *ins[1:], a[1], a[2]))
        else:
            out.append(ins)
    return out


def _compile_line(line: str, plain_table) -> Optional[tuple[int, tuple, Optional[int]]]:
    """(how many names and numbers the line has, its instructions, the target of the statement
    that ends with the line: its run, -1 for none, None when no statement does), or None when
    the line is not a whole number of complete statements of the fast lane's language.
    `plain_table`: `Graph.plain_table` of the graph the template's nodes go to."""
    code: list[tuple] = []
    stack: list = []
    runs = 0
    expect, start, first, depth = True, True, False, 0
    pending = -1  # the run index of a name read, not yet known to be a call, a target or an operand
    pending_pos = 0
    target = -1
    pos = 0

    def apply(entry) -> None:
        code.append((_T_NEG, entry[1]) if entry[2] is None else (_T_BIN, entry[2], entry[1], plain_table(entry[2])))

    for text in _FAST_TOKEN.findall(line):
        p = pos
        pos += len(text)
        kind = _FIRST.get(text[0], _OTHER)
        if kind == _OP:
            text = _OP_TEXT.get(text) or text.rstrip(" \t")
        elif kind == _NAME or kind == _NUM:
            text = text.rstrip(" \t")
        elif kind == _BLANK:
            continue
        if expect:
            if kind == _NAME:
                if start and text == "def":
                    return None
                pending, pending_pos, first, start = runs, p, start, False
                runs += 1
                expect = False
            elif kind == _NUM:
                if text == ".":
                    return None
                code.append((_T_NUM, runs, p))
                runs += 1
                expect = start = False
            elif text == "(":
                stack.append((_PAREN, p, None))
                depth += 1
                start = False
            elif text == "-":
                stack.append((UNARY_POWER, p, None))
                start = False
            elif text == "+":
                start = False
            elif text == ";" and start:
                pass
            else:
                return None
            continue
        if pending >= 0:
            if text == "(":
                stack.append([_CALL, pending_pos, pending, 0])
                pending = -1
                depth += 1
                expect = True
                continue
            if text == "=" and first:
                target = pending
                pending = -1
                expect = True
                continue
            code.append((_T_NAME, pending, pending_pos))
            pending = -1
        if kind != _OP:
            return None
        found = _BINARY.get(text)
        if found is not None:
            power, right, name = found
            while stack:
                top_power = stack[-1][0]
                if top_power > power or (top_power == power and not right):
                    if power == COMPARE_POWER and top_power == COMPARE_POWER:
                        return None
                    apply(stack.pop())
                else:
                    break
            stack.append((power, p, name))
            expect = True
        elif text == ")":
            while stack and stack[-1][0] >= 0:
                apply(stack.pop())
            if not stack:
                return None
            top = stack.pop()
            depth -= 1
            if top[0] == _CALL:
                code.append((_T_CALL, top[2], top[3] + 1, top[1]))
        elif text == ",":
            while stack and stack[-1][0] >= 0:
                apply(stack.pop())
            if not stack or stack[-1][0] != _CALL:
                return None
            stack[-1][3] += 1
            expect = True
        elif text == ";":
            while stack:
                if stack[-1][0] < 0:
                    return None
                apply(stack.pop())
            code.append((_T_END, target))
            target = -1
            expect = start = True
        else:
            return None
    if expect:
        # else the statement goes on past the line
        return (runs, tuple(_fuse(code)), None) if start else None
    if pending >= 0:
        code.append((_T_NAME, pending, pending_pos))
    while stack:
        if stack[-1][0] < 0:
            return None  # a bracket open at the end of the line
        apply(stack.pop())
    return runs, tuple(_fuse(code)), target


#: nodes whose columns `_Columns.sync` fills at a time
_BLOCK = 1 << 14


class _Columns:
    """The graph's columns while `_lower_lines` makes the nodes itself.  The hot loop appends
    each node's op and position to the graph, and its argument tuple and whether an input
    reaches it to two lists here; the rest is the same for nearly every node (param None,
    unnamed, shape (), no call), so only the exceptions are kept: a constant's or an input's
    param by node, and the constants (never named; the names come from the name table at the
    end).  `sync` brings the graph's other columns up to date -- at the end, and before
    `calls.call` adds nodes its own way -- and `absorb` takes in the nodes such a call made."""

    __slots__ = ("g", "args_of", "reached", "half_reached", "params_at", "constants", "synced")

    def __init__(self, g: Graph) -> None:
        self.g = g
        #: every node's argument tuple, and whether an input reaches it (the graph keeps both
        #: for compiling: `Graph.kept`)
        self.args_of: list[tuple[int, ...]] = []
        self.reached: list[bool] = []
        #: the nodes of two arguments an input reaches one of only
        self.half_reached: list[int] = []
        self.params_at: dict[int, Any] = {}
        self.constants: list[int] = []
        #: how many nodes the graph's own columns cover
        self.synced = 0

    def sync(self) -> None:
        """The graph's columns for every node made so far."""
        g, k = self.g, self.synced
        n = len(g.ops)
        args_of = self.args_of
        for block in range(k, n, _BLOCK):  # `fromlist` is the fastest way into an array; a block's
            new = args_of[block:block + _BLOCK]  # lists at a time (a long program's would be large)
            ends = list(accumulate(map(len, new), initial=len(g.argv)))
            del ends[0]
            g.argv.fromlist(list(chain.from_iterable(new)))
            g.arg_end.fromlist(ends)
        params = g.params
        params.extend(repeat(None, n - len(params)))
        for i, param in self.params_at.items():
            params[i] = param
        self.params_at.clear()
        g.names_of.extend(repeat(None, n - len(g.names_of)))
        g.shapes.extend(repeat((), n - len(g.shapes)))
        g.call_of.extend(array("i", [-1]) * (n - len(g.call_of)))
        self.synced = n

    def absorb(self) -> None:
        """Take in the nodes `calls.call` added since the last `sync` (no inputs among them)."""
        g, reached = self.g, self.reached
        for j in range(self.synced, len(g.ops)):
            args = g.args(j)
            self.args_of.append(args)
            reached.append(any(reached[a] for a in args))
            if len(args) == 2 and reached[args[0]] is not reached[args[1]]:
                self.half_reached.append(j)
            if g.ops[j] == CONST:
                self.constants.append(j)
        self.synced = len(g.ops)

    def finish(self) -> None:
        """The graph's columns complete, its names set, what compiling needs kept."""
        g = self.g
        g._memo, g._plain = {}, {}  # no node is added now (freed before the columns are filled: a long
        # program's is large)
        self.sync()
        # each node's name is the first in the name table that stands for it: an input's own, else
        # the first step's that assigns it (names_of[node] = name, in C, the first written last)
        names_of = g.names_of
        deque(map(names_of.__setitem__, reversed(g.names.values()), reversed(g.names.keys())), maxlen=0)
        for i in self.constants:  # never named (``c = 0.5``)
            names_of[i] = None
        g.kept = Kept(self.args_of, self.reached, self.half_reached)


def _lower_lines(source: str, output: Optional[str]) -> Optional[Graph]:
    """`_lower` by line templates; None when a line is not one (`_lower` then reads the text).

    The nodes are made here, not by `Graph.add`: its hash-consing keys in the graph's own
    tables (`Graph.plain_table`), and the columns kept by `_Columns`."""
    lane = _LineLane()
    for chunk_start, chunk_end in zip(*_chunks(source)):
        text = source[chunk_start:chunk_end]
        bare = _COMMENT.sub("", text) if "#" in text else text
        classes = bare.translate(_CLASSES)
        skeletons = classes.split("\n")
        lengths = list(map(len, text.split("\n"))) if bare is not text else list(map(len, skeletons))
        if text.endswith("\n"):  # the chunk ends its last line
            del skeletons[-1], lengths[-1]
        if skeletons and max(lengths if bare is text else map(len, skeletons)) > _LONGEST_TEMPLATE:
            return None
        runs = _RUN.findall(bare) if _signed_exponent(classes) else bare.translate(_SEPARATORS).split()
        if not lane.lines(chunk_start, bare, skeletons, lengths, runs):
            return None
    if not lane.g.names.keys().isdisjoint(CONSTANTS.keys()):  # (the views: the shorter is read)
        raise _Fallback  # a constant assigned
    lane.cols.finish()
    return _finish(lane.g, lane.user_calls, source, lane.last, lane.last_target, output)


class _LineLane:
    """`_lower_lines`' graph and state, the rare steps as methods (a new input or constant, a
    call `calls.call` makes, a statement ending before its line does) and the hot loop over a
    chunk's lines (`lines`)."""

    def __init__(self) -> None:
        self.g = g = Graph()
        self.cols = _Columns(g)
        self.values: list[int] = []
        self.user_calls: dict[str, int] = {}
        self.templates: dict[str, Optional[tuple[int, tuple, Optional[int]]]] = {}
        #: a constant's text -> its node; a function's name -> its 1-argument call's (op, param,
        #: its hash-consing table, `Graph.plain_table`, or None for a param), or () when `calls.call`
        #: makes it
        self.const_nodes: dict[str, int] = {}
        self.unary: dict[str, tuple] = {}
        self.last = -1
        self.last_target: Optional[str] = None

    def make(self, op: str, args: tuple[int, ...], param: Any, pos: int) -> int:
        """`Graph.add`, into the lane's columns."""
        g, cols = self.g, self.cols
        new = len(g.ops)
        if param is None:
            node = g.plain_table(op).setdefault(args, new)
        else:
            node = g._memo.setdefault((op, args, param), new)
        if node == new:
            g.ops.append(op)
            cols.args_of.append(args)
            reached = cols.reached
            reached.append(any(reached[a] for a in args))
            g.positions.append(pos)
            if param is not None:
                cols.params_at[node] = param
            if len(args) == 2 and reached[args[0]] is not reached[args[1]]:
                cols.half_reached.append(node)
        return node

    def constant(self, value: float, text: str, pos: int) -> int:
        """`Graph.const`, into the lane's columns."""
        key = (CONST, (), value.hex())
        node = self.g._memo.get(key)
        if node is None:
            node = self.g._memo[key] = self._leaf(CONST, False, value, pos)
            self.g.texts[node] = text
            self.cols.constants.append(node)
        return node

    def operand(self, name: str, pos: int) -> int:
        """A name met for the first time as an operand: a constant (``pi``) or a new input."""
        value = CONSTANTS.get(name)
        if value is not None:
            return self.constant(value, name, pos)
        node = self.g.names[name] = self._leaf(INPUT, True, name, pos)
        self.g.inputs.append(node)
        return node

    def _leaf(self, op: str, reached: bool, param: Any, pos: int) -> int:
        """A new input or constant node in the lane's columns (`reached`: an input reaches it)."""
        g, cols = self.g, self.cols
        node = len(g.ops)
        g.ops.append(op)
        cols.args_of.append(())
        cols.reached.append(reached)
        g.positions.append(pos)
        cols.params_at[node] = param
        return node

    def number(self, text: str, pos: int) -> int:
        value = float(text)
        if value == _INF:
            raise _Fallback
        node = self.const_nodes[text] = self.constant(value, text, pos)
        return node

    def negate(self, a: int, pos: int) -> int:
        """Unary minus: -literal is folded into one constant."""
        g = self.g
        param = self.cols.params_at.get(a) if a >= self.cols.synced else g.params[a]
        if g.ops[a] == CONST and isinstance(param, float):
            text = g.texts[a]
            return self.constant(-param, text[1:] if text.startswith("-") else "-" + text, pos)
        return self.make("neg", (a,), None, pos)

    def first_call(self, name: str, nargs: int, pos: int) -> tuple:
        """A function's first call with `nargs` arguments: (op, param, its hash-consing table or None) when the
        lane makes its node, () when `calls.call` does."""
        if name not in self.user_calls:
            self.user_calls[name] = pos
        plain = _plain_cached(name, nargs)
        if not plain:
            return ()
        return plain[0], plain[1], self.g.plain_table(plain[0]) if plain[1] is None else None

    def call(self, name: str, nargs: int, pos: int) -> int:
        """A call's node, its arguments the last `nargs` values (popped)."""
        values = self.values
        args = tuple(values[len(values) - nargs:])
        del values[len(values) - nargs:]
        info = self.first_call(name, nargs, pos)
        if info:
            return self.make(info[0], args, info[1], pos)
        if name in prelude.NAMES:
            raise _Fallback
        self.cols.sync()
        node = calls.call(self.g, name, args, pos, _fail, {})
        self.cols.absorb()
        return node

    def end(self, name: Optional[str]) -> tuple[int, Optional[str]]:
        """A statement ends: its node, named after its target `name` (if any)."""
        last = self.values.pop()
        if self.values:
            raise _Fallback
        if name is None:
            return last, None
        if name in self.g.names:
            raise _Fallback  # assigned twice, or used before it is assigned
        self.g.names[name] = last
        return last, name

    def lines(self, chunk_start: int, bare: str, skeletons: list[str], lengths: list[int], runs: list[str]) -> bool:
        """The nodes of a chunk's lines (`bare`: its text without comments, `runs`: its names and
        numbers); False when a line is not a template."""
        g, cols, values = self.g, self.cols, self.values
        ops, names, reached = g.ops, g.names, cols.reached
        ops_append, args_append, reached_append, pos_append = ops.append, cols.args_of.append, reached.append, \
            g.positions.append
        half_append = cols.half_reached.append
        names_get = names.get
        push, pop = values.append, values.pop
        templates = self.templates
        templates_get, const_get, unary, operand = templates.get, self.const_nodes.get, self.unary, self.operand
        unary_get = unary.get
        last, last_target = self.last, self.last_target
        r = 0
        line_start = chunk_start
        bare_start = 0  # where the line starts in `bare` (earlier comments removed)
        for skeleton, length in zip(skeletons, lengths):
            start = line_start
            line_start += length + 1
            template = templates_get(skeleton)
            if template is None:
                if skeleton in templates:
                    return False
                template = templates[skeleton] = _compile_line(bare[bare_start:bare_start + len(skeleton)],
                                                               g.plain_table)
                if template is None:
                    return False
            bare_start += len(skeleton) + 1
            n, code, final = template
            for ins in code:
                kind = ins[0]
                if kind <= _T_BIN:
                    # (kind, op, position, the op's hash-consing table), then the second operand's (run,
                    # position) for _T_BIN_NAME, the second's and the first's for _T_BIN_NAMES; the
                    # others from the value stack
                    if kind == _T_BIN:
                        b = pop()
                        a = pop()
                    else:
                        if kind == _T_BIN_NAMES:
                            name = runs[r + ins[6]]
                            found = names_get(name)
                            a = found if found is not None else operand(name, start + ins[7])
                        else:
                            a = pop()
                        name = runs[r + ins[4]]
                        found = names_get(name)
                        b = found if found is not None else operand(name, start + ins[5])
                    new = len(ops)  # the node's id if it is new (one look-up in the hash-consing table)
                    args: tuple[int, ...] = (a, b)
                    node = ins[3].setdefault(args, new)
                    if node == new:
                        ops_append(ins[1])
                        args_append(args)
                        reach = reached[a]
                        if reach is not reached[b]:
                            half_append(node)
                            reach = True
                        reached_append(reach)
                        pos_append(start + ins[2])
                    push(node)
                elif kind <= _T_CALL:
                    # (kind, the name's run, number of arguments, position), then the argument's
                    # (run, position) for _T_CALL_NAME; the arguments of _T_CALL from the value stack
                    name, at = runs[r + ins[1]], start + ins[3]
                    if kind == _T_CALL_NAME:
                        argument = runs[r + ins[4]]
                        found = names_get(argument)
                        a = found if found is not None else operand(argument, start + ins[5])
                    elif ins[2] == 1:
                        a = pop()
                    else:
                        push(self.call(name, ins[2], at))
                        continue
                    info = unary_get(name)
                    if info is None:
                        info = unary[name] = self.first_call(name, 1, at)
                    if not info or info[2] is None:  # `calls.call` makes it, or its node has a param
                        push(a)
                        push(self.call(name, 1, at))
                        continue
                    new = len(ops)
                    args = (a,)
                    node = info[2].setdefault(args, new)
                    if node == new:
                        ops_append(info[0])
                        args_append(args)
                        reached_append(reached[a])
                        pos_append(at)
                    push(node)
                elif kind == _T_NAME:
                    name = runs[r + ins[1]]
                    node = names_get(name)
                    push(node if node is not None else operand(name, start + ins[2]))
                elif kind == _T_NUM:
                    number_text = runs[r + ins[1]]
                    node = const_get(number_text)
                    push(node if node is not None else self.number(number_text, start + ins[2]))
                elif kind == _T_NEG:
                    values[-1] = self.negate(values[-1], start + ins[1])
                else:  # a statement ends before the line does (``;``)
                    last, last_target = self.end(runs[r + ins[1]] if ins[1] >= 0 else None)
            if final is not None:  # the line ends a statement: `end`, written out
                last = pop()
                if values:
                    raise _Fallback
                if final >= 0:
                    last_target = runs[r + final]
                    if last_target in names:
                        raise _Fallback  # assigned twice, or used before it is assigned
                    names[last_target] = last
                else:
                    last_target = None
            r += n
        if r != len(runs):
            raise _Fallback  # cannot happen: the templates read every name and number
        self.last, self.last_target = last, last_target
        return True
