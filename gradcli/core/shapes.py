"""Shape inference: every node's shape from the input shapes, before any arithmetic.

Runs once per evaluation, in evaluation order.  Elementwise ops broadcast like
NumPy; tensor ops use their row's ``shape`` rule.  A mismatch is a `ShapeError`
(exit 2) that names the node, its operation and the shapes involved:
``node z = W @ x (matmul): (3, 2) @ (3,): inner dimensions 2 and 3 differ``.
"""

from __future__ import annotations

from .errors import ShapeError
from .graph import CONST, INPUT, Graph
from .ops import OPS, broadcast_shapes

#: the most elements of any array, an input or one the program makes (``ones(10000, 10000)``,
#: ``outer(u, u)``): 50,000,000 float64s are 400 MB, the tensor kernels' own limit
#: (`gradcli.backends.tensor_kernels.MAX_KERNEL_ELEMENTS`; README, "Files and limits")
MAX_ELEMENTS = 50_000_000


def shape_of(value: object) -> tuple:
    return tuple(getattr(value, "shape", ()))


def infer_shapes(graph: Graph, env: dict) -> None:
    """Set ``node.shape`` for every node of `graph`, given input values by name."""
    ops, params, names, out = graph.ops, graph.params, graph.names_of, graph.shapes
    all_args = graph.all_args()
    for i, name in enumerate(ops):
        if name == INPUT:
            out[i] = shape_of(env[names[i]])
            continue
        if name == CONST:
            out[i] = ()
            continue
        op = OPS[name]
        args = all_args[i]
        shapes = [out[a] for a in args]
        if op.shape is None and not any(shapes):
            out[i] = ()  # scalars in, a scalar out: the common case
            continue
        try:
            if op.shape is not None:
                out[i] = tuple(op.shape(shapes, params[i]))
            else:
                out[i] = broadcast_shapes(shapes)
        except ValueError as exc:
            shown = ", ".join(f"{graph.label(a)}: {out[a]}" for a in args)
            raise ShapeError(
                f"node {graph.label(i)} = {graph.definition(i)} ({name}): {exc} [{shown}]"
            ) from None
        _refuse_too_large(graph, i, out[i])


def _refuse_too_large(graph: Graph, i: int, shape: tuple) -> None:
    """A ShapeError, before any arithmetic, for a node of more than MAX_ELEMENTS elements."""
    size = 1
    for n in shape:
        size *= n
    if size > MAX_ELEMENTS:
        raise ShapeError(f"node {graph.label(i)} = {graph.definition(i)} ({graph.nodes[i].op}) would have "
                         f"{size:,} elements ({'x'.join(map(str, shape))}); gradcli's arrays have at most "
                         f"{MAX_ELEMENTS:,}")
