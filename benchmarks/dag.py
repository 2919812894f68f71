"""Random scalar DAG programs for the benchmarks, and the same DAG on other engines.

`random_program(n)` writes a gradcli program of about `n` graph nodes as named
statements (``v12 = tanh(v3 + v7)``).  Every statement's first operand is taken from
a small pool of not-yet-used results (so every statement is live: nothing is pruned)
and its second from any earlier result (shared subexpressions, fan-out).  Every
template maps values in [-1, 1] into [-1, 1], so values stay finite at any size; the
last statement is the sum of the pool.

`compile_for(graph, lib)` replays a lowered gradcli `Graph` on micrograd or PyTorch
scalars, so the comparison runs the very same DAG.
"""

from __future__ import annotations

import math
import random

#: (template, graph nodes it adds, besides shared constants)
TEMPLATES = [
    ("tanh({a} + {b})", 2),
    ("sigmoid({a} - {b})", 2),
    ("{a} * {b}", 1),
    ("sin({a}) * {b}", 2),
    ("exp({a} - 1) * {b}", 3),
    ("0.5 * ({a} + {b})", 2),
    ("tanh({a})", 1),
    ("sigmoid({a}) * {b}", 2),
]

N_INPUTS = 16


def random_program(n_nodes: int, seed: int = 1, n_inputs: int = N_INPUTS) -> tuple[str, dict[str, float]]:
    """A program of about `n_nodes` graph nodes, and input values in [-1, 1]."""
    rng = random.Random(seed)
    names = [f"x{k}" for k in range(n_inputs)]
    env = {name: rng.uniform(-1.0, 1.0) for name in names}
    pool = list(names)  # results nobody has read yet
    earlier = list(names)
    lines = []
    count = n_inputs + 2  # inputs, the constants 0.5 and 1
    k = 0
    budget = n_nodes - n_inputs  # the final sum takes n_inputs - 1 nodes
    while count < budget:
        template, cost = TEMPLATES[rng.randrange(len(TEMPLATES))]
        a = pool.pop(rng.randrange(len(pool)))
        b = earlier[rng.randrange(len(earlier))]
        name = f"v{k}"
        k += 1
        lines.append(f"{name} = {template.format(a=a, b=b)}")
        pool.append(name)
        earlier.append(name)
        count += cost
    lines.append("out = " + " + ".join(pool))
    return "\n".join(lines) + "\n", env


def depth(graph) -> int:
    """Longest path (in edges) from an input to the output."""
    d = [0] * len(graph.nodes)
    for node in graph.nodes:
        if node.args:
            d[node.id] = 1 + max(d[a] for a in node.args)
    return d[graph.output]


# ---- the same DAG on other engines -------------------------------------------------

def micrograd_ops():
    """Forward functions on micrograd Values; micrograd has only + * ** relu, so the
    other functions are written in micrograd's own style (a closure per node)."""
    from micrograd.engine import Value

    def unary(f, df):
        def op(x):
            xv = x.data
            out = Value(f(xv), (x,), f.__name__)

            def _backward():
                x.grad += df(xv, out.data) * out.grad

            out._backward = _backward
            return out
        return op

    def sigmoid(x):
        return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))

    return {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "neg": lambda a: -a,
        "tanh": unary(math.tanh, lambda x, o: 1.0 - o * o),
        "sigmoid": unary(sigmoid, lambda x, o: o * (1.0 - o)),
        "sin": unary(math.sin, lambda x, o: math.cos(x)),
        "exp": unary(math.exp, lambda x, o: o),
    }, (lambda x, leaf: Value(x))


def torch_ops():
    import torch

    return {
        "add": torch.add,
        "sub": torch.sub,
        "mul": torch.mul,
        "neg": torch.neg,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "sin": torch.sin,
        "exp": torch.exp,
    }, (lambda x, leaf: torch.tensor(x, dtype=torch.float64, requires_grad=leaf))


def compile_for(graph, ops: dict) -> list[tuple]:
    """Flat instructions (i, f, args) for the graph's computed nodes."""
    code = []
    for node in graph.nodes:
        if node.op in ("input", "const"):
            continue
        code.append((node.id, ops[node.op], node.args))
    return code


def run_forward(graph, code, make, env: dict[str, float]):
    """Build the DAG of Values/tensors (`make(x, leaf)` makes one); returns (values, leaves by name)."""
    values: list = [None] * len(graph.nodes)
    leaves = {}
    for node in graph.nodes:
        if node.op == "input":
            values[node.id] = leaves[node.name] = make(env[node.name], True)
        elif node.op == "const":
            values[node.id] = make(node.param, False)
    for i, f, args in code:
        if len(args) == 2:
            values[i] = f(values[args[0]], values[args[1]])
        else:
            values[i] = f(values[args[0]])
    return values, leaves
