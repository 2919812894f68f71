"""Shape errors in a student's formula, said in the formula's own words.

A formula such as ``W2 @ dz2`` whose shapes do not fit fails in shape inference with a
message about graph nodes the student never wrote (``node a = W2 @ dz2 (matmul)``).
`explain` finds the first product (or operation) whose operand shapes do not fit and
says it with the formula's own sub-expression text, recovered from the parser's
positions, and suggests the transpose when one fits::

    W2 @ dz2 does not fit: W2 is 3×4 and dz2 has 3 elements; did you mean transpose(W2) @ dz2?

Sub-expression text comes from one loop over the postfix code (no recursion): each
item's span runs from its first operand's start to its own end, widened over the
parentheses the student wrote around it.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from ..core.graph import CONST, INPUT
from ..core.ops import OPS, broadcast_shapes
from ..core.shapes import shape_of


class ShapeNote(NamedTuple):
    """One line about the product that does not fit, and whether a transpose would fix it."""

    line: str
    #: the line suggests a transpose that makes the shapes fit
    transposed: bool


def explain(text: str, graph, env: dict) -> Optional[str]:
    """One line naming the first sub-expression of `text` whose shapes do not fit, or None."""
    note = explain_shapes(text, graph, env)
    return None if note is None else note.line


def explain_shapes(text: str, graph, env: dict) -> Optional[ShapeNote]:
    """`explain`, with whether the suggested transpose fits (a ``transposed`` diagnosis)."""
    from ..language.parser import parse

    found_failure = _shapes_until_failure(graph, env)
    if found_failure is None:
        return None
    failing, shapes = found_failure
    node = graph.nodes[failing]
    try:
        program = parse(text)
    except Exception:  # the formula was parsed once already; nothing to say if not
        return None
    items: dict[int, tuple[str, object, list[str], str]] = {}  # pos -> (tag, payload, operand texts, its text)
    calls: list[tuple[str, str]] = []  # (function name, call text), in order
    try:
        for st in program.statements:
            _spans(text, st.code, items, calls)
    except (IndexError, ValueError):  # postfix code this reader does not know: say nothing more
        return None
    if node.call >= 0:  # made inside an inlined function (the prelude's cross_entropy ...)
        return _call_note(graph, node, calls)
    found = items.get(node.pos)
    if found is None:
        return None
    tag, payload, texts, written = found
    if len(texts) < len(node.args) or _written(tag, payload, texts) is None:
        return None
    texts = texts[: len(node.args)]
    arg_shapes = [shapes[a] for a in node.args]
    sizes = " and ".join(f"{t} {_describe(s)}" for t, s in zip(texts, arg_shapes))
    line = f"{written} does not fit: {sizes}"
    fix = _transpose_fix(node, arg_shapes)
    if fix is None:
        return ShapeNote(line, False)
    fixed = list(texts)
    fixed[fix] = _transposed(texts[fix])
    return ShapeNote(f"{line}; did you mean {_written(tag, payload, fixed)}?", True)


def _shapes_until_failure(graph, env: dict) -> Optional[tuple[int, list]]:
    """(the first node whose shapes do not fit, every node's shape before it), or None."""
    shapes: list = [()] * len(graph.nodes)
    for node in graph.nodes:
        if node.op == INPUT:
            if node.name not in env:
                return None
            shapes[node.id] = shape_of(env[node.name])
            continue
        if node.op == CONST:
            continue
        try:
            shapes[node.id] = _shape(node.op, [shapes[a] for a in node.args], node.param)
        except ValueError:
            return node.id, shapes
    return None


def _shape(op: str, shapes: list, param) -> tuple:
    rule = OPS[op].shape
    if rule is not None:
        return tuple(rule(shapes, param))
    return broadcast_shapes(shapes) if any(shapes) else ()


def _transpose_fix(node, shapes: list) -> Optional[int]:
    """The operand (0, 1, ...) whose transpose makes the operation fit, or None."""
    for k, s in enumerate(shapes):
        if len(s) != 2 or s[0] == s[1]:
            continue
        tried = list(shapes)
        tried[k] = (s[1], s[0])
        try:
            _shape(node.op, tried, node.param)
        except ValueError:
            continue
        return k
    return None


def _describe(shape: tuple) -> str:
    if shape == ():
        return "is a number"
    if len(shape) == 1:
        return f"has {shape[0]} element{'s' if shape[0] != 1 else ''}"
    return "is " + "×".join(map(str, shape))


def _written(tag: str, payload, texts: list[str]) -> Optional[str]:
    """The sub-expression, written again from its operands' texts."""
    if tag == "bin":
        return f"{texts[0]} {payload} {texts[1]}"
    if tag == "call":
        return f"{payload[0]}({', '.join(texts)})"  # type: ignore[index]
    if tag == "T":
        return f"{texts[0]}.T"
    if tag == "list":
        return f"[{', '.join(texts)}]"
    if tag == "neg":
        return f"-{texts[0]}"
    return None


def _transposed(text: str) -> str:
    """``transpose(W)``; and ``W`` for ``W.T`` or ``transpose(W)`` (never a double transpose)."""
    inner = _unwrapped(text)
    if inner.endswith(".T") and _is_name(inner[:-2]):
        return inner[:-2]
    if inner.startswith("transpose(") and _match(inner, len("transpose")) == len(inner) - 1:
        return inner[len("transpose("):-1].strip()
    return f"transpose({inner})"


def _is_name(text: str) -> bool:
    return text.isidentifier()


def _unwrapped(text: str) -> str:
    """``(u*h)`` as ``u*h`` inside transpose(...), when the parentheses enclose all of it."""
    text = text.strip()
    while text.startswith("(") and _match(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _call_note(graph, node, calls: list[tuple[str, str]]) -> Optional[ShapeNote]:
    """A failure inside an inlined function: name the call the student wrote."""
    top = graph.call_path(node.call)[0]
    name, _, k = str(graph.calls[top][0]).rpartition("#")
    made = [t for f, t in calls if f == name]
    if not k.isdigit() or int(k) > len(made):
        return None
    return ShapeNote(f"{made[int(k) - 1]} does not fit: the shapes of its arguments do not match {name}()",
                     False)


def _spans(source: str, code: list, items: dict, calls: list) -> None:
    """For each operation item of one statement's postfix `code`, its operand texts
    (by position), with a stack of spans: one loop, no recursion."""
    stack: list[tuple[int, int]] = []
    for tag, payload, pos in code:
        if tag == "name":
            span = (pos, pos + len(payload))
        elif tag == "num":
            span = (pos, pos + len(payload[1]))
        elif tag == "none":
            span = (pos, pos)
        else:
            n = _arity(tag, payload)
            kids = stack[len(stack) - n:] if n else []
            del stack[len(stack) - n:]
            if tag == "bin":
                span = (kids[0][0], kids[1][1])
            elif tag == "neg":
                span = (pos, kids[0][1])
            elif tag == "call":
                opening = source.find("(", pos)
                close = _match(source, opening) if opening >= 0 else -1
                span = (pos, close + 1 if close >= 0 else (kids[-1][1] if kids else pos))
            elif tag == "T":
                span = (kids[0][0], pos + 1)
            elif tag == "index":
                close = _match(source, pos)
                span = (kids[0][0], close + 1 if close >= 0 else kids[-1][1])
            elif tag == "list":
                close = _match(source, pos)
                span = (pos, close + 1 if close >= 0 else (kids[-1][1] if kids else pos))
            else:  # slice
                span = (kids[0][0], kids[-1][1]) if kids else (pos, pos)
            if tag in ("bin", "neg", "call", "T", "index", "list"):
                texts = [source[s:e] for s, e in (kids[1:] if tag == "index" else kids)]
                if tag == "index":
                    texts = [source[kids[0][0]:kids[0][1]]]
                whole = _widened(source, span)
                items.setdefault(pos, (tag, payload, texts, _unwrapped(source[whole[0]:whole[1]])))
                if tag == "call":
                    calls.append((payload[0], source[span[0]:span[1]]))
        stack.append(_widened(source, span))


def _arity(tag: str, payload) -> int:
    if tag == "bin":
        return 2
    if tag in ("neg", "T"):
        return 1
    if tag == "call":
        return int(payload[1])
    if tag == "index":
        return int(payload) + 1
    return int(payload)  # list, slice


def _widened(source: str, span: tuple[int, int]) -> tuple[int, int]:
    """The span with the parentheses written around it (``(u*h)``), but not a call's."""
    s, e = span
    while True:
        before = s - 1
        while before >= 0 and source[before].isspace():
            before -= 1
        after = e
        while after < len(source) and source[after].isspace():
            after += 1
        if before < 0 or after >= len(source) or source[before] != "(" or source[after] != ")":
            return s, e
        ahead = before - 1
        while ahead >= 0 and source[ahead].isspace():
            ahead -= 1
        if ahead >= 0 and (source[ahead].isalnum() or source[ahead] in "_)]"):
            return s, e  # the parentheses of a call f(x), not a grouping
        if _match(source, before) != after:
            return s, e
        s, e = before, after + 1


def _match(source: str, opening: int) -> int:
    """Index of the bracket closing the one at `opening` (-1 if none)."""
    depth = 0
    for k in range(opening, len(source)):
        ch = source[k]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth == 0:
                return k
    return -1
