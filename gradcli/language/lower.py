"""Lowering: parsed statements -> a `Graph`, by a stack machine over postfix code.

Names resolve in this order: a name assigned earlier in the program, a constant
(``pi``), otherwise an input.  A name used before a later statement assigns it, a
name assigned twice, or a function used as a value are errors that point at the
column.  Only ``-literal`` is folded (so ``-1`` is one constant node); every other
operation on constants stays a node, so the graph shows exactly what was written.
"""

from __future__ import annotations

from typing import Optional

from ..core.errors import ParseError, UsageError
from ..core.graph import CONST, Graph
from ..core.ops import AXIS_OPS, BINARY_OPS, CONSTANTS, DEFAULT_ARGS, DEFAULT_AXIS, FUNCTIONS, SHAPE_ARG_OPS
from .parser import Program


def lower(program: Program, output: Optional[str] = None) -> Graph:
    """The DAG of `program`'s output (the last statement, or the one named `output`)."""
    source = program.source
    if not program.statements:
        raise ParseError("the program is empty", source, 0)

    def fail(message: str, pos: int) -> ParseError:
        return ParseError(message, source, pos)

    assigned_at: dict[str, int] = {}
    for st in program.statements:
        if st.target is None:
            continue
        if st.target in assigned_at:
            raise fail(f"{st.target!r} is assigned twice (each name is assigned once)", st.target_pos)
        if st.target in FUNCTIONS or st.target in CONSTANTS:
            what = "function" if st.target in FUNCTIONS else "constant"
            raise fail(f"{st.target!r} is a built-in {what} and cannot be assigned", st.target_pos)
        assigned_at[st.target] = st.target_pos

    g = Graph()
    defined: dict[str, int] = {}
    last = -1
    for st in program.statements:
        stack: list = []  # node ids; inside an index also None (omitted bound) and slices
        for tag, payload, pos in st.code:
            if tag == "num":
                value, text = payload  # type: ignore[misc]
                stack.append(g.const(value, text, pos))
            elif tag == "name":
                stack.append(_resolve(g, str(payload), pos, defined, assigned_at, fail))
            elif tag == "bin":
                b = stack.pop()
                a = stack.pop()
                op = BINARY_OPS[str(payload)]
                stack.append(g.add(op.name, (a, b), pos=pos))
            elif tag == "neg":
                a = stack.pop()
                node = g.nodes[a]
                if node.op == CONST and isinstance(node.param, float):
                    text = node.text[1:] if node.text.startswith("-") else "-" + node.text
                    stack.append(g.const(-node.param, text, pos))
                else:
                    stack.append(g.add("neg", (a,), pos=pos))
            elif tag == "call":
                name, nargs = payload  # type: ignore[misc]
                args = tuple(stack[len(stack) - nargs :]) if nargs else ()
                del stack[len(stack) - nargs :]
                stack.append(_call(g, name, args, pos, fail))
            elif tag == "list":
                n = int(payload)  # type: ignore[arg-type]
                items = tuple(stack[len(stack) - n :])
                del stack[len(stack) - n :]
                stack.append(g.add("stack", items, pos=pos))
            elif tag == "T":
                stack.append(g.add("transpose", (stack.pop(),), pos=pos))
            elif tag == "none":
                stack.append(None)
            elif tag == "slice":
                n = int(payload)  # type: ignore[arg-type]
                parts = [_integer(g, p, pos, fail) for p in stack[len(stack) - n :]]
                del stack[len(stack) - n :]
                stack.append(("slice", *parts, *([None] * (3 - n))))
            elif tag == "index":
                n = int(payload)  # type: ignore[arg-type]
                items = stack[len(stack) - n :]
                del stack[len(stack) - n :]
                base = stack.pop()
                index = tuple(it if isinstance(it, tuple) else _integer(g, it, pos, fail) for it in items)
                if any(it is None for it in index):
                    raise fail("an index must be an integer or a slice", pos)
                stack.append(g.add("index", (base,), param=index, pos=pos))
            else:  # pragma: no cover - the parser emits no other tags
                raise fail(f"unsupported syntax {tag!r}", pos)
        (result,) = stack
        if st.target is not None:
            defined[st.target] = result
            g.names.setdefault(st.target, result)
            node = g.nodes[result]
            if node.name is None and node.op != CONST:
                node.name = st.target
        last = result

    if output is not None:
        if output not in defined and output not in g.names:
            known = ", ".join(sorted(defined)) or "none"
            raise UsageError(f"--output {output}: no statement assigns {output!r} (assigned: {known})")
        out = defined.get(output, g.names.get(output, -1))
        out_name = output
    else:
        out = last
        final = program.statements[-1]
        out_name = final.target or ""
    pruned = g.pruned(out)
    pruned.name_anonymous_nodes()
    pruned.output_name = out_name or pruned.label(pruned.output)
    return pruned


def _resolve(g: Graph, name: str, pos: int, defined, assigned_at, fail) -> int:
    if name in defined:
        return defined[name]
    if name in assigned_at:
        raise fail(f"{name!r} is used before the statement that assigns it", pos)
    if name in CONSTANTS:
        return g.const(CONSTANTS[name], name, pos)
    if name in FUNCTIONS:
        raise fail(f"{name!r} is a function: call it as {name}(...)", pos)
    return g.input(name, pos)


def _integer(g: Graph, item, pos: int, fail):
    """An index or slice bound: a literal integer (or None for an omitted bound)."""
    if item is None:
        return None
    node = g.nodes[item] if isinstance(item, int) else None
    if node is None or node.op != CONST or not float(node.param).is_integer():
        raise fail("indices and axes must be integer literals, such as x[0], x[-1] or x[1:3]", pos)
    return int(node.param)


def _call(g: Graph, name: str, args: tuple[int, ...], pos: int, fail) -> int:
    op = FUNCTIONS.get(name)
    if op is None:
        raise fail(_unknown_function(name), pos)
    if name in AXIS_OPS and len(args) == 2:
        axis = _integer(g, args[1], pos, fail)
        return g.add(op.name, args[:1], param=axis, pos=pos)
    if name in SHAPE_ARG_OPS:
        return _shape_call(g, name, args, pos, fail)
    if name in DEFAULT_ARGS and len(args) == op.arity - 1:
        text = DEFAULT_ARGS[name]
        args = args + (g.const(float(text), text, pos),)
    if op.variadic:
        if not args:
            raise fail(f"{name}() needs at least one argument", pos)
        if len(args) == 1 and name in ("max", "min"):  # max(x) of an array: its largest element
            return g.add("a" + name, args, pos=pos)
    elif len(args) != op.arity:
        plural = "s" if op.arity != 1 else ""
        extra = " (and optionally an axis)" if name in AXIS_OPS else ""
        raise fail(f"{name}() takes {op.arity} argument{plural}{extra}, got {len(args)}", pos)
    return g.add(op.name, args, param=DEFAULT_AXIS.get(name), pos=pos)


def _shape_call(g: Graph, name: str, args: tuple[int, ...], pos: int, fail) -> int:
    """reshape(x, r, c), eye(n), zeros(r, c), ...: the sizes are integer literals (the node's param)."""
    values = SHAPE_ARG_OPS[name]
    sizes = args[values:]
    if len(args) < values or not 1 <= len(sizes) <= (1 if name == "eye" else 2):
        shown = {"reshape": "reshape(x, n) or reshape(x, r, c)", "eye": "eye(n)"}.get(name, f"{name}(n) or {name}(r, c)")
        raise fail(f"{name}() is written {shown}, got {len(args)} argument{'s' if len(args) != 1 else ''}", pos)
    shape = tuple(_integer(g, a, pos, fail) for a in sizes)
    if any(d < (-1 if name == "reshape" else 0) for d in shape):
        raise fail(f"{name}(): sizes must be non-negative integers" + (" (or -1)" if name == "reshape" else ""), pos)
    return g.add(name, args[:values], param=shape, pos=pos)


def _unknown_function(name: str) -> str:
    import difflib  # only on this error path: start-up time matters

    close = difflib.get_close_matches(name, list(FUNCTIONS), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else f" (functions: {', '.join(sorted(FUNCTIONS))})"
    return f"unknown function {name!r}{hint}"
