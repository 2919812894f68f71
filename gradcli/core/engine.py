"""Forward evaluation and reverse-mode backpropagation over a `Graph`.

`Tape` compiles a graph once into flat per-node instructions (each node's forward
function and the partials of the arguments an input reaches).  Then

* `Tape.forward` is a loop in evaluation order filling ``values[i]``;
* `Tape.backward` is the reverse walk: it seeds ``adjoint[output]`` and, for each
  node from last to first, adds ``adjoint[node] · ∂node/∂arg`` to each argument's
  adjoint (``+=``, so fan-out sums) -- exactly the sweep of the lecture notes.

Neither walk recurses, so a chain 10^6 deep is as easy as a wide sum.

Two paths share that structure.  A graph of scalars runs on Python floats with the C
functions of `math` (the fast path, no NumPy import).  A graph with vectors or
matrices runs node by node on the cheapest backend that fits: scalar nodes still
on floats, the rest on NumPy (`gradcli.backends.arrays`), where elementwise partials are
summed back over broadcast axes and structural ops use their VJP rows.  Both accept
a *backend override* (`gradcli.backends.dual.DUAL`) that carries tangents through the very
same walks: forward mode, and forward-over-reverse for Hessians.

Both walks have a few hand-written kernels where the benchmarks showed the rows'
generality costing time (`benchmarks/engine.py`, `benchmarks/mlp.py`): the float walk
writes the partials of its commonest ops inline, and the array walk makes fewer new
arrays (two partials in one array each, products and sums in place in arrays it owns).
Each gives the rows' own numbers to the bit (tests/test_engine_fast.py).

Domain errors (``log(-1)``) and overflow surface as `MathError` naming the node, its
operation and its input values.  An *infinite derivative* (sqrt at 0) is not an
error: the partial is recomputed with IEEE semantics and the gradient reports inf.
"""

from __future__ import annotations

import math
from array import array
from typing import Any, Optional, Sequence

import operator
from bisect import bisect
from itertools import compress, count as _count, repeat
from operator import itemgetter

from ..backends.floats import IEEE, SCALAR, ieee
from .errors import MathError
from .graph import CONST, INPUT, Graph, Kept, positions
from .ops import INTEGER_ARGS, OPS, integer_inputs

_isfinite = math.isfinite
#: an op name -> is it a computed node (with a default of True: not an input or a constant)
_COMPUTED = {INPUT: False, CONST: False}
_float_function = itemgetter(1)  # a compile row -> its float function
#: the adjoint of a node nothing has flowed into yet (identity-compared, never mutated)
_UNTOUCHED = 0.0
_MATH_ERRORS = (ValueError, ZeroDivisionError, OverflowError, ArithmeticError)
#: graphs of this many nodes or more are compiled compactly (`Tape.compact`)
COMPACT_FROM = 1 << 17


class Tape:
    """A graph compiled for evaluation; node shapes must be set (`gradcli.core.shapes`)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        ops, params = graph.ops, graph.params
        self.n = len(ops)
        kept = graph.kept_for_compiling()
        node_ids: Sequence[int] = range(self.n)  # with `kept`: the builder's tuples hold its own ints already
        if kept is None:
            node_ids = list(node_ids)  # one int object per node, shared by every instruction
            for i in graph.names.values():  # the ints the graph's name table holds already (a chain's every step)
                node_ids[i] = i
        all_args = graph.all_args(node_ids)
        #: a long program's compiled forms are compact (bytes, C doubles): each read then makes
        #: an int or a float, which costs more time than memory below this size (benchmarks/engine.py)
        self.compact = compact = self.n >= COMPACT_FROM
        #: for each node: does an input reach it (True or 1) or not (False or 0)?
        self.live: Any = graph.depends_on_input(all_args, compact)
        if not INTEGER_ARGS.keys().isdisjoint(graph.op_names()):
            self.live = _differentiable(graph)
            kept = None  # its half-reached nodes are by input reach, which this is not
        #: the graph's own list when no node has a shape yet (a scalar program: 8 bytes a node saved)
        self.shapes = graph.shapes if not any(graph.shapes) else list(graph.shapes)
        #: True when every node is a scalar and every op elementwise: the fast float-only path
        self.scalar = not any(self.shapes) and all(
            op in (INPUT, CONST) or OPS[op].elementwise for op in graph.op_names()
        )
        self.array = None if self.scalar else _array_backend()
        #: forward instructions for computed nodes, as three lists (node ids, functions,
        #: argument ids) rather than a tuple each: `code` zips them into (i, f, args)
        self._ids: Any = []
        self._fns: list = []
        self._args: list[tuple[int, ...]] = []
        #: backward instructions (i, kind, args, partials) for nodes an input reaches:
        #: kind is the arity of an elementwise op, 0 for a variadic one (partials is
        #: then one function), -1 for a structural op (partials are its VJPs).  Kept as
        #: four lists in evaluation order, walked backwards (`reverse_code` makes the
        #: tuples on demand): a tuple per node would be 80 bytes, the lists are 32, and 16
        #: when every computed node is live (the ids and arguments are then the forward ones)
        self._rev_ids: list[int] = []
        self._rev_kinds: Any = array("b") if compact else []  # -1 to 3: a byte each
        self._rev_args: list[tuple[int, ...]] = []
        self._rev_parts: list = []
        #: the tuples, once asked for or set (`gradcli.teach.mistakes` reruns a copy with
        #: some partials swapped); the walks then follow them
        self._reverse_code: Optional[list[tuple]] = None
        live = self.live
        ids: Any = self._ids
        fns, code_args = self._fns, self._args
        rev_ids, rev_kinds, rev_args, rev_parts = self._rev_ids, self._rev_kinds, self._rev_args, self._rev_parts
        scalar = self.scalar
        #: op name -> (its row, its float function or None, elementwise and not variadic): looked up
        #: once per op, not once per node
        rows: dict[str, tuple] = {}

        def append_reverse(entry: tuple) -> None:
            rev_ids.append(entry[0])
            rev_kinds.append(entry[1])
            rev_args.append(entry[2])
            rev_parts.append(entry[3])

        # the forward lists are picked out in C: the computed nodes (not inputs or constants)
        computed = bytearray(map(_COMPUTED.get, ops, repeat(True)))
        ids.extend(compress(node_ids, computed))
        del node_ids  # the ids' ints live on in `ids` and the argument tuples (a long program's list is large)
        if compact and ids and ids[-1] - ids[0] + 1 == len(ids):
            # the computed nodes are one run (a chain of statements): a range, not 8 bytes a node
            ids = self._ids = range(ids[0], ids[-1] + 1)
        code_args.extend(compress(all_args, computed))
        computed_ops = list(compress(ops, computed))
        for name in set(computed_ops):
            op = OPS[name]
            rows[name] = (op, getattr(SCALAR, name) if scalar else None, op.elementwise and not op.variadic, op.partials)
        fns.extend(map(_float_function, map(rows.__getitem__, computed_ops)) if scalar else
                   map(self._forward_function, ids))
        bulk = scalar and self._reverse_in_bulk(rows, computed, computed_ops, ids, code_args, kept)
        del computed
        for i, name, args in zip(() if bulk else ids, computed_ops, code_args):
            if not live[i]:
                continue
            op, _, plain, partials = rows[name]
            if plain:
                n = len(args)
                if n == 1 or (n == 2 and live[args[0]] and live[args[1]]):
                    rev_ids.append(i)  # `append_reverse` written out: the commonest case
                    rev_kinds.append(n)
                    rev_args.append(args)
                    rev_parts.append(partials)  # the row's own tuple, known by identity
                else:
                    append_reverse((i, n, args, _half(partials, live[args[0]]) if n == 2 else
                                    tuple(p if live[a] else None for p, a in zip(partials, args))))
            elif not op.elementwise:
                vjps = op.vjp if op.variadic else tuple(
                    v if live[a] else None for v, a in zip(op.vjp, args)  # type: ignore[arg-type]
                )
                append_reverse((i, -1, args, vjps))
            else:  # elementwise and variadic
                append_reverse((i, 0, args, op.partials))
        del computed_ops
        graph.kept = kept = None  # compiled: its lists are ours now, or dropped
        if scalar:
            del all_args  # the computed nodes' tuples are in `code_args`; only the array walk reads the rest
        if len(rev_ids) == len(ids):  # every computed node is live: share the forward lists
            self._rev_ids, self._rev_args = ids, code_args
        #: partials for the array walk that replace a row's by the same numbers made with
        #: fewer new arrays (`_square_partial`, `_sigmoid_partial`); each returns a new
        #: array, which the walk then multiplies by the cotangent in place
        self.array_partials: dict[int, tuple] = {}
        self._kernel_for: dict[int, tuple] = {}
        if not self.scalar:
            for i, name in enumerate(ops):
                if name in (INPUT, CONST) or not live[i] or self._on_floats(i):
                    continue
                if name == "sigmoid":
                    self.array_partials[i] = _SIGMOID_PARTIALS
                elif name == "pow":
                    e = all_args[i][1]
                    if not live[e] and ops[e] == CONST and params[e] == 2.0:
                        self.array_partials[i] = _SQUARE_PARTIALS
            #: each kernel stands for the partials its instruction had here, and only for them
            #: (gradcli.teach.mistakes reruns a copy of the tape with some partials swapped)
            self._kernel_for = {i: parts for i, _, _, parts in self._reverse() if i in self.array_partials}

    def _reverse_in_bulk(self, rows: dict, computed: bytearray, computed_ops: list[str], ids: Any,
                         code_args: list[tuple[int, ...]], kept: Optional[Kept]) -> bool:
        """The backward lists of a scalar graph made in C, not node by node, where they are the
        forward lists with each node's arity and its row's partials: every computed node live,
        of an elementwise op that is not variadic, with one or two arguments.  A binary node
        with a constant argument (no input reaches it) has None for that partial, as in the
        loop.  False (nothing made) for any other graph."""
        live = self.live
        if not all(row[2] for row in rows.values()) or not all(compress(live, computed)):
            return False
        kinds = list(map(len, code_args))
        if not {1, 2}.issuperset(kinds):
            return False
        partials_of = {name: row[3] for name, row in rows.items()}  # (rows read OPS now: `register` adds to it)
        parts = list(map(partials_of.__getitem__, computed_ops))
        # the binary nodes with a dead argument (their two arguments' reach differ), by index in `ids`
        if kept is not None:  # the builder listed them: a node's index is its id less the leaves before it
            leaves = list(compress(_count(), map(operator.not_, computed)))
            half: Any = [i - bisect(leaves, i) for i in kept.half_reached]
        else:
            reach = live.__getitem__
            half = compress(_count(), map(_ne, map(reach, map(_first, code_args)), map(reach, map(_last, code_args))))
        for k in half:
            parts[k] = _half(parts[k], live[code_args[k][0]])
        self._rev_ids, self._rev_args, self._rev_parts = ids, code_args, parts
        self._rev_kinds = array("b", kinds) if self.compact else kinds
        return True

    @property
    def reverse_code(self) -> list[tuple]:
        """The backward instructions ``(i, kind, args, partials)``, last node first."""
        if self._reverse_code is None:
            self._reverse_code = list(self._reverse())
        return self._reverse_code

    @reverse_code.setter
    def reverse_code(self, code: list[tuple]) -> None:
        self._reverse_code = code

    @property
    def reverse_length(self) -> int:
        """How many backward instructions there are (without making them)."""
        return len(self._rev_kinds) if self._reverse_code is None else len(self._reverse_code)

    def _reverse(self):
        """The backward instructions, last node first (an iterator: ask again to walk again)."""
        if self._reverse_code is not None:
            return iter(self._reverse_code)
        return zip(reversed(self._rev_ids), reversed(self._rev_kinds), reversed(self._rev_args),
                   reversed(self._rev_parts))

    def _forward_order(self):
        """The backward instructions, first node first (the tangent walk's order)."""
        if self._reverse_code is not None:
            return reversed(self._reverse_code)
        return zip(self._rev_ids, self._rev_kinds, self._rev_args, self._rev_parts)

    @property
    def code(self):
        """The forward instructions ``(i, f, args)`` in evaluation order (an iterator)."""
        return zip(self._ids, self._fns, self._args)

    def _forward_function(self, i: int):
        graph = self.graph
        name = graph.ops[i]
        if self._on_floats(i):
            return getattr(SCALAR, name)
        f = getattr(self.array, name)
        param = graph.params[i]
        if param is not None:
            f = _with_param(f, param)
        if graph.shapes[i] == ():
            return _as_float(f)
        return f

    def _on_floats(self, i) -> bool:
        """Is node `i` (an id or a `Node`) computed on Python floats (scalar elementwise)?"""
        if self.scalar:
            return True
        if not isinstance(i, int):
            i = i.id
        shapes = self.shapes
        return OPS[self.graph.ops[i]].elementwise and shapes[i] == () and all(
            shapes[a] == () for a in self.graph.args(i)
        )

    def _leaf_values(self, env: dict) -> list:
        """A values list with the inputs (from `env`, by name) and the constants filled in."""
        graph = self.graph
        values: list = [None] * self.n
        params, names = graph.params, graph.names_of
        for i in graph.inputs:
            values[i] = env[names[i]]
        for i in self._constants():
            values[i] = params[i]
        return values

    def _constants(self) -> list[int]:
        """The constant nodes' ids (found by `list.index`: a scan in C, and a program has few)."""
        return positions(self.graph.ops, CONST)

    def _float_leaf_values(self, env: dict) -> Any:
        """`_leaf_values` of a scalar graph as an array of C doubles (8 bytes a node, not a
        float object and a pointer: 32), or that list when an input is not a float."""
        if not all(v.__class__ is float for v in env.values()):
            return self._leaf_values(env)
        graph = self.graph
        values = array("d", bytes(8 * self.n))
        params, names = graph.params, graph.names_of
        for i in graph.inputs:
            values[i] = env[names[i]]
        for i in self._constants():
            param = params[i]
            if param.__class__ is not float:
                return self._leaf_values(env)
            values[i] = param
        return values

    # ---- forward --------------------------------------------------------------------
    def forward(self, env: dict, backend=None) -> list:
        """Values of every node, given input values by name.

        With `backend` (dual numbers), every node is computed by that backend and the
        finiteness check is left to the caller.
        """
        graph = self.graph
        if backend is not None:
            return self._forward_with(backend, self._leaf_values(env))
        values = self._float_leaf_values(env) if self.scalar and self.compact else self._leaf_values(env)
        i = -1
        try:
            if self.scalar:
                for i, f, args in self.code:
                    if len(args) == 2:
                        values[i] = f(values[args[0]], values[args[1]])
                    elif len(args) == 1:
                        values[i] = f(values[args[0]])
                    else:
                        values[i] = f(*[values[a] for a in args])
            else:
                import numpy as np

                with np.errstate(divide="raise", over="raise", invalid="raise", under="ignore"):
                    for i, f, args in self.code:
                        values[i] = f(*[values[a] for a in args])
        except _MATH_ERRORS as exc:
            earlier = _first_non_finite(values[:i])
            if earlier is not None:  # an overflow to inf that this node then rejected
                raise _math_error(graph, values, earlier, None) from None
            raise _math_error(graph, values, i, exc) from None
        if self.scalar:
            if not all(map(_isfinite, values)):
                first = next(k for k, v in enumerate(values) if not _isfinite(v))
                raise _math_error(graph, values, first, None)
        else:
            bad = _first_non_finite(values)
            if bad is not None:
                raise _math_error(graph, values, bad, None)
        return values

    def forward_unchecked(self, env: dict) -> list:
        """The forward pass on arrays with IEEE semantics: undefined values become nan
        instead of raising (batch evaluation reports failing rows itself)."""
        values = self._leaf_values(env)
        for i, f, args in self.code:
            try:
                values[i] = f(*[values[a] for a in args])
            except _MATH_ERRORS:  # a constant outside its domain (scalar math raises): nan too
                values[i] = math.nan
        return values

    def _forward_with(self, backend, values: list) -> list:
        ops, params = self.graph.ops, self.graph.params
        for i, _, args in self.code:
            f = getattr(backend, ops[i])
            xs = [values[a] for a in args]
            values[i] = f(*xs) if params[i] is None else f(*xs, params[i])
        return values

    # ---- reverse mode ---------------------------------------------------------------
    def backward(self, values: Sequence, seed: object = 1.0, output: Optional[int] = None,
                 backend=None) -> list:
        """Adjoints ∂output/∂node of every node (0 for nodes no input reaches).

        `seed` is the output's cotangent: 1 for a scalar output, an array of the
        output's shape for a vector-Jacobian product.
        """
        out = self.graph.output if output is None else output
        if self.scalar and backend is None:
            return self._backward_floats(values, seed, out)  # type: ignore[arg-type]
        return self._backward_general(values, seed, out, backend)

    def _backward_floats(self, values: Sequence, seed: float, out: int) -> Any:
        # C doubles: 8 bytes a node where a list of floats takes 32 (each read makes a float,
        # as a list's `+=` does anyway)
        adjoint: Any = array("d", bytes(8 * self.n)) if self.compact and seed.__class__ is float else [0.0] * self.n
        adjoint[out] = seed
        m = SCALAR
        whole = out == self.graph.output
        code = self._reverse() if whole else [c for c in self._reverse() if c[0] <= out]
        cos = _cos
        # The commonest ops have their partials written inline: an instruction holding
        # the op row's own partials tuple (every argument live; see __init__) is known by
        # identity, and the line for it is the row's expression (tests/test_engine_fast.py
        # compares them to the bit).  Any other instruction calls its partials.
        for i, kind, args, parts in code:
            g = adjoint[i]
            try:
                if parts is _MUL:
                    a, b = args
                    adjoint[a] += g * values[b]
                    adjoint[b] += g * values[a]
                elif parts is _ADD:
                    a, b = args
                    adjoint[a] += g
                    adjoint[b] += g
                elif parts is _TANH:
                    o = values[i]
                    adjoint[args[0]] += g * (1.0 - o * o)
                elif parts is _SIGMOID:
                    o = values[i]
                    adjoint[args[0]] += g * (o * (1.0 - o))
                elif parts is _SUB:
                    a, b = args
                    adjoint[a] += g
                    adjoint[b] -= g
                elif parts is _EXP:
                    adjoint[args[0]] += g * values[i]
                elif parts is _SIN:
                    adjoint[args[0]] += g * cos(values[args[0]])
                elif parts is _NEG:
                    adjoint[args[0]] -= g
                elif parts is _MUL_SECOND:  # 0.5 * x: the first argument a constant
                    adjoint[args[1]] += g * values[args[0]]
                elif parts is _SUB_FIRST or parts is _ADD_FIRST:  # x - 1, x + 1
                    adjoint[args[0]] += g
                elif parts is _MUL_FIRST:
                    adjoint[args[0]] += g * values[args[1]]
                elif parts is _ADD_SECOND:
                    adjoint[args[1]] += g
                elif kind == 2:
                    a, b = args
                    pa, pb = parts
                    # both partials before either is added: if one raises, nothing is added twice
                    if pa.__class__ is not float and pa is not None:
                        pa = pa(m, values[a], values[b], values[i])
                    if pb.__class__ is not float and pb is not None:
                        pb = pb(m, values[a], values[b], values[i])
                    if pa is not None:
                        adjoint[a] += g * pa
                    if pb is not None:
                        adjoint[b] += g * pb
                elif kind == 1:
                    pa = parts[0]
                    a = args[0]
                    adjoint[a] += g * (pa if pa.__class__ is float else pa(m, values[a], values[i]))
                else:  # variadic (kind 0) or three arguments (where, clip)
                    local = local_partials(m, kind, parts, [values[a] for a in args], values[i])
                    for a, p in zip(args, local):
                        if p is not None:
                            adjoint[a] += g * p
            except _MATH_ERRORS:  # an infinite or undefined partial: the careful walk
                return self._backward_floats_careful(values, seed, out, self._reverse() if whole else code)
        if not _isfinite(sum(adjoint)):  # an overflow (or inf - inf) on the way: the careful walk
            return self._backward_floats_careful(values, seed, out, self._reverse() if whole else code)
        return adjoint

    def _backward_floats_careful(self, values: Sequence, seed: float, out: int, code) -> list:
        """The reverse walk where a partial may be infinite or undefined (sqrt at 0).

        A zero cotangent or a zero partial contributes nothing, whatever the other
        factor: a partial nobody uses cannot poison the gradient (NaN * 0 is 0 here).
        """
        adjoint = [0.0] * self.n
        adjoint[out] = seed
        for i, kind, args, parts in code:
            g = adjoint[i]
            if g == 0.0:
                continue
            local = safe_partials(SCALAR, kind, parts, [values[a] for a in args], values[i])
            for a, p in zip(args, local):
                if p is not None and p != 0.0:
                    adjoint[a] += float(g) * float(p)
        return adjoint

    def _backward_general(self, values: Sequence, seed: object, out: int, backend,
                          careful: bool = False) -> list:
        """The reverse walk node by node on floats, NumPy or `backend`.

        Careful (always with a backend, else only when a first walk ended non-finite):
        a zero cotangent or zero partial contributes nothing, whatever the other factor.
        """
        import numpy as np

        careful = careful or backend is not None
        array: Any = backend or self.array
        shapes, ops, params = self.shapes, self.graph.ops, self.graph.params
        zero = _UNTOUCHED
        adjoint: list = [zero] * self.n
        adjoint[out] = seed
        #: nodes whose adjoint is an array this walk made for that node alone (a product
        #: g * p or a sum): further contributions are added into it in place
        own: set[int] = set()

        def accumulate(a: int, c: Any, mine: bool) -> None:
            """adjoint[a] += c, in place into an array this walk owns; `mine`: c is a new
            array no one else holds (a product), so a first contribution may be owned too."""
            prev = adjoint[a]
            if prev is zero:
                adjoint[a] = c
                if mine and backend is None and c.__class__ is np.ndarray:
                    own.add(a)
            elif a in own and c.__class__ is not float and c.shape == prev.shape:
                np.add(prev, c, out=prev)
            else:
                adjoint[a] = prev + c
                if backend is None and adjoint[a].__class__ is np.ndarray:
                    own.add(a)

        with np.errstate(all="ignore"):
            for i, kind, args, parts in self._reverse():
                g = adjoint[i]
                if i > out or g is zero or (careful and _all_zero(g)):
                    continue  # nothing flows back from a node the output does not use
                xs = [values[a] for a in args]
                if kind < 0:  # structural op: its VJP rows
                    param = params[i]
                    if callable(parts):
                        contributions = parts(array, g, xs, values[i], param)
                    else:
                        contributions = [None if v is None else v(array, g, xs, values[i], param) for v in parts]
                    for a, c in zip(args, contributions):
                        if c is not None:
                            accumulate(a, c, False)  # a VJP may return a view (sum's): never owned
                    continue
                on_floats = backend is None and self._on_floats(i)
                kernel = backend is None and i in self.array_partials and self._kernel_for[i] is parts
                if kernel:
                    parts = self.array_partials[i]
                local = safe_partials(SCALAR if on_floats else array, kind, parts, xs, values[i])
                if on_floats:  # plain floats (not the IEEE slow path's subclass) meet arrays below
                    local = [None if p is None else float(p) for p in local]
                for a, p in zip(args, local):
                    if p is None:
                        continue
                    fresh = True
                    if p.__class__ is float and (p == 1.0 or p == -1.0):
                        c = g if p == 1.0 else -g  # add, sub, neg: no multiplication
                        fresh = p == -1.0
                    elif careful:
                        c = _times(g, p)
                    elif kernel and p.__class__ is np.ndarray and (np.ndim(g) == 0 or g.shape == p.shape):
                        c = np.multiply(g, p, out=p)  # p is the kernel's new array
                    else:
                        c = g * p
                    if shapes[a] != shapes[i]:
                        c = array.unbroadcast(c, shapes[a])
                    accumulate(a, c, fresh)
        if not careful and not all(a is zero or _all_finite(a) for a in adjoint):
            return self._backward_general(values, seed, out, backend, careful=True)
        for k, shape in enumerate(shapes):
            a = adjoint[k]
            if a is zero:
                adjoint[k] = 0.0 if backend is not None or shape == () else np.zeros(shape)
            elif backend is None:
                if shape == ():
                    adjoint[k] = float(a)
                elif np.shape(a) != shape:
                    adjoint[k] = np.broadcast_to(a, shape).astype(float)
                elif ops[k] == INPUT and not a.flags.writeable:  # a gradient is the caller's
                    adjoint[k] = a.copy()
        return adjoint

    # ---- forward mode ---------------------------------------------------------------
    def jvp(self, values: Sequence, seeds: dict[int, float], partials: Optional[list] = None) -> list:
        """Tangents ∂node/∂(seeded direction) of every node: one forward-mode pass.

        `partials`, a list with an entry per node, holds each node's local partials ∂node/∂arg
        (one per argument, None where no input reaches it; a tuple, the smaller, where the walk
        writes them out): an entry that is None is computed and stored, one already there is
        used.  So the passes of several inputs, and the explanation of the sweep
        (`gradcli.teach.edges.edge_partials`), share one computation of them.

        Scalar graphs only; `gradcli.backends.dual` does forward mode for arrays.
        """
        tangent = [0.0] * self.n
        for k, t in seeds.items():
            tangent[k] = t
        if partials is None:
            partials = [None] * self.n
        for i, kind, args, parts in self._forward_order():
            local = partials[i]
            if kind == 1:  # one argument, written out: the commonest node
                a = args[0]
                if local is None:
                    p = parts[0]
                    if p is not None and p.__class__ is not float:
                        try:
                            p = p(SCALAR, values[a], values[i])
                        except _MATH_ERRORS:
                            p = safe_partials(SCALAR, kind, parts, [values[a]], values[i])[0]
                    partials[i] = (p,)
                else:
                    p = local[0]
                # a zero tangent or a zero partial contributes nothing (not NaN * 0); the sum
                # starts at 0.0, as the general loop's, so -0.0 comes out as 0.0 here too
                t = tangent[a]
                tangent[i] = float(0.0 + p * t) if t and p is not None and p != 0.0 else 0.0
                continue
            if kind == 2:  # two arguments, written out
                a, b = args
                if local is not None:
                    p, q = local
                elif parts is _MUL:  # the row's own partials (every argument live): y and x
                    p, q = values[b], values[a]
                    partials[i] = (p, q)
                else:
                    p, q = parts
                    if (p is None or p.__class__ is float) and (q is None or q.__class__ is float):
                        partials[i] = parts  # numbers (add, sub): the row's own tuple
                    else:
                        x, y, o = values[a], values[b], values[i]
                        try:
                            if p is not None and p.__class__ is not float:
                                p = p(SCALAR, x, y, o)
                            if q is not None and q.__class__ is not float:
                                q = q(SCALAR, x, y, o)
                        except _MATH_ERRORS:  # recomputed with IEEE arithmetic
                            p, q = safe_partials(SCALAR, kind, parts, [x, y], o)
                        partials[i] = (p, q)
                total = 0.0
                t = tangent[a]
                if t and p is not None and p != 0.0:
                    total = total + p * t
                t = tangent[b]
                if t and q is not None and q != 0.0:
                    total = total + q * t
                tangent[i] = float(total)
                continue
            if local is None:
                local = partials[i] = safe_partials(SCALAR, kind, parts, [values[a] for a in args], values[i])
            total = 0.0
            for a, p in zip(args, local):
                if p is not None and tangent[a] and p != 0.0:
                    total = total + p * tangent[a]
            tangent[i] = float(total)
        return tangent


_first, _last = itemgetter(0), itemgetter(-1)
_ne = operator.ne

#: (a row's partials of two arguments, is the first argument the live one) -> the partials
#: with None for the other (one tuple for each: the float walk knows the commonest by identity)
_HALVES: dict[tuple, tuple] = {}


def _half(partials: Any, first_live: Any) -> tuple:
    """The partials of a binary node that an input reaches through one argument only."""
    key = (partials, bool(first_live))
    found = _HALVES.get(key)
    if found is None:
        found = _HALVES[key] = (partials[0], None) if first_live else (None, partials[1])
    return found


# The partials tuples of the ops the float walk writes out (`Tape._backward_floats`).
_MUL, _ADD, _SUB, _NEG = OPS["mul"].partials, OPS["add"].partials, OPS["sub"].partials, OPS["neg"].partials
_TANH, _SIGMOID, _EXP, _SIN = OPS["tanh"].partials, OPS["sigmoid"].partials, OPS["exp"].partials, OPS["sin"].partials
_cos = math.cos
_MUL_FIRST, _MUL_SECOND = _half(_MUL, True), _half(_MUL, False)
_ADD_FIRST, _ADD_SECOND, _SUB_FIRST = _half(_ADD, True), _half(_ADD, False), _half(_SUB, True)


def local_partials(m, kind: int, parts, xs: list, out) -> list:
    """∂node/∂arg for each argument (None where no input reaches the argument)."""
    if not kind:
        return parts(m, xs, out)
    return [None if p is None else (p if p.__class__ is float else p(m, *xs, out)) for p in parts]


def safe_partials(m, kind: int, parts, xs: list, out) -> list:
    """`local_partials`, recomputed with IEEE arithmetic where `m` raises (an infinite
    derivative, such as sqrt's at 0, is a value here, not an error)."""
    try:
        return local_partials(m, kind, parts, xs, out)
    except _MATH_ERRORS:
        if any(hasattr(x, "shape") for x in (*xs, out)):  # arrays beside a plain float (``u / 0``):
            import numpy as np  # NumPy's IEEE arithmetic for the floats too

            with np.errstate(all="ignore"):
                return local_partials(m, kind, parts, [x if hasattr(x, "shape") else np.float64(x) for x in xs],
                                      out if hasattr(out, "shape") else np.float64(out))
        return local_partials(IEEE, kind, parts, [ieee(x) for x in xs], ieee(out))


def _all_zero(x) -> bool:
    if x.__class__ is float:
        return x == 0.0
    from ..backends.dual import Dual

    if isinstance(x, Dual):
        return _all_zero(x.v) and _all_zero(x.t)
    import numpy as np

    return not np.any(x)


def _all_finite(x) -> bool:
    if x.__class__ is float:
        return _isfinite(x)
    from ..backends.arrays import all_finite

    return all_finite(x)


def _times(g, p):
    """g * p where a zero factor makes the product 0, even against inf or NaN."""
    from ..backends.arrays import times
    from ..backends.dual import Dual

    if isinstance(g, Dual) or isinstance(p, Dual):
        return g * p  # dual numbers multiply this way themselves
    return times(g, p)


def _square_partial(m, x, y, o):
    """∂(x^2)/∂x on arrays: the pow row's m.times(y, m.pow(x, y - 1)) at y = 2 without
    the power, since x^1 is x to the bit."""
    return m.times(2.0, x)


def _sigmoid_partial(m, x, o):
    """The sigmoid row's o * (1 - o) on arrays, in one new array instead of two."""
    p = m.sub(1.0, o)
    return m.mul(o, p, out=p)


_SQUARE_PARTIALS = (_square_partial, None)
_SIGMOID_PARTIALS = (_sigmoid_partial,)


def _with_param(f, param):
    def bound(*xs):
        return f(*xs, param)

    return bound


def _as_float(f):
    def scalar(*xs):
        return float(f(*xs))

    return scalar


def _differentiable(graph: Graph) -> list[bool]:
    """`Graph.depends_on_input` where integer data (an index, labels: `INTEGER_ARGS`) carries
    no derivative: such inputs are not live, and nothing is live through an integer argument."""
    data = set(integer_inputs(graph))
    live = [False] * len(graph.nodes)
    for node in graph.nodes:
        if node.op == INPUT:
            live[node.id] = node.id not in data
        elif node.args:
            skip = INTEGER_ARGS.get(node.op, ())
            live[node.id] = any(live[a] for k, a in enumerate(node.args) if k not in skip)
    return live


def _array_backend():
    from ..backends.arrays import ARRAY

    return ARRAY


def _first_non_finite(values: Sequence) -> Optional[int]:
    for k, v in enumerate(values):
        if isinstance(v, float):
            if not _isfinite(v):
                return k
        elif v is not None:
            from ..backends.arrays import all_finite

            if not all_finite(v):
                return k
    return None


def _fmt(x: object) -> str:
    from .fmt import number

    return number(x)


def _math_error(graph: Graph, values: Sequence, i: int, exc: Optional[BaseException]) -> MathError:
    """A message naming node `i`, its operation and its input values."""
    node = graph.nodes[i]
    if node.op == INPUT:
        return MathError(f"input {node.name} = {_fmt(values[i])} is not a finite number")
    op = OPS[node.op]
    shown_args = ", ".join(
        f"{graph.label(a)} = {_fmt(values[a])}" if graph.nodes[a].op != CONST else graph.label(a)
        for a in node.args
    )
    result = values[i] if exc is None else None
    if isinstance(exc, OverflowError) or (exc is not None and "overflow" in str(exc)):
        why = "the result overflows a 64-bit float"
    elif exc is not None:
        why = op.domain or str(exc)
        if "divide" in str(exc) and not op.domain:
            why = "division by zero"
    elif result is not None and _has_nan(result):
        why = "the result is not a number (nan)"
    else:
        why = f"the result overflows to {_fmt(result)}"
    where = _failing_element(graph, values, i) if exc is not None and node.shape else ""
    return MathError(
        f"node {graph.label(i)} = {graph.definition(i)} ({op.name}) with {shown_args}: {why}{where}"
    )


def _failing_element(graph: Graph, values: Sequence, i: int) -> str:
    """For an elementwise op on arrays: the first element where it is undefined."""
    op = OPS[graph.nodes[i].op]
    if not op.elementwise:
        return ""
    import numpy as np

    node = graph.nodes[i]
    args = np.broadcast_arrays(*[np.asarray(values[a], dtype=float) for a in node.args])
    f = getattr(SCALAR, node.op)
    for count, index in enumerate(np.ndindex(*node.shape)):
        if count > 1_000_000:
            break
        xs = [float(a[index]) for a in args]
        try:
            y = f(*xs)
        except _MATH_ERRORS:
            y = math.nan
        if not _isfinite(y):
            at = ", ".join(
                f"{graph.label(a)}[{','.join(map(str, index[len(index) - np.ndim(values[a]):]))}] = {_fmt(x)}"
                if np.ndim(values[a]) else f"{graph.label(a)} = {_fmt(x)}"
                for a, x in zip(node.args, xs) if graph.nodes[a].op != CONST
            )
            return f" (first at element {list(index)}: {at})"
    return ""


def _has_nan(x) -> bool:
    if isinstance(x, float):
        return x != x
    import numpy as np

    return bool(np.any(np.isnan(x)))
