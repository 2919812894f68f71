"""Parse gradcli programs into statements of postfix (RPN) code, without recursion.

The parser is a Pratt-style operator-precedence parser written as a loop with an
explicit operator stack (Dijkstra's shunting-yard), so nesting depth and expression
length are bounded only by memory: 10^5 nested parentheses or a 10^6-term sum parse
in linear time.  Binding powers live in one table (`BINARY`); unary minus binds
looser than ``^`` so ``-x^2`` is ``-(x^2)``, and ``^`` is right-associative so
``2^3^2`` is ``2^9``.

Each statement becomes a flat list of `Item` tuples ``(tag, payload, pos)`` in
postfix order, which `gradcli.language.lower` turns into graph nodes with a stack machine:

======== ======================== ===========================================
tag      payload                  meaning
======== ======================== ===========================================
num      (value, text)            a number literal
name     name                     a variable or constant name
bin      operator text            binary operator: ``+ - * / ^ @ < <= > >= == !=``
neg      None                     unary minus
call     (function, nargs)        function call
list     n                        vector literal ``[a, b, ...]``
index    n                        ``x[i]`` / ``W[i, j]`` with n index items
slice    nparts                   ``start:stop[:step]`` (2 or 3 parts)
none     None                     an omitted slice bound
T        None                     ``x.T``
======== ======================== ===========================================

`sexpr` prints a statement canonically, e.g. ``(+ 1 (* 2 3))``; the parser tests
compare those strings.
"""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple, Optional

from ..core.errors import ParseError
from ..core.fmt import shorten
from .lexer import PRODUCT_HINT, tokenize

Item = tuple[str, Any, int]  # (tag, payload, position): the payload depends on the tag

#: binary operator -> (binding power, right associative)
BINARY: dict[str, tuple[int, bool]] = {
    "<": (5, False),
    "<=": (5, False),
    ">": (5, False),
    ">=": (5, False),
    "==": (5, False),
    "!=": (5, False),
    "+": (10, False),
    "-": (10, False),
    "*": (20, False),
    "/": (20, False),
    "@": (20, False),
    "^": (40, True),
    "**": (40, True),
}
#: binding power of the comparisons: below arithmetic, as in Python
COMPARE_POWER = 5
#: binding power of unary minus/plus: tighter than * and /, looser than ^
UNARY_POWER = 30


class Statement(NamedTuple):
    """``target = expression`` (target None for a bare expression), or a definition
    ``def target(params) = expression`` (then `params` is a tuple, maybe empty)."""

    target: Optional[str]
    target_pos: int
    code: list[Item]
    start: int
    end: int
    #: a definition's parameter names and their offsets; None for a step
    params: Optional[tuple[str, ...]] = None
    param_pos: tuple[int, ...] = ()


class Program(NamedTuple):
    source: str
    statements: list[Statement]


# Operator-stack entries are lists: [kind, pos, ...]
#   ["bin", pos, op, power]      ["neg", pos]
#   ["(", pos]                   ["call", pos, name, nargs]
#   ["[", pos, n]                ["idx", pos, n_items, n_colons]


def parse(source: str) -> Program:
    """Parse a whole program (statements separated by ``;`` or newlines)."""
    return Program(source, list(statements(source)))


def statements(source: str, share_names: bool = False) -> Iterator[Statement]:
    """The statements of `source` one at a time, as `parse` makes them (a caller that
    lowers each at once never holds a long program's whole parse); `share_names`: see
    `tokenize`."""
    if "\x00" in source:
        raise ParseError("the program contains a NUL character", source, source.index("\x00"))
    tokens = tokenize(source, share_names)
    peeked: list = []

    def next_token() -> tuple[str, str, int]:
        return peeked.pop() if peeked else next(tokens)

    def fail(message: str, pos: int) -> ParseError:
        return ParseError(message, source, pos)

    while True:
        tok = next_token()
        while tok[0] == "nl" or tok[1] == ";":
            tok = next_token()
        if tok[0] == "eof":
            break
        start = tok[2]
        target, target_pos = None, -1
        if tok[0] == "name" and tok[1] == "def":
            after = next_token()
            peeked.append(after)
            if after[0] == "name":  # `def NAME(...) = EXPR`; otherwise `def` is an ordinary name
                target, target_pos, params, param_pos, tok = _definition_head(next_token, fail)
                code, tok = _expression(tok, next_token, peeked, fail)
                yield Statement(target, target_pos, code, start, tok[2], params, param_pos)
                if tok[0] == "eof":
                    break
                continue
        if tok[0] == "name":
            after = next_token()
            if after[1] == "=":
                target, target_pos = tok[1], tok[2]
                tok = next_token()
            else:
                peeked.append(after)
        code, tok = _expression(tok, next_token, peeked, fail)
        yield Statement(target, target_pos, code, start, tok[2])
        if tok[0] == "eof":
            break


def _definition_head(next_token, fail):
    """Read ``NAME(P1, P2, ...) =`` after ``def``; returns the name, the parameters and
    the first token of the body."""
    name_tok = next_token()
    opening = next_token()
    if opening[1] != "(":
        raise fail(f"expected '(' after 'def {shorten(name_tok[1], 30)}': a definition reads def NAME(P1, P2) = EXPR",
                   opening[2])
    params: list[str] = []
    positions: list[int] = []
    tok = next_token()
    if tok[1] != ")":
        while True:
            if tok[0] != "name":
                raise fail(f"expected a parameter name, found {_describe(tok)}", tok[2])
            if tok[1] in params:
                raise fail(f"parameter {tok[1]!r} appears twice in the definition of {name_tok[1]!r}", tok[2])
            params.append(tok[1])
            positions.append(tok[2])
            tok = next_token()
            if tok[1] == ")":
                break
            if tok[1] != ",":
                raise fail(f"expected ',' or ')' in the parameter list, found {_describe(tok)}", tok[2])
            tok = next_token()
    equals = next_token()
    if equals[1] != "=":
        raise fail(f"expected '=' after the parameters of {name_tok[1]!r}, found {_describe(equals)}", equals[2])
    return name_tok[1], name_tok[2], tuple(params), tuple(positions), next_token()


#: the ``(function, nargs)`` payloads made so far: one tuple for every ``sin(...)`` call
_CALL_PAYLOADS: dict[tuple[str, int], tuple[str, int]] = {}


def _call_payload(name: str, nargs: int) -> tuple[str, int]:
    key = (name, nargs)
    found = _CALL_PAYLOADS.get(key)
    if found is None:
        if len(_CALL_PAYLOADS) > 4096:  # unknown function names, say: never let it grow without bound
            _CALL_PAYLOADS.clear()
        found = _CALL_PAYLOADS[key] = key
    return found


def _expression(tok, next_token, peeked, fail) -> tuple[list[Item], tuple[str, str, int]]:
    """Parse one statement's expression starting at `tok`; returns (code, end token)."""
    return _Expression(next_token, peeked, fail).parse(tok)


class _Expression:
    """A shunting-yard over one statement's tokens: postfix code out, brackets and
    operators on a stack; a loop, never recursion, so any size and nesting parses."""

    __slots__ = ("next_token", "peeked", "fail", "out", "stack", "depth", "wrapped")

    def __init__(self, next_token, peeked, fail) -> None:
        self.next_token = next_token
        self.peeked = peeked
        self.fail = fail
        self.out: list[Item] = []
        self.stack: list[list] = []
        self.depth = 0  # open brackets: inside them a newline is white space
        self.wrapped = False  # a newline was read as white space inside an open bracket

    def parse(self, tok) -> tuple[list[Item], tuple[str, str, int]]:
        expect_operand = True
        operand, operator = self.operand, self.operator
        while True:
            if expect_operand:
                expect_operand, advance = operand(tok)
                if not advance:  # a separator after an empty slice part: read it as an operator
                    continue
            else:
                done, expect_operand = operator(tok)
                if done:
                    return self.out, tok
            tok = self.next_token()

    def unclosed(self) -> ParseError:
        """The innermost open bracket, named where it was opened."""
        top = next(e for e in reversed(self.stack) if e[0] in ("(", "call", "[", "idx"))
        closer = "]" if top[0] in ("[", "idx") else ")"
        opener = "[" if closer == "]" else "("
        return self.fail(f"'{opener}' is never closed: expected '{closer}'", top[1])

    def pop_operators(self) -> None:
        """Pop binary/unary operators down to the nearest bracket marker."""
        stack, out = self.stack, self.out
        while stack and stack[-1][0] in ("bin", "neg"):
            entry = stack.pop()
            out.append(("bin", entry[2], entry[1]) if entry[0] == "bin" else ("neg", None, entry[1]))

    # ---- expecting an operand ------------------------------------------------------------
    def operand(self, tok) -> tuple[bool, bool]:
        """One token where an operand belongs: (still expecting an operand?, advance?)."""
        kind, text, pos = tok
        out, stack, fail = self.out, self.stack, self.fail
        if kind == "num":
            value = float(text)
            if value == float("inf"):
                raise fail(f"the number {shorten(text, 30)} is too large for a 64-bit float", pos)
            out.append(("num", (value, text), pos))
            return False, True
        if kind == "name":
            return self.name(text, pos), True
        if text == "(":
            stack.append(["(", pos])
            self.depth += 1
        elif text == "[":
            after = self.next_token()
            if after[1] == "]":
                raise fail("an empty vector [] is not allowed", after[2])
            self.peeked.append(after)
            stack.append(["[", pos, 0])
            self.depth += 1
        elif text in ("-", "+"):
            if text == "-":
                stack.append(["neg", pos])
        elif text == ":" and stack and stack[-1][0] == "idx":
            out.append(("none", None, pos))  # x[:2]
            _colon(stack[-1], pos, fail)
        elif (text == "," or text == "]") and stack and stack[-1][0] == "idx" and stack[-1][3]:
            out.append(("none", None, pos))  # x[1:]
            return False, False  # handle the separator in operator position
        elif kind == "nl":
            self.wrapped = self.wrapped or self.depth > 0  # the expression continues on the next line
        elif kind == "eof" or text == ";":
            if out or stack:
                raise fail("expected an expression, found the end of the statement", pos)
            raise fail("expected an expression", pos)
        elif text == "=":
            if self.wrapped and self.depth > 0:
                raise self.unclosed()
            raise fail("unexpected '=': an assignment must start the statement (name = expression)", pos)
        else:
            raise fail(f"expected an expression, found {_describe(tok)}", pos)
        return True, True

    def name(self, text: str, pos: int) -> bool:
        """A name: a call ``f(`` opens, else the name is an operand.  Still expecting one?"""
        after = self.next_token()
        if after[1] != "(":
            self.peeked.append(after)
            self.out.append(("name", text, pos))
            return False
        self.stack.append(["call", pos, text, 0])
        self.depth += 1
        after = self.next_token()
        if after[1] == ")":  # f()
            self.out.append(("call", _call_payload(text, 0), pos))
            self.stack.pop()
            self.depth -= 1
            return False
        self.peeked.append(after)
        return True

    # ---- expecting an operator (the previous operand is complete) ------------------------------
    def operator(self, tok) -> tuple[bool, bool]:
        """One token where an operator belongs: (the expression ended?, expecting an operand?)."""
        kind, text, pos = tok
        fail = self.fail
        if kind == "op" and text in BINARY:
            self.binary(text, pos)
            return False, True
        if text == ")":
            self.close_paren(pos)
        elif text == "]":
            self.close_bracket(pos)
        elif text == ",":
            self.comma(pos)
            return False, True
        elif text == ":" and self.stack and self.stack[-1][0] in ("idx", "bin", "neg"):
            self.pop_operators()
            if not self.stack or self.stack[-1][0] != "idx":
                raise fail("':' is only allowed inside an index, as in x[1:3]", pos)
            _colon(self.stack[-1], pos, fail)
            return False, True
        elif text == "[":
            self.stack.append(["idx", pos, 0, 0])
            self.depth += 1
            return False, True
        elif text == ".":
            attr = self.next_token()
            if attr[0] != "name":
                raise fail("expected an attribute name after '.'", attr[2])
            if attr[1] != "T":
                raise fail(f"unknown attribute .{attr[1]} (only .T, the transpose, exists)", attr[2])
            self.out.append(("T", None, attr[2]))
        elif kind == "eof" or text == ";" or (kind == "nl" and not self.depth):
            self.pop_operators()
            if self.stack:
                raise self.unclosed_at_end()
            return True, False
        elif kind == "nl":
            self.wrapped = True  # a newline inside brackets is just white space
        else:
            raise self.misplaced(tok)
        return False, False

    def binary(self, text: str, pos: int) -> None:
        """A binary operator: pop what binds tighter, then push it (minipratt's loop)."""
        power, right = BINARY[text]
        op = "^" if text == "**" else text
        stack, out = self.stack, self.out
        while stack:
            top = stack[-1]
            if top[0] == "bin":
                top_power = top[3]
            elif top[0] == "neg":
                top_power = UNARY_POWER
            else:
                break
            if top_power > power or (top_power == power and not right):
                if power == COMPARE_POWER and top_power == COMPARE_POWER:
                    raise self.fail(
                        f"chained comparison {top[2]} ... {text} is not supported "
                        "(write (a < b) * (b < c) for 'both')", pos,
                    )
                stack.pop()
                out.append(("bin", top[2], top[1]) if top[0] == "bin" else ("neg", None, top[1]))
            else:
                break
        stack.append(["bin", pos, op, power])

    def close_paren(self, pos: int) -> None:
        self.pop_operators()
        if not self.stack:
            raise self.fail("unmatched ')'", pos)
        top = self.stack.pop()
        self.depth -= 1
        if top[0] == "call":
            key = (top[2], top[3] + 1)
            self.out.append(("call", _CALL_PAYLOADS.get(key) or _call_payload(*key), top[1]))
        elif top[0] != "(":
            raise self.fail("expected ']' to close '[', found ')'", pos)

    def close_bracket(self, pos: int) -> None:
        self.pop_operators()
        stack = self.stack
        if not stack or stack[-1][0] not in ("[", "idx"):
            if stack and stack[-1][0] in ("(", "call"):
                raise self.fail("expected ')' before ']'", pos)
            raise self.fail("unmatched ']'", pos)
        top = stack.pop()
        self.depth -= 1
        if top[0] == "[":
            self.out.append(("list", top[2] + 1, top[1]))
        else:
            _end_index_item(top, self.out, pos)
            self.out.append(("index", top[2] + 1, top[1]))

    def comma(self, pos: int) -> None:
        self.pop_operators()
        stack = self.stack
        if not stack or stack[-1][0] == "(":
            raise self.fail("unexpected ','" + (" outside a function call or [ ]" if not stack else ""), pos)
        top = stack[-1]
        if top[0] == "idx":
            _end_index_item(top, self.out, pos)
        top[3 if top[0] == "call" else 2] += 1

    def unclosed_at_end(self) -> ParseError:
        top = self.stack[-1]
        closer = "]" if top[0] in ("[", "idx") else ")"
        opener = "[" if closer == "]" else "("
        return self.fail(f"'{opener}' is never closed: expected '{closer}'", top[1])

    def misplaced(self, tok) -> ParseError:
        """An operand, '=' or anything else where an operator belongs."""
        kind, text, pos = tok
        if self.wrapped and self.depth > 0 and (text == "=" or kind in ("num", "name") or text == "("):
            # most likely a bracket left open on an earlier line, not a missing operator
            return self.unclosed()
        if text == "=":
            return self.fail("unexpected '=': an assignment must start the statement (name = expression)", pos)
        if kind in ("num", "name") or text == "(":
            # after a number (2x) it is a multiplication; between names it may be a matrix product
            hint = "write * for multiplication" if self.out and self.out[-1][0] == "num" else PRODUCT_HINT
            return self.fail(f"expected an operator before {_describe(tok)} ({hint})", pos)
        return self.fail(f"unexpected {_describe(tok)}", pos)


def _colon(entry: list, pos: int, fail) -> None:
    entry[3] += 1
    if entry[3] > 2:
        raise fail("a slice has at most two ':' (start:stop:step)", pos)


def _end_index_item(entry: list, out: list[Item], pos: int) -> None:
    """Close one item of ``x[...]``: a plain index, or a slice of 2-3 parts."""
    if entry[3]:
        out.append(("slice", entry[3] + 1, pos))
        entry[3] = 0


def _describe(tok: tuple[str, str, int]) -> str:
    kind, text, _ = tok
    if kind == "eof":
        return "the end of the program"
    if kind == "nl":
        return "the end of the line"
    if kind == "num":
        return f"the number {shorten(text, 30)}"
    if kind == "name":
        return f"the name {shorten(text, 30)!r}"
    return f"'{text}'"


#: tokens after which a statement must go on (a newline there is white space)
_CONTINUES = frozenset(BINARY) | {"(", "[", ",", "=", ":", ".", "-", "+"}


def statement_texts(source: str, limit: Optional[int] = None) -> list[str]:
    """Each statement of a (valid) program as one line of source text, comments dropped.

    A statement continued on the next line (``b = a*`` newline ``2``, or a newline
    inside brackets) stays one statement, as the parser reads it: ``b = a* 2``.
    Stops once the texts are longer than `limit` characters in all.
    """
    texts: list[str] = []
    pieces: list[str] = []
    depth = 0
    last = ""
    prev_end = -1
    broke = False  # a newline (or comment) since the previous token of this statement
    total = 0
    for kind, text, pos in tokenize(source):
        if kind == "eof" or text == ";" or (kind == "nl" and not depth and last not in _CONTINUES):
            if pieces:
                texts.append("".join(pieces))
                total += len(texts[-1]) + 2
                pieces = []
            if kind == "eof" or (limit is not None and total > limit):
                break
            last, broke = "", False
            continue
        if kind == "nl":
            broke = True
            continue
        if pieces:
            gap = source[prev_end:pos]
            pieces.append(" " if broke or "#" in gap else gap)
        pieces.append(text)
        prev_end = pos + len(text)
        broke = False
        last = text if kind == "op" else kind
        if text in ("(", "["):
            depth += 1
        elif text in (")", "]"):
            depth = max(0, depth - 1)
    return texts


def sexpr(code: list[Item]) -> str:
    """The canonical S-expression of a statement's code, e.g. ``(+ a (* b c))``."""
    stack: list[str] = []
    for tag, payload, _ in code:
        if tag == "num":
            stack.append(payload[1])  # type: ignore[index]
        elif tag == "name":
            stack.append(str(payload))
        elif tag == "none":
            stack.append("_")
        elif tag == "bin":
            b = stack.pop()
            a = stack.pop()
            stack.append(f"({payload} {a} {b})")
        elif tag == "neg":
            stack.append(f"(neg {stack.pop()})")
        elif tag == "T":
            stack.append(f"(T {stack.pop()})")
        else:
            name, n = (payload if tag == "call" else (tag, payload))  # type: ignore[misc]
            if tag == "index":
                n += 1  # the indexed value, then the index items
            args = stack[len(stack) - n :] if n else []
            del stack[len(stack) - n :]
            stack.append("(" + " ".join([str(name), *args]) + ")")
    return " ".join(stack)


def program_sexpr(program: Program) -> str:
    """All statements of a program, canonically, separated by ``; ``."""
    parts = []
    for st in program.statements:
        body = sexpr(st.code)
        if st.params is not None:
            parts.append(f"(def {st.target} ({' '.join(st.params)}) {body})")
        else:
            parts.append(f"(= {st.target} {body})" if st.target else body)
    return "; ".join(parts)
