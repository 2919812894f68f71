"""One evaluation: program text + bindings -> graph, values, adjoints, gradient.

This is the pipeline every command shares (parse, lower, bind, forward, backward),
with the user-facing diagnostics that belong to it: missing and unused bindings,
points that sit on a kink, and derivatives that come out infinite.
"""

from __future__ import annotations

import math
import re
from typing import Any, Optional

from .bindings import Binding
from ..core.engine import Tape
from ..core.errors import ParseError, UsageError
from ..core.fmt import shorten
from ..core.graph import CONST, INPUT, Graph, Node
from ..language.lower import lower_source
from ..core.ops import AXIS_OPS, INT_ARG_OPS, OPS
from ..core.shapes import infer_shapes


class Kink:
    """A node evaluated exactly where its op is not differentiable."""

    __slots__ = ("node", "op", "args")

    def __init__(self, node: int, op: str, args: tuple[float, ...]) -> None:
        self.node = node
        self.op = op
        self.args = args


class Evaluation:
    """Everything one forward and backward pass produced, for rendering and checks."""

    def __init__(self, source: str, graph: Graph, tape: Tape, env: dict[str, Any],
                 bindings: dict[str, Binding], wrt: list[str]) -> None:
        self.source = source
        self.graph = graph
        self.tape = tape
        self.env = env
        self.bindings = bindings
        #: input names, in order of first use in the program
        self.inputs: list[str] = [graph.nodes[i].name or "" for i in graph.inputs]
        #: the inputs whose gradient is reported (all unless --wrt)
        self.wrt = wrt
        self.values: list[Any] = []
        self.adjoints: list[Any] = []
        self.warnings: list[str] = []
        self.kinks: list[Kink] = []
        #: "reverse", or "forward" (tangent passes, `run_forward`)
        self.mode = "reverse"
        #: forward mode: input name -> the tangent ∂node/∂input of every node
        #: (scalar inputs; an array input takes one pass per element)
        self.tangents: dict[str, list] = {}
        #: forward mode on scalars: the values, and node id -> its local partials ∂node/∂arg
        #: at them, as the tangent passes computed them (`Tape.jvp`), for the explanation to
        #: show (None otherwise; a copy with other values does not use them)
        self.partials: Optional[tuple[list, list]] = None
        #: forward mode: input name -> ∂output/∂input
        self.forward_gradient: dict[str, object] = {}
        #: forward mode: how many tangent passes ran
        self.passes = 0
        #: forward mode, --seed W[0,1]: the element of the seeded array input
        self.seed_index: Optional[tuple] = None
        #: reverse mode, --seed-output: the output's cotangent (the gradient is of ⟨seed, output⟩)
        self.seed_output: object = None
        #: inputs read as integers (indices, labels): name -> what they are; data, no gradient
        self.data: dict[str, str] = {}

    @property
    def output_name(self) -> str:
        return self.graph.output_name

    @property
    def value(self) -> float:
        return self.values[self.graph.output]

    @property
    def scalar_output(self) -> bool:
        return self.graph.nodes[self.graph.output].shape == ()

    @property
    def gradient(self) -> dict[str, Any]:
        """∂output/∂input for each reported input (empty for a non-scalar output
        without a seed: its derivative is a Jacobian)."""
        if self.mode == "forward":
            return {name: self.forward_gradient[name] for name in self.wrt if name in self.forward_gradient}
        if not self.adjoints:
            return {}
        names = self.graph.names
        return {name: self.adjoints[names[name]] for name in self.wrt}

    @property
    def has_gradient(self) -> bool:
        """A gradient was computed (reverse mode with a scalar output or a seed, or forward mode)."""
        return bool(self.adjoints) or self.mode == "forward"

    @property
    def operations(self) -> int:
        """Operations an input reaches: the work of one tangent or one backward pass."""
        return self.tape.reverse_length

    def input_id(self, name: str) -> int:
        return self.graph.names[name]


def prepare(source: str, bindings: dict[str, Binding], output: Optional[str] = None,
            wrt: Optional[list[str]] = None) -> Evaluation:
    """Parse, lower and bind, without evaluating: errors here are exit 2."""
    try:
        graph = lower_source(source, output)
    except ParseError as exc:
        _narrow_product_hint(exc, bindings)
        raise
    inputs = [graph.nodes[i].name or "" for i in graph.inputs]
    missing = [name for name in inputs if name not in bindings]
    if missing:
        example = " ".join(f"{name}=…" for name in missing[:4])
        raise UsageError(
            f"missing value{'s' if len(missing) > 1 else ''} for input{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (give {'them' if len(missing) > 1 else 'it'} as {example})"
            + _missing_hint(graph, missing)
        )
    if wrt:
        unknown = [name for name in wrt if name not in inputs]
        if unknown:
            raise UsageError(
                f"--wrt {','.join(unknown)}: not an input of the program (inputs: {', '.join(inputs) or 'none'})"
            )
        chosen = list(dict.fromkeys(wrt))  # the order the user asked for
    else:
        chosen = list(inputs)
    env: dict[str, Any] = {name: bindings[name].value for name in inputs}
    if not _all_scalar(graph, env):
        infer_shapes(graph, env)
    data = _integer_data(graph, env)
    if data:
        asked = [name for name in (wrt or ()) if name in data]
        if asked:
            raise UsageError(f"--wrt {asked[0]}: {asked[0]} is data ({data[asked[0]]}): it has no gradient")
        chosen = [name for name in chosen if name not in data]
    ev = Evaluation(source, graph, Tape(graph), env, bindings, chosen)  # type: ignore[arg-type]
    ev.data = data
    names, input_names = graph.names, set(inputs)
    unused = []
    for name, b in bindings.items():
        if name in names and name not in input_names:  # assigned by the program (no set of every name)
            ev.warnings.append(f"{name} is computed by the program; the value {name}={shorten(b.text, 40)} is ignored")
        elif name not in env:
            unused.append(name)
    if len(unused) <= 3:
        for name in unused:
            ev.warnings.append(f"{name}={shorten(bindings[name].text, 40)} is not used by the program (a typo?)")
    else:  # one line, not thousands
        shown = ", ".join(unused[:5]) + (", …" if len(unused) > 5 else "")
        ev.warnings.append(f"{len(unused)} values are not used by the program: {shown}")
    return ev


def _all_scalar(graph: Graph, env: dict) -> bool:
    """Every input a scalar, every op elementwise by broadcasting (no shape rule) and every
    node's shape still (): then `infer_shapes` would set () everywhere, which is already there."""
    if any(graph.shapes) or any(getattr(value, "shape", ()) for value in env.values()):
        return False
    return all(op in (INPUT, CONST) or OPS[op].shape is None for op in graph.op_names())


def _integer_data(graph, env: dict) -> dict[str, str]:
    """{input name: what it is} for the inputs read as integers (indices, labels): data, with no
    gradient.  A value that is not a whole number, or out of range, is a UsageError naming it."""
    from ..core.ops import INTEGER_ARGS, integer_inputs

    if INTEGER_ARGS.keys().isdisjoint(graph.op_names()):  # no op reads an integer argument
        return {}
    ids = integer_inputs(graph)
    if not ids:
        return {}
    import numpy as np

    found: dict[str, str] = {}
    nodes = graph.nodes
    for node in nodes:
        for k in INTEGER_ARGS.get(node.op, ()):
            a = node.args[k]
            if a not in ids:
                continue
            name = nodes[a].name or ""
            inside = graph.calls[graph.call_path(node.call)[0]][0].split("#")[0] if node.call >= 0 else ""
            first = "S" if inside else graph.label(node.args[0])  # a prelude's steps have no names of the user's
            if node.op == "gather":
                what, top = f"integer indices of {'x' if inside else first}[{name}]", nodes[node.args[0]].shape[0]
            elif node.op == "pick":
                what, top = f"integer labels of pick({first}, {name})", nodes[node.args[0]].shape[1]
            else:
                what, top = f"integer labels of onehot({name}, {node.param})", node.param
            if inside:
                what += f" inside {inside}()"
            values = np.asarray(env[name], dtype=float)
            whole = np.isfinite(values) & (values == np.round(values))
            if not whole.all():
                bad = values[~whole].ravel()[0]
                raise UsageError(f"{name} holds {bad:g}, but {name} is used as {what}: it needs whole numbers")
            if values.size and (values.min() < 0 or values.max() >= top):
                bad = values.min() if values.min() < 0 else values.max()
                raise UsageError(f"{name} holds {bad:g}, but {name} is used as {what}, which must be in 0…{top - 1}")
            found.setdefault(name, what)
    return found


def _narrow_product_hint(exc: ParseError, bindings: dict[str, Binding]) -> None:
    """``W x`` or ``w·x``: now that the values are known, say * or @ / dot, not both."""
    from ..language.lexer import PRODUCT_HINT

    if PRODUCT_HINT not in exc.message:
        return
    before = re.search(r"([^\W\d]\w*)\s*[·×]?\s*$", exc.source[:exc.pos])
    after = re.match(r"[·×\s]*([^\W\d]\w*)", exc.source[exc.pos:])
    names = [m.group(1) for m in (before, after) if m is not None]
    shapes = [getattr(bindings[n].value, "shape", ()) if n in bindings else None for n in names]
    if any(shapes):
        hint = "write @ or dot(u, v) for a matrix or vector product; * multiplies elementwise"
    elif names and all(shape == () for shape in shapes):
        hint = "write * for multiplication"
    else:
        return
    exc.message = exc.message.replace(PRODUCT_HINT, hint)
    exc.args = (exc.message,)


def _missing_hint(graph, missing: list[str]) -> str:
    """``w^T`` (a transpose written as a power) and ``e^x`` (Euler's number) read as inputs."""
    for node in graph.nodes:
        if node.op != "pow":
            continue
        base, exponent = (graph.nodes[a] for a in node.args)
        if exponent.op == INPUT and exponent.name == "T" and "T" in missing:
            return f"; for the transpose write {graph.label(base.id)}.T, not {graph.label(base.id)}^T"
        if base.op == INPUT and base.name == "e" and "e" in missing:
            power = graph.label(exponent.id) if exponent.op in (INPUT, CONST) else graph.definition(exponent.id)
            return f"; for Euler's number write exp({power}), not e^…"
    return ""


def run(ev: Evaluation, seed: object = None) -> Evaluation:
    """Forward and backward pass; math errors (exit 3) surface here.

    A non-scalar output is only differentiated with a `seed` (its cotangent: a
    vector-Jacobian product); otherwise the gradient is left empty.
    """
    ev.values = ev.tape.forward(ev.env)
    out_shape = ev.graph.nodes[ev.graph.output].shape
    if seed is not None:
        seed = ev.seed_output = _seed_value(seed, out_shape)
        ev.adjoints = ev.tape.backward(ev.values, seed)
    elif out_shape == ():
        ev.adjoints = ev.tape.backward(ev.values)
    ev.kinks = find_kinks(ev.graph, ev.values, ev.tape.live)
    for k in ev.kinks:
        ev.warnings.append(kink_message(ev.graph, ev.values, k))
    bad = [name for name, g in ev.gradient.items() if not all_finite(g)]
    if bad:
        ev.warnings.append(_non_finite_message(ev, bad))
    return ev


def evaluate(source: str, bindings: dict[str, Binding], output: Optional[str] = None,
             wrt: Optional[list[str]] = None) -> Evaluation:
    return run(prepare(source, bindings, output, wrt))


def run_forward(ev: Evaluation, seed: Optional[str] = None) -> Evaluation:
    """Forward mode: one tangent pass per input (or just the `seed` input).

    Pass ``k`` starts with tangent 1 at input ``k`` and 0 elsewhere and carries
    ∂node/∂input forward through every node, as the lecture's "start with 1 at b".
    """
    if ev.graph.nodes[ev.graph.output].shape != ():
        raise UsageError("forward mode in eval needs a scalar output; use 'gradcli jacobian --mode forward'")
    if seed is not None:
        seed, ev.seed_index = parse_seed(ev, seed)
    ev.values = ev.tape.forward(ev.env)
    ev.mode = "forward"
    names = [seed] if seed is not None else list(ev.wrt)
    out = ev.graph.output
    for name in names:
        value = ev.env[name]
        if getattr(value, "shape", ()):
            import numpy as np

            from ..backends.dual import tangent
            from ..core.elements import elements

            grad = np.zeros(value.shape)
            for _, index in elements(name, value):
                grad[index] = float(tangent(tangent_pass(ev, name, index)[out]))
                ev.passes += 1
            ev.forward_gradient[name] = grad
            continue
        if ev.tape.scalar:
            if ev.partials is None or ev.partials[0] is not ev.values:
                ev.partials = (ev.values, [None] * len(ev.values))
            ev.tangents[name] = ev.tape.jvp(ev.values, {ev.graph.names[name]: 1.0}, ev.partials[1])
        else:
            from ..backends.dual import tangent

            ev.tangents[name] = [tangent(v) for v in tangent_pass(ev, name, None)]
        ev.forward_gradient[name] = float(ev.tangents[name][out])
        ev.passes += 1
    ev.kinks = find_kinks(ev.graph, ev.values, ev.tape.live)
    for k in ev.kinks:
        ev.warnings.append(kink_message(ev.graph, ev.values, k))
    bad = [name for name, g in ev.gradient.items() if not all_finite(g)]
    if bad:  # as reverse mode says it (`run`)
        ev.warnings.append(_non_finite_message(ev, bad))
    return ev


_SEED = re.compile(r"\s*([^\W\d][\w.#]*)\s*(?:\[([^\]]*)\]\s*)?")


def parse_seed(ev: Evaluation, text: str) -> tuple[str, Optional[tuple]]:
    """``--seed W`` or ``--seed 'W[0,1]'``: the input, and the element (None for all of it).

    An array input's gradient takes one tangent pass per element either way; the element
    picks the pass ``--steps`` writes out.
    """
    m = _SEED.fullmatch(text)
    if m is None:
        raise UsageError(f"--seed {text}: write an input's name, or one element of it such as W[0,1]")
    name, inside = m.group(1), m.group(2)
    if name not in ev.inputs:
        raise UsageError(f"--seed {name}: not an input of the program (inputs: {', '.join(ev.inputs)})")
    if name in ev.data:
        raise UsageError(f"--seed {name}: {name} is data ({ev.data[name]}): it has no tangent")
    if inside is None:
        return name, None
    shape = tuple(getattr(ev.env[name], "shape", ()))
    if not shape:
        raise UsageError(f"--seed {text}: {name} is a scalar; write --seed {name}")
    try:
        index = tuple(int(part) for part in inside.split(","))
    except ValueError:
        example = ",".join("0" for _ in shape)
        raise UsageError(f"--seed {text}: write whole-number indices, e.g. {name}[{example}]") from None
    if len(index) != len(shape):
        example = ",".join("0" for _ in shape)
        raise UsageError(f"--seed {text}: {name} has shape {'×'.join(map(str, shape))}, so give "
                         f"{len(shape)} ind{'ex' if len(shape) == 1 else 'ices'}, e.g. {name}[{example}]")
    for i, d in zip(index, shape):
        if not 0 <= i < d:
            raise UsageError(f"--seed {text}: index {i} is out of range for {name} of shape "
                             f"{'×'.join(map(str, shape))} (indices count from 0)")
    return name, index


def all_finite(x: Any) -> bool:
    if isinstance(x, float):
        return math.isfinite(x)
    import numpy as np

    return bool(np.all(np.isfinite(x)))


def _seed_value(seed: object, shape: tuple) -> object:
    import numpy as np

    from ..core.shapes import shape_of

    if shape_of(seed) != shape:
        if shape_of(seed) == () and shape != ():
            raise UsageError(f"--seed-output must have the output's shape {shape}, got a scalar")
        raise UsageError(f"--seed-output has shape {shape_of(seed)}, the output has shape {shape}")
    return seed if shape == () else np.asarray(seed, dtype=float)


def find_kinks(graph: Graph, values: list, live: list[bool]) -> list[Kink]:
    """Live nodes whose arguments sit on their op's kink (relu at 0, a tie in max)."""
    found: list[Kink] = []
    ops = graph.ops
    kinked = {op for op in graph.op_names() if op not in (INPUT, CONST) and OPS[op].kink is not None}
    if not kinked:  # no op of the program has a kink (+ - * tanh exp ...): nothing to scan
        return found
    for i, op in enumerate(ops):
        if op not in kinked or not live[i]:
            continue
        args = tuple(values[a] for a in graph.args(i))
        param = graph.params[i]
        # along an axis (amax(x, 1), std(x, 0)) the kink is per slice; maxpool2d's reads (k, stride)
        takes_param = param is not None and (op in AXIS_OPS or op in INT_ARG_OPS)
        hit = OPS[op].kink(*args, param) if takes_param else OPS[op].kink(*args)  # type: ignore[misc]
        if hit is True or (hit is not False and bool(getattr(hit, "any", lambda: hit)())):  # noqa: B023 - called at once
            found.append(Kink(i, op, args))
    return found


def kink_message(graph: Graph, values: list, k: Kink) -> str:
    from ..core.fmt import number

    node = graph.nodes[k.node]
    if node.op == "maxpool2d":
        shown = _window_ties(graph.label(node.args[0]), values[node.args[0]], node.param)
    else:
        shown = ", ".join(
            f"{graph.label(a)} = {number(values[a])}" for a in node.args if graph.nodes[a].op != CONST
        )
    return (
        f"node {graph.label(k.node)} = {graph.definition(k.node)} is not differentiable here "
        f"({shown}); {OPS[k.op].convention or 'its derivative is a convention'}"
    )


def _window_ties(label: str, x, param: tuple) -> str:
    """``2 windows of a have a tied maximum, the first a[0, 1, 0:2, 2:4] (twice 0)``."""
    import numpy as np

    from ..core.fmt import number, plural
    from ..core.rules import _windows_of

    k, stride = param
    x4 = np.asarray(x, dtype=float)
    x4 = x4 if x4.ndim == 4 else x4[None]
    win = _windows_of(x4, k, stride)
    top = win.max(axis=-1, keepdims=True)
    counts = (win == top).sum(axis=-1)
    tied = np.argwhere(counts > 1)
    n, c, i, j = (int(v) for v in tied[0])
    where = f"{n}, {c}, " if np.ndim(x) == 4 else f"{c}, "
    where += f"{i * stride}:{i * stride + k}, {j * stride}:{j * stride + k}"
    return (f"{plural(len(tied), 'window')} of {label} {'has' if len(tied) == 1 else 'have'} a tied maximum, "
            f"the first {label}[{where}] ({counts[n, c, i, j]} times {number(float(top[n, c, i, j, 0]))})")


def _non_finite_message(ev: Evaluation, names: list[str]) -> str:
    """Say which node's derivative made the gradient infinite or undefined."""
    from ..core.fmt import number

    graph, values = ev.graph, ev.values
    source = _non_finite_source(ev, names[0])
    grads = ", ".join(f"∂{ev.output_name}/∂{n} = {number(ev.gradient[n])}" for n in names)
    if source is None:
        return f"{grads}: the gradient is not finite"
    shown = ", ".join(
        f"{graph.label(a)} = {number(values[a])}" for a in source.args if graph.nodes[a].op != CONST
    )
    return (
        f"{grads}: the derivative of {source.op} at node {graph.label(source.id)} = "
        f"{graph.definition(source.id)} is not finite ({shown})"
    )


def _non_finite_source(ev: Evaluation, name: str) -> Optional[Node]:
    """The node whose derivative made the gradient (∂output/∂`name`) infinite or undefined:
    in reverse mode the last node whose adjoint is finite while a live argument's is not;
    in forward mode the first whose tangent is not finite while its arguments' are (None
    where the passes kept no tangents: an array input's, one pass per element)."""
    graph = ev.graph
    if ev.mode == "forward":
        tangents = ev.tangents.get(name)
        if tangents is None:
            return None
        finite = [all_finite(t) for t in tangents]
        return next((node for node in graph.nodes
                     if node.args and not finite[node.id] and all(finite[a] for a in node.args)), None)
    adj_finite = [all_finite(a) for a in ev.adjoints]
    return next((node for node in reversed(graph.nodes) if node.args and adj_finite[node.id] and any(
        ev.tape.live[a] and not adj_finite[a] for a in node.args)), None)


def dual_inputs(ev: Evaluation, seeded: str, index) -> dict:
    """Inputs as dual numbers, with tangent 1 at element `index` of `seeded`."""
    import numpy as np

    from ..backends.dual import Dual

    env = {}
    for name in ev.inputs:
        v = ev.env[name]
        if getattr(v, "shape", ()):
            t = np.zeros(v.shape)
            if name == seeded:
                t[index] = 1.0
            env[name] = Dual(np.array(v, dtype=float), t)
        else:
            env[name] = Dual(np.float64(v), 1.0 if name == seeded else 0.0)
    return env


def tangent_pass(ev: Evaluation, seeded: str, index) -> list:
    """One tangent pass: every node's value and tangent."""
    import numpy as np

    from ..backends.dual import DUAL

    with np.errstate(all="ignore"):
        return ev.tape.forward(dual_inputs(ev, seeded, index), backend=DUAL)
