"""Built-in calls and a lowered program's end, for both ways of lowering: the general one
(`gradcli.language.lower`) and its fast lane (`gradcli.language.fastlane`), which import
them from here (neither imports the other's module at its top).

`call` makes the node of a built-in function call (its integer-literal parameters read and
checked, its default arguments filled in); `finish_graph` makes the checks that need the
whole program and prunes the graph to its output; `meaning` and `integer` are their helpers.
"""

from __future__ import annotations

from typing import Optional

from ..core.errors import ParseError, UsageError
from ..core.graph import CONST, INPUT, Graph
from ..core.ops import AXES_ARG_OPS, AXIS_OPS, DEFAULT_ARGS, DEFAULT_AXIS, FUNCTIONS, INT_ARG_OPS, MAX_RANK, SHAPE_ARG_OPS, int_params
from . import prelude


def finish_graph(g: Graph, defined: dict[str, int], user_calls: dict[str, int], source: str, user_defs: dict,
                 last: int, last_target: str, output: Optional[str]) -> Graph:
    """A lowered program's end: the checks that need every input known (a function called
    that is also an input), then the output's graph, pruned and its steps named.
    `defined`: step name -> node; `last`: the last statement's node, `last_target` its
    name ("" for none)."""
    for name, pos in user_calls.items():
        found = g.names.get(name)
        if found is not None and g.ops[found] == INPUT:
            at = g.positions[found]
            raise ParseError(f"{name!r} is an input of this program (line {source.count(chr(10), 0, at) + 1}, "
                             f"column {at - source.rfind(chr(10), 0, at)}) "
                             f"and also {meaning(name, user_defs, False)}: rename the input to call the "
                             "function", source, pos)
    if output is not None:
        if output not in defined and output not in g.names:
            known_names = ", ".join(sorted(defined)) or "none"
            raise UsageError(f"--output {output}: no statement assigns {output!r} (assigned: {known_names})")
        out = defined.get(output, g.names.get(output, -1))
        out_name = output
    else:
        out = last
        out_name = last_target
    pruned = g.pruned(out)
    pruned.name_anonymous_nodes()
    pruned.output_name = out_name or pruned.label(pruned.output)
    return pruned


def meaning(name: str, user_defs: dict, in_prelude: bool) -> str:
    """What `name` means as a function, in words ('' if nothing)."""
    if not in_prelude and name in user_defs:
        return f"the function {name}(...) defined on line {user_defs[name].line}"
    if name in prelude.NAMES:
        return f"the prelude function {name}(...)"
    if name in FUNCTIONS:
        return f"the built-in function {name}(...)"
    return ""


def integer(g: Graph, item, pos: int, fail):
    """An index or slice bound: a literal integer (or None for an omitted bound)."""
    if item is None:
        return None
    if not isinstance(item, int) or g.ops[item] != CONST or not float(g.params[item]).is_integer():
        raise fail("indices and axes must be integer literals, such as x[0], x[-1] or x[1:3]", pos)
    return int(g.params[item])


def call(g: Graph, name: str, args: tuple[int, ...], pos: int, fail, user_defs=None) -> int:
    op = FUNCTIONS.get(name)
    if op is None:
        raise fail(_unknown_function(name, user_defs or {}), pos)
    if name in AXIS_OPS and len(args) == 2:
        axis = integer(g, args[1], pos, fail)
        return g.add(op.name, args[:1], param=axis, pos=pos)
    if name in SHAPE_ARG_OPS:
        return _shape_call(g, name, args, pos, fail)
    if name == "onehot":
        if len(args) != 2:
            raise fail(f"onehot() is written onehot(y, C) with C a whole number, got {len(args)} "
                       f"argument{'s' if len(args) != 1 else ''}", pos)
        return g.add(name, args[:1], param=integer(g, args[1], pos, fail), pos=pos)
    if name in AXES_ARG_OPS and len(args) > 1:  # transpose(x, 1, 0, 2): the axes' new order
        if len(args) - 1 > MAX_RANK:
            raise fail(f"{name}() takes at most {MAX_RANK} axes, got {len(args) - 1}", pos)
        axes = tuple(integer(g, a, pos, fail) for a in args[1:])
        return g.add(op.name, args[:1], param=axes, pos=pos)
    if name in INT_ARG_OPS:
        return _int_arg_call(g, name, args, pos, fail)
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
    """reshape(x, d0, d1, …), eye(n), zeros(d0, …): the sizes are integer literals (the node's param)."""
    values = SHAPE_ARG_OPS[name]
    sizes = args[values:]
    if len(args) < values or not 1 <= len(sizes) <= (1 if name == "eye" else MAX_RANK):
        shown = {"reshape": "reshape(x, d0, d1, …) with 1 to 4 sizes",
                 "eye": "eye(n)"}.get(name, f"{name}(d0, d1, …) with 1 to 4 sizes")
        raise fail(f"{name}() is written {shown}, got {len(args)} argument{'s' if len(args) != 1 else ''}", pos)
    shape = tuple(integer(g, a, pos, fail) for a in sizes)
    if any(d < (-1 if name == "reshape" else 0) for d in shape):
        raise fail(f"{name}(): sizes must be non-negative integers" + (" (or -1)" if name == "reshape" else ""), pos)
    return g.add(name, args[:values], param=shape, pos=pos)


def _int_arg_call(g: Graph, name: str, args: tuple[int, ...], pos: int, fail) -> int:
    """conv2d(x, w[, stride[, pad]]), maxpool2d(x, k[, stride]): the trailing integer literals
    are the node's param, with their defaults filled in (`int_params`)."""
    values, names, required = INT_ARG_OPS[name]
    given = args[values:]
    if len(args) < values or not required <= len(given) <= len(names):
        arrays = ", ".join(("x", "w")[:values])
        optional = names[required:]
        shown = ", ".join([arrays, *names[:required]]) + "".join(f"[, {n}" for n in optional) + "]" * len(optional)
        raise fail(f"{name}() is written {name}({shown}), got {len(args)} argument{'s' if len(args) != 1 else ''}",
                   pos)
    ints = []
    for n, a in zip(names, given):
        node = g.nodes[a]
        if node.op != CONST or not float(node.param).is_integer():
            raise fail(f"{name}()'s {n} must be an integer literal, such as {name}(…, 2)", pos)
        least = 0 if n == "pad" else 1
        if int(node.param) < least:
            raise fail(f"{name}()'s {n} must be at least {least}, got {int(node.param)}", pos)
        ints.append(int(node.param))
    return g.add(name, args[:values], param=int_params(name, tuple(ints)), pos=pos)


#: names other tools use for our functions (checked case-insensitively, as ReLU is relu)
ALIASES = {"ln": "log", "arcsin": "asin", "arccos": "acos", "arctan": "atan", "expit": "sigmoid",
           "logistic": "sigmoid"}


def _unknown_function(name: str, user_defs: dict) -> str:
    import difflib  # only on this error path: start-up time matters

    names = [*FUNCTIONS, *prelude.NAMES, *user_defs]
    alias = ALIASES.get(name.lower()) or (name.lower() if name.lower() in names else None)
    close = [alias] if alias else difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else f" (functions: {', '.join(sorted(FUNCTIONS))})"
    return f"unknown function {name!r}{hint}"
