"""Lowering: parsed statements -> a `Graph`, by a stack machine over postfix code.

Names resolve in this order: a name assigned earlier in the program, a constant
(``pi``), otherwise an input.  A name used before a later statement assigns it, a
name assigned twice, or a function used as a value are errors that point at the
column.  Only ``-literal`` is folded (so ``-1`` is one constant node); every other
operation on constants stays a node, so the graph shows exactly what was written.
"""

from __future__ import annotations

from typing import Optional

from .errors import ParseError
from .graph import CONST, Graph
from .ops import BINARY_OPS, CONSTANTS, FUNCTIONS
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
        stack: list[int] = []
        for tag, payload, pos in st.code:
            if tag == "num":
                value, text = payload  # type: ignore[misc]
                stack.append(g.const(value, text, pos))
            elif tag == "name":
                stack.append(_resolve(g, str(payload), pos, defined, assigned_at, fail))
            elif tag == "bin":
                b = stack.pop()
                a = stack.pop()
                op = BINARY_OPS.get(str(payload))
                if op is None:
                    raise fail(f"'{payload}' needs vectors or matrices, which this build does not support", pos)
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
            else:
                raise fail(_unsupported(tag), pos)
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
            raise ParseError(f"--output {output}: no statement assigns {output!r} (assigned: {known})", source, 0)
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


def _call(g: Graph, name: str, args: tuple[int, ...], pos: int, fail) -> int:
    op = FUNCTIONS.get(name)
    if op is None:
        raise fail(_unknown_function(name), pos)
    if op.variadic:
        if not args:
            raise fail(f"{name}() needs at least one argument", pos)
        if len(args) == 1:
            return args[0]  # max of one scalar is itself
    elif len(args) != op.arity:
        plural = "s" if op.arity != 1 else ""
        raise fail(f"{name}() takes {op.arity} argument{plural}, got {len(args)}", pos)
    return g.add(op.name, args, pos=pos)


def _unknown_function(name: str) -> str:
    import difflib  # only on this error path: start-up time matters

    close = difflib.get_close_matches(name, list(FUNCTIONS), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else f" (functions: {', '.join(sorted(FUNCTIONS))})"
    return f"unknown function {name!r}{hint}"


def _unsupported(tag: str) -> str:
    what = {
        "list": "vector literals [a, b]",
        "index": "indexing x[i]",
        "slice": "slices x[a:b]",
        "none": "slices x[a:b]",
        "T": "transposes x.T",
    }.get(tag, tag)
    return f"{what} need vectors or matrices, which this build does not support"
