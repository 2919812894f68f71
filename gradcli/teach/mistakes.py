"""Common backprop mistakes, and which one explains a wrong answer.

For one question (∂out/∂NAME at the point) `mistakes` computes, once, the number each
common mistake would give:

* ``paths``: only some of the paths from NAME to the output (scalar programs, up to
  `MAX_PATHS` paths; every proper subset is tried);
* ``fan-out``: only one branch where a node feeds several others (the adjoint of a
  node that fans out is the *sum* over its uses); for arrays, the same by dropping
  all but one use of a node in the reverse walk;
* ``sigma``: σ(z) (or tanh(z)) used where its derivative σ'(z) = σ(z)(1 − σ(z))
  belongs, found by rerunning the reverse walk with that one rule changed;
* ``transposed``: the matrix transposed (``x Wᵀ`` for ``Wᵀ x``, ``x δᵀ`` for ``δ xᵀ``);
* ``sign``: the right magnitude with the wrong sign;
* ``factor``: off by a factor of 2, or by the m of a mean over m examples.

`diagnose` then names the first mistake whose number the answer matches (within the
tolerance) and that differs from the truth.  A diagnosis says *which* mistake; the
number it would take to fix it (which would reveal the answer) is kept apart in
`Mistake.reveal`, shown only with ``--reveal``.
"""

from __future__ import annotations

import copy
from itertools import combinations
from typing import Callable, Optional

from ..core.engine import safe_partials
from ..backends.floats import SCALAR
from ..core.graph import CONST, INPUT
from ..core.fmt import number

#: more paths than this (to the output) and subsets of paths are not tried
MAX_PATHS = 12
#: at most this many "one use only" reverse walks per question
MAX_FAN_OUT = 24
#: programs with more nodes get only the diagnoses that cost one reverse walk or none
MAX_NODES = 5000

#: elementwise ops whose derivative students replace by the function itself
_SQUASHES = {"sigmoid": ("σ", "σ'(z) = σ(z)(1 − σ(z))"), "tanh": ("tanh", "tanh'(z) = 1 − tanh(z)²")}


class Mistake:
    """What one common mistake would give for a question."""

    __slots__ = ("kind", "message", "reveal", "value")

    def __init__(self, kind: str, message: str, value: object, reveal: str = "") -> None:
        #: "paths", "fan-out", "sigma", "transposed", "sign", "factor"
        self.kind = kind
        #: says which mistake, without the right answer
        self.message = message
        #: the number that would fix it (shown only with --reveal)
        self.reveal = reveal
        self.value = value


def mistakes(ev, node: int) -> "Candidates":
    """The candidate mistakes for ∂out/∂(node `node`), computed when first needed."""
    return Candidates(ev, node)


class Candidates:
    """Every candidate mistake for one question, most specific first; computed on first
    use, since only a wrong answer needs them."""

    def __init__(self, ev, node: int) -> None:
        self.ev = ev
        self.node = node
        self._found: Optional[list[Mistake]] = None

    def __iter__(self):
        if self._found is None:
            self._found = _candidates(self.ev, self.node)
        return iter(self._found)


def _candidates(ev, node: int) -> list[Mistake]:
    truth = ev.adjoints[node]
    found: list[Mistake] = []
    if len(ev.graph.nodes) <= MAX_NODES:  # paths and one-use walks are for homework-sized programs
        path_list = _paths(ev, node)
        if path_list is not None:
            found += _path_mistakes(ev, node, path_list)
        else:
            found += _fan_out_mistakes(ev, node)
    found += _squash_mistakes(ev, node)
    found += _simple_mistakes(ev, node, truth)
    return found


def diagnose(candidates, answer: object, truth: object,
             close: Callable[[object, object], bool]) -> Optional[Mistake]:
    """The first mistake that explains `answer` (and is not itself the truth)."""
    for m in candidates:
        if close(m.value, truth):
            continue
        if close(answer, m.value):
            return m
    return None


# ---- paths (scalar programs) ----------------------------------------------------------
def _consumers(ev) -> dict[int, list[tuple[int, float]]]:
    """For each node, (consumer, local partial) per use, on a scalar program."""
    uses: dict[int, list[tuple[int, float]]] = {}
    values = ev.values
    for i, kind, args, parts in ev.tape.reverse_code:
        local = safe_partials(SCALAR, kind, parts, [values[a] for a in args], values[i])
        for a, p in zip(args, local):
            if p is not None:
                uses.setdefault(a, []).append((i, float(p)))
    return uses


def _paths(ev, node: int) -> Optional[list[tuple[list[int], float]]]:
    """Every path node → output with its product of partials, or None when the
    program has arrays or more than MAX_PATHS paths (an explicit stack: no recursion)."""
    graph = ev.graph
    if any(n.shape for n in graph.nodes):
        return None
    uses = _consumers(ev)
    out = graph.output
    found: list[tuple[list[int], float]] = []
    stack: list[tuple[list[int], float]] = [([node], 1.0)]
    while stack:
        path, product = stack.pop()
        last = path[-1]
        if last == out:
            found.append((path, product))
            if len(found) > MAX_PATHS:
                return None
            continue
        for consumer, p in reversed(uses.get(last, [])):
            stack.append((path + [consumer], product * p))
    return found if len(found) >= 2 else None


def _path_text(ev, path: list[int]) -> str:
    return " → ".join(ev.graph.label(i) for i in path)


def _path_mistakes(ev, node: int, path_list: list[tuple[list[int], float]]) -> list[Mistake]:
    texts = [_path_text(ev, p) for p, _ in path_list]
    out: list[Mistake] = []
    n = len(path_list)
    for size in range(1, n):
        for kept in combinations(range(n), size):
            missing = [k for k in range(n) if k not in kept]
            value = sum(path_list[k][1] for k in kept)
            lost = sum(path_list[k][1] for k in missing)
            have = "; ".join(texts[k] for k in kept)
            lack = "; ".join(texts[k] for k in missing)
            plural_have = "s" if len(kept) > 1 else ""
            plural_lack = ("s " + lack + " are") if len(missing) > 1 else (" " + lack + " is")
            message = f"you have only the path{plural_have} {have}; the path{plural_lack} missing"
            branch = _single_branch(ev, path_list, kept)
            kind = "paths"
            if branch is not None:
                v, targets, chosen = branch
                kind = "fan-out"
                message += (f" (a missing fan-out sum: {ev.graph.label(v)} feeds {_and_labels(ev, targets)}, so its adjoint "
                            f"adds what comes back through each; you kept only the branch through "
                            f"{ev.graph.label(chosen)})")
            adds = "they add" if len(missing) > 1 else "it adds"
            out.append(Mistake(kind, message, value, f"{adds} {number(lost, 6)}"))
    return out


def _single_branch(ev, path_list, kept) -> Optional[tuple[int, list[int], int]]:
    """(v, v's consumers, the kept one) when the kept paths are exactly those leaving
    a fan-out node v through one of its uses, and every path passes through v."""
    paths = [p for p, _ in path_list]
    common = set(paths[0])
    for p in paths[1:]:
        common &= set(p)
    for v in paths[0]:
        if v not in common or v == ev.graph.output:
            continue
        nexts = [p[p.index(v) + 1] for p in paths]
        distinct = list(dict.fromkeys(nexts))
        if len(distinct) < 2:
            continue
        chosen = {nexts[k] for k in kept}
        if len(chosen) == 1 and all((nexts[k] in chosen) == (k in kept) for k in range(len(paths))):
            return v, distinct, next(iter(chosen))
    return None


def _and_labels(ev, nodes: list[int]) -> str:
    labels = [ev.graph.label(n) for n in nodes]
    return ", ".join(labels[:-1]) + " and " + labels[-1]


# ---- one use only (any program) ---------------------------------------------------------
def _fan_out_mistakes(ev, node: int) -> list[Mistake]:
    """For each node between `node` and the output that is used more than once: the
    answer had only one of its uses been followed back."""
    graph = ev.graph
    reach = [False] * len(graph.nodes)  # nodes that `node` reaches
    reach[node] = True
    for n in graph.nodes[node + 1:]:
        if any(reach[a] for a in n.args):
            reach[n.id] = True
    uses: dict[int, list[tuple[int, int]]] = {}  # v -> [(entry position in reverse_code, arg slot)]
    for pos, (i, kind, args, parts) in enumerate(ev.tape.reverse_code):
        if kind == 0 or callable(parts) or not reach[i]:
            continue
        for slot, a in enumerate(args):
            if reach[a] and parts[slot] is not None:
                uses.setdefault(a, []).append((pos, slot))
    out: list[Mistake] = []
    for v in sorted(uses):
        if len(uses[v]) < 2:
            continue
        consumers = [ev.tape.reverse_code[pos][0] for pos, _ in uses[v]]
        uses_text = ", ".join(f"{graph.label(c)} = {graph.definition(c)}" + (" twice" if consumers.count(c) == 2 else
                              f" {consumers.count(c)} times" if consumers.count(c) > 2 else "")
                              for c in dict.fromkeys(consumers))
        for keep in uses[v]:
            if len(out) >= MAX_FAN_OUT:
                return out
            tape = copy.copy(ev.tape)
            code = list(tape.reverse_code)
            for pos, slot in uses[v]:
                if (pos, slot) == keep:
                    continue
                i, kind, args, parts = code[pos]
                parts = list(parts)
                parts[slot] = None if kind < 0 else 0.0  # a structural VJP left out; an elementwise partial 0
                code[pos] = (i, kind, args, tuple(parts))
            tape.reverse_code = code
            try:
                value = tape.backward(ev.values)[node]
            except Exception:  # a rerun that fails explains nothing
                continue
            kept = graph.label(ev.tape.reverse_code[keep[0]][0])
            name = graph.label(v)
            out.append(Mistake(
                "fan-out",
                f"a missing fan-out sum: {name} is used {len(consumers)} times ({uses_text}), so its adjoint adds "
                f"the contributions of every use; you have only the one through {kept}",
                value,
            ))
    return out


# ---- σ for σ' ---------------------------------------------------------------------------
def _squash_mistakes(ev, node: int) -> list[Mistake]:
    graph = ev.graph
    ops = {graph.nodes[i].op for i, *_ in ev.tape.reverse_code if i > node}
    out = []
    for op, (name, rule) in _SQUASHES.items():
        if op not in ops:
            continue
        tape = copy.copy(ev.tape)
        tape.reverse_code = [
            (i, kind, args, (_itself,)) if graph.nodes[i].op == op else (i, kind, args, parts)
            for i, kind, args, parts in tape.reverse_code
        ]
        try:
            value = tape.backward(ev.values)[node]
        except Exception:
            continue
        out.append(Mistake("sigma", f"{name} used where its derivative belongs: {rule}, not {name}(z)", value))
    return out


def _itself(m, x, o):
    return o


# ---- transposed, sign, factors ------------------------------------------------------------
def _simple_mistakes(ev, node: int, truth: object) -> list[Mistake]:
    out = []
    if len(getattr(truth, "shape", ())) == 2:
        out.append(Mistake("transposed", "the matrix is transposed (e.g. x δᵀ where δ xᵀ belongs, "
                           "or W δ where Wᵀ δ belongs)", truth.T))  # type: ignore[attr-defined]
    out.append(Mistake("sign", "the sign is wrong", -truth))  # type: ignore[operator]
    out.append(Mistake("factor", "off by a factor of 2: a factor 2 is missing (as in d/dx x² = 2x)",
                       truth / 2))  # type: ignore[operator]
    out.append(Mistake("factor", "off by a factor of 2: there is a factor 2 too many", truth * 2))  # type: ignore[operator]
    for m in _mean_sizes(ev):
        out.append(Mistake("factor", f"off by a factor of m = {m}: the 1/m of the mean over {m} "
                           "examples is missing", truth * m))  # type: ignore[operator]
        out.append(Mistake("factor", f"off by a factor of m = {m}: divided by m = {m} once too often",
                           truth / m))  # type: ignore[operator]
    return out


def _mean_sizes(ev) -> list[int]:
    """The number of elements each `mean` averages (1/m), distinct, in order."""
    sizes: list[int] = []
    graph = ev.graph
    for n in graph.nodes:
        if n.op != "mean" or n.op in (INPUT, CONST):
            continue
        inner = graph.nodes[n.args[0]].shape
        total = 1
        for d in inner:
            total *= d
        outer = 1
        for d in n.shape:
            outer *= d
        m = total // max(outer, 1)
        if m > 1 and m not in sizes:
            sizes.append(m)
    return sizes
