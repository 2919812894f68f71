"""Common backprop mistakes, and which one explains a wrong answer.

For one question (∂out/∂NAME at the point) `mistakes` computes the number each common
mistake would give, group by group and only as far as needed (most specific first):

* ``relu-mask``: a ReLU (or leaky ReLU) between NAME and the output with its mask
  missing (partial 1), inverted (1 where the input is ≤ 0) or taken from the output
  (h for 1[z > 0]);
* ``max-routing``: a max/min that sends the gradient to the other argument, or to all
  of them (a max of one array: to every element, or to the smallest one);
* ``conv-flip``: a convolution's input adjoint with the kernel not flipped; and (kind
  ``max-routing``) max pooling sending each window's gradient to the wrong element (its
  minimum, its top-left one) or over the whole window (whole, or evenly as average pooling);
* ``softmax``: softmax with cross-entropy where z̄ = p − y is taken as p, as y − p,
  or (on a batch averaged over N rows) without the 1/N;
* ``sigma``: σ(z) (or tanh(z)) used where its derivative σ'(z) = σ(z)(1 − σ(z))
  belongs, σ' taken at the output (σ'(h) for σ'(z)), or z(1 − z) written for h(1 − h);
* ``paths``: only some of the paths from NAME to the output (scalar programs, up to
  `MAX_PATHS` paths; every proper subset is tried);
* ``fan-out``: only one branch where a node feeds several others (the adjoint of a
  node that fans out is the *sum* over its uses); for arrays, the same by dropping
  all but one use of a node in the reverse walk;
* ``sigma``: σ(z) (or tanh(z)) used where its derivative σ'(z) = σ(z)(1 − σ(z))
  belongs, found by rerunning the reverse walk with that one rule changed;
* ``time-steps``: shared weights of a ``def`` called once per time step (an unrolled
  RNN): the last step's contribution only, or the first or the last step's dropped;
* ``transposed``: for each product ``W @ x`` between NAME and the output, the reverse
  walk rerun with the other operand transposed in that one VJP (W ā for Wᵀ ā, ā B for
  ā Bᵀ, where the shapes allow); and the whole answer transposed (``x δᵀ`` for ``δ xᵀ``);
* ``broadcast``: for an operand broadcast over a batch (a bias added to every row),
  its adjoint before the sum over the batch: all rows, the first row only, or their
  mean (a ``factor`` of 1/N);
* ``chain``: one local partial of the chain left out (replaced by 1);
* ``sign``: the right magnitude with the wrong sign;
* ``factor``: off by a factor of 2 (or a 1/2 of the program left out), or by the m
  of a mean over m examples;
* two at once: a sign or factor 2 mistake on top of a transposed, softmax, ReLU-mask,
  broadcast or time-step one (kinds joined by ``+``: ``transposed+sign``).

Each rule mistake is found by rerunning the reverse walk with one rule changed (one
op's partials replaced) or one adjoint overridden (softmax: z̄ replaced, then the
walk continues from z; by linearity that is the truth plus the pullback of the
difference).  `diagnose` then names the first mistake whose number the answer matches
(within the tolerance) and that differs from the truth.  A diagnosis says *which*
mistake, in the student's own names; the number it would take to fix it (which would
reveal the answer) is kept apart in `Mistake.reveal`, shown only with ``--reveal``.
"""

from __future__ import annotations

import copy
import unicodedata
from itertools import combinations
from typing import Callable, Iterator, Optional

from ..core.engine import safe_partials
from ..backends.floats import SCALAR
from ..core.graph import CONST, INPUT
from ..core.fmt import number
from ..core.ops import OPS
from ..run.evaluate import all_finite

#: more paths than this (to the output) and subsets of paths are not tried
MAX_PATHS = 12
#: at most this many "one use only" reverse walks per question
MAX_FAN_OUT = 24
#: programs with more nodes get only the diagnoses that cost one reverse walk or none
MAX_NODES = 5000

#: at most this many "transpose on one product" reverse walks per question
MAX_TRANSPOSED = 12
#: the kinds a sign or factor mistake is combined with (``transposed+sign``)
_COMBINABLE = ("transposed", "softmax", "relu-mask", "broadcast", "time-steps")

#: elementwise ops whose derivative students replace by the function itself
_SQUASHES = {"sigmoid": ("σ", "σ'(z) = σ(z)(1 − σ(z))"), "tanh": ("tanh", "tanh'(z) = 1 − tanh(z)²")}


class Mistake:
    """What one common mistake would give for a question."""

    __slots__ = ("kind", "message", "reveal", "value")

    def __init__(self, kind: str, message: str, value: object, reveal: str = "") -> None:
        #: "relu-mask", "max-routing", "conv-flip", "softmax", "sigma", "paths", "fan-out", "chain",
        #: "transposed", "sign", "factor" (two at once are joined with "+")
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
    """Every candidate mistake for one question, most specific first; computed group
    by group as `diagnose` asks for them, since only a wrong answer needs them (and a
    match in an early group needs none of the later reruns)."""

    def __init__(self, ev, node: int) -> None:
        self.ev = ev
        self.node = node
        self._found: list[Mistake] = []
        self._groups: Optional[Iterator[list[Mistake]]] = None
        self._started = False

    def __iter__(self) -> Iterator[Mistake]:
        if not self._started:
            self._started = True
            self._groups = _candidates(self.ev, self.node)
        k = 0
        while True:
            while k < len(self._found):
                yield self._found[k]
                k += 1
            if self._groups is None:
                return
            group = next(self._groups, None)
            if group is None:
                self._groups = None
                return
            self._found.extend(group)


def _candidates(ev, node: int) -> Iterator[list[Mistake]]:
    """The groups of candidates, most specific first."""
    truth = ev.adjoints[node]
    small = len(ev.graph.nodes) <= MAX_NODES  # reruns per node are for homework-sized programs
    reach = _reach(ev, node) if small else None
    singles: list[Mistake] = []

    def single(group: list[Mistake]) -> list[Mistake]:
        singles.extend(group)
        return group

    if reach is not None:
        yield single(_relu_mistakes(ev, node, reach))
        yield single(_max_mistakes(ev, node, reach))
        yield single(_window_mistakes(ev, node, reach))
        yield single(_softmax_mistakes(ev, node, reach) + _sigmoid_ce_mistakes(ev, node, reach))
    yield single(_squash_mistakes(ev, node))
    if reach is not None:
        yield single(_squash_argument_mistakes(ev, node, reach))
    if small:
        yield single(_time_step_mistakes(ev, node))
        yield single(_transposed_mistakes(ev, node))
        yield single(_broadcast_mistakes(ev, node))
        path_list = _paths(ev, node)
        if path_list is not None:
            yield single(_path_mistakes(ev, node, path_list))
        if path_list is None or len({tuple(p) for p, _ in path_list}) < len(path_list):
            # arrays, too many paths, or a step that uses an argument twice (x*x: two paths
            # through the same steps, which only the uses tell apart)
            yield single(_fan_out_mistakes(ev, node))
        yield single(_chain_mistakes(ev, node, reach or _reach(ev, node)))
    yield single(_simple_mistakes(ev, node, truth, reach))
    yield _combined_mistakes(ev, singles)  # last: two mistakes at once, from the single ones above


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
            if {texts[k] for k in kept} & {texts[k] for k in missing}:
                continue  # x*x: the same steps kept and missing, which words cannot tell apart
            value = sum(path_list[k][1] for k in kept)
            lost = sum(path_list[k][1] for k in missing)
            have = _listed([texts[k] for k in kept])
            lack = _listed([texts[k] for k in missing])
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


def _listed(texts: list[str]) -> str:
    """Paths joined by "; ", a path through the same steps twice said once (``x → a → c twice``)."""
    counts: dict[str, int] = {}
    for text in texts:
        counts[text] = counts.get(text, 0) + 1
    return "; ".join(text + ("" if k == 1 else " twice" if k == 2 else f" {k} times") for text, k in counts.items())


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
    reach = graph.reached_from(node)
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
        steps = _step_calls(ev, consumers) if v == node else None
        if steps is not None and steps.everything:
            continue  # shared weights over time steps: `_time_step_mistakes` says it in those terms
        uses_text = ", ".join(f"{graph.label(c)} = {graph.definition(c)}" + (" twice" if consumers.count(c) == 2 else
                              f" {consumers.count(c)} times" if consumers.count(c) > 2 else "")
                              for c in dict.fromkeys(consumers))
        distinct = list(dict.fromkeys(consumers))
        keeps = [[use] for use in uses[v]]
        if len(distinct) >= 2:  # every use in one consumer (dot(z, z) kept whole), the others dropped
            keeps += [[u for u, c in zip(uses[v], consumers) if c == d] for d in distinct if consumers.count(d) > 1]
        for kept_uses in keeps:
            keep = kept_uses[0]
            if len(out) >= MAX_FAN_OUT:
                return out
            tape = copy.copy(ev.tape)
            code = list(tape.reverse_code)
            for pos, slot in uses[v]:
                if (pos, slot) in kept_uses:
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


# ---- reruns of the reverse walk ------------------------------------------------------------
def _reach(ev, node: int) -> list[bool]:
    """Which nodes `node` reaches (itself included): the steps between it and the output."""
    return ev.graph.reached_from(node)


def _on_the_way(ev, node: int, reach: list[bool], ops, limit: int) -> list[tuple[int, tuple]]:
    """(position in the reverse code, entry) of the steps with an op in `ops` after the
    question's node that it reaches, nearest the output first, at most `limit`."""
    nodes = ev.graph.nodes
    found = []
    for pos, entry in enumerate(ev.tape.reverse_code):
        if entry[0] > node and reach[entry[0]] and nodes[entry[0]].op in ops:
            found.append((pos, entry))
            if len(found) >= limit:
                break
    return found


def _rerun(ev, node: int, changes: dict[int, object]) -> Optional[object]:
    """∂out/∂(node) from the reverse walk with the partials (or VJPs) of some entries
    replaced (reverse-code position -> new parts); None when that walk fails or is not
    finite (a rerun that fails explains nothing)."""
    tape = copy.copy(ev.tape)
    code = list(tape.reverse_code)
    for pos, parts in changes.items():
        i, kind, args, _ = code[pos]
        code[pos] = (i, kind, args, parts)
    tape.reverse_code = code
    try:
        value = tape.backward(ev.values)[node]
    except Exception:
        return None
    return value if all_finite(value) else None


def _said(ev, i: int) -> Optional[str]:
    """Node i's name when the student can know it (an input, a step, a name gradcli
    shows), None for the inside of an inlined call (``cross_entropy#1.a``)."""
    label = ev.graph.label(i)
    return None if "#" in label or label.startswith("%") else label


def _step_text(ev, i: int) -> str:
    """``h = relu(z)`` in the student's names; what they never wrote (the inside of an
    inlined call) shows as ``…``."""
    graph = ev.graph
    definition = graph.definition(i)
    hidden = sorted({graph.label(a) for a in graph.nodes[i].args if _said(ev, a) is None}, key=len, reverse=True)
    for label in hidden:
        definition = definition.replace(label, "…")
    name = _said(ev, i)
    return f"{name} = {definition}" if name else definition


def _arg_text(ev, i: int) -> str:
    """An argument in the student's words: its name, or its definition."""
    name = _said(ev, i)
    return name if name is not None else "its input"


# ---- the ReLU mask -----------------------------------------------------------------------
#: ReLUs, maxes and softmaxes looked at per question (nearest the output first)
MAX_RULE_STEPS = 8


def _relu_mistakes(ev, node: int, reach: list[bool]) -> list[Mistake]:
    out = []
    steps = [(pos, entry) for pos, entry in _on_the_way(ev, node, reach, ("relu", "leaky_relu"), MAX_RULE_STEPS)
             if entry[3][0] is not None]
    for pos, (i, _kind, args, parts) in steps:
        z = _arg_text(ev, args[0])
        h = _step_text(ev, i)
        leaky = ev.graph.nodes[i].op == "leaky_relu"
        passes = (f"{h} passes the gradient whole only where {z} > 0 (and scaled by its slope elsewhere)" if leaky
                  else f"{h} passes the gradient only where {z} > 0")
        rules = (
            (f"the ReLU mask is missing: {passes}", 1.0),
            (f"the ReLU mask is inverted (1 where {z} ≤ 0): {passes}", _leaky_inverted if leaky else _relu_inverted),
            (f"the ReLU mask is taken from the output ({_said(ev, i) or 'its value'} for 1[{z} > 0]): {passes}",
             _leaky_output if leaky else _relu_output),
        )
        for message, rule in rules:
            value = _rerun(ev, node, {pos: (rule,) + tuple(parts[1:])})
            if value is not None:
                out.append(Mistake("relu-mask", message, value))
    if len(steps) > 1:  # every mask left out, as a student who never applies them would
        value = _rerun(ev, node, {pos: (1.0,) + tuple(parts[1:]) for pos, (_, _, _, parts) in steps})
        if value is not None:
            listed = "; ".join(_step_text(ev, i) for _, (i, *_) in steps)
            out.append(Mistake("relu-mask", f"every ReLU mask is missing ({listed}): each passes the gradient "
                                            "only where its input is > 0", value))
    return out


def _relu_inverted(m, x, o):
    return 1.0 - m.step(x)


def _relu_output(m, x, o):
    return o


def _leaky_inverted(m, x, s, o):
    return (1.0 - m.step(x)) + s * m.step(x)


def _leaky_output(m, x, s, o):
    return o


# ---- max/min routing ----------------------------------------------------------------------
def _max_mistakes(ev, node: int, reach: list[bool]) -> list[Mistake]:
    out = []
    graph = ev.graph
    for pos, (i, kind, args, parts) in _on_the_way(ev, node, reach, ("max", "min", "amax", "amin"), MAX_RULE_STEPS):
        op = graph.nodes[i].op
        step = _step_text(ev, i)
        word = "largest" if op in ("max", "amax") else "smallest"
        extreme = "max" if op in ("max", "amax") else "min"
        if kind < 0:  # max of one array: the gradient goes to its largest element
            if parts[0] is None:
                continue
            other = "smallest" if op == "amax" else "largest"
            rules = [
                (f"{extreme} routed to every element: {step} passes the gradient only to its {word} element",
                 _spread_vjp),
                (f"{extreme} routed to the wrong element: {step} passes the gradient to its {word} element, "
                 f"not the {other}", _other_extreme_vjp(op)),
            ]
        else:
            names = [_said(ev, a) for a in args]
            said = [n for n in names if n]
            shown = (", ".join(said[:-1]) + " and " + said[-1]) if len(said) > 1 else (said[0] if said else
                                                                                        "its arguments")
            rules = []
            if len(args) == 2:
                rules.append((f"{extreme} routed to the wrong input: {step} passes the gradient only to its "
                              f"{word} argument", _swapped))
            rules.append((f"{extreme} routed to every input ({shown}): {step} passes the gradient only to its "
                          f"{word} argument", _to_all))
        for message, rule in rules:
            value = _rerun(ev, node, {pos: rule if kind == 0 else (rule,)})
            if value is not None:
                out.append(Mistake("max-routing", message, value))
    return out


def _swapped(m, xs, o):
    return list(reversed(OPS["max"].partials_at(m, xs, o)))


def _to_all(m, xs, o):
    return [1.0] * len(xs)


def _spread_vjp(m, g, xs, o, p):
    return m.expand_to(g, m.shape(xs[0]), p)


def _other_extreme_vjp(op: str):
    def vjp(m, g, xs, o, p):
        x = xs[0]
        shape = m.shape(x)
        other = m.amin(x, p) if op == "amax" else m.amax(x, p)  # of all, or of each slice along axis p
        hits = m.eq(x, m.expand_to(other, shape, p))
        return m.times(m.expand_to(g, shape, p), hits) / m.expand_to(m.sum(hits, p), shape, p)

    return vjp


# ---- convolution and pooling (issue 23) -------------------------------------------------------
def _window_mistakes(ev, node: int, reach: list[bool]) -> list[Mistake]:
    """x̄ of a convolution with the kernel not flipped; max pooling's gradient sent to the wrong
    element of each window (its minimum, its top-left element) or spread over the whole window."""
    import numpy as np

    out = []
    graph = ev.graph
    ops = ("conv2d", "conv1d", "maxpool2d")
    for pos, (i, _kind, args, parts) in _on_the_way(ev, node, reach, ops, MAX_RULE_STEPS):
        op = graph.nodes[i].op
        step = _step_text(ev, i)
        if parts[0] is None:
            continue
        if op in ("conv2d", "conv1d"):
            x, w = _arg_text(ev, args[0]), _arg_text(ev, args[1])
            rules = [("conv-flip", f"the kernel is not flipped in {x}'s adjoint: for {step}, {_adjoint_name(x)} is the full "
                                   f"cross-correlation of the adjoint with the flipped kernel (a full convolution with "
                                   f"{w}), not with {w} as it is", _unflipped_vjp(op))]
        else:
            rules = [
                ("max-routing", f"max routed to the wrong element: {step} sends each window's gradient to its "
                                "largest element, not its smallest", _pool_to(np.argmin)),
                ("max-routing", f"max routed to the wrong element: {step} sends each window's gradient to its "
                                "largest element, not its top-left one", _pool_to(None)),
                ("max-routing", f"max spread over the whole window: {step} sends each window's gradient only "
                                "to its largest element, not to all of them", _pool_spread(1.0)),
                ("max-routing", f"max spread evenly over the window (as average pooling does): {step} sends each "
                                "window's gradient only to its largest element", _pool_spread(None)),
            ]
        for kind_word, message, rule in rules:
            value = _rerun(ev, node, {pos: (rule,) + tuple(parts[1:])})
            if value is not None:
                out.append(Mistake(kind_word, message, value))
    return out


def _unflipped_vjp(op: str):
    def vjp(m, g, xs, o, p):
        import numpy as np

        w = np.asarray(xs[1])
        flipped = w[..., ::-1, ::-1] if w.ndim == 4 else w[..., ::-1]
        return getattr(m, f"{op}_grad_x")(g, xs[0], flipped, p)

    return vjp


def _pool_to(pick: Optional[Callable]):
    """max pooling's VJP with each window's gradient sent to the element `pick` chooses (argmin),
    or to its top-left element (None)."""
    def vjp(m, g, xs, o, p):
        import numpy as np

        from ..core.rules import _scatter_windows, _windows_of

        k, stride = p
        x = np.asarray(xs[0], dtype=float)
        g4 = np.asarray(g, dtype=float)
        single = x.ndim == 3
        x4, g4 = (x[None], g4[None]) if single else (x, g4)
        win = _windows_of(x4, k, stride)
        chosen = np.zeros(win.shape[:-1], dtype=int) if pick is None else pick(win, axis=-1)
        dx = _scatter_windows(np.eye(k * k)[chosen] * g4[..., None], x4.shape, k, stride)
        return dx[0] if single else dx

    return vjp


def _pool_spread(scale: Optional[float]):
    """max pooling's VJP with each window's gradient given whole to every element (scale 1), or
    spread evenly, 1/k² each (None: average pooling's rule)."""
    def vjp(m, g, xs, o, p):
        k = p[0]
        return m.avgpool2d_grad(g, xs[0], p) * (k * k if scale is not None else 1.0)

    return vjp


# ---- softmax with cross-entropy ------------------------------------------------------------
def _softmax_mistakes(ev, node: int, reach: list[bool]) -> list[Mistake]:
    """z̄ = c (p − y) for p = softmax(z) (or log_softmax) met by a cross-entropy loss:
    c y is read off the adjoint of p (−p̄ ∘ p) and must be ≥ 0 with rows summing to
    c > 0; each mistake replaces z̄ and continues the reverse walk from z."""
    import numpy as np

    out = []
    graph = ev.graph
    for _pos, (i, _kind, args, parts) in _on_the_way(ev, node, reach, ("softmax", "log_softmax"), MAX_RULE_STEPS):
        z = args[0]
        if not reach[z] or parts[0] is None or not graph.nodes[i].shape:
            continue
        axis = graph.nodes[i].param
        axis = -1 if axis is None else axis
        o = np.asarray(ev.values[i], dtype=float)
        gs = np.asarray(ev.adjoints[i], dtype=float)
        with np.errstate(all="ignore"):
            if graph.nodes[i].op == "softmax":
                p, scaled_y = o, -gs * o
            else:
                p, scaled_y = np.exp(o), -gs
            c = np.sum(scaled_y, axis=axis, keepdims=True)
            zbar = c * p - scaled_y  # = c (p − y), the contribution through the softmax
        if not (np.all(np.isfinite(zbar)) and np.all(scaled_y >= -1e-12) and np.all(c > 0)):
            continue  # not a cross-entropy
        zname = _arg_text(ev, z) if _said(ev, z) else "the scores"
        pname = _said(ev, i) if graph.nodes[i].op == "softmax" and _said(ev, i) else f"softmax({zname})"
        what = f"softmax with cross-entropy: ∂{ev.output_name}/∂{zname}"
        y = _targets(ev, i)
        wrong = [(f"{what} taken as {pname} instead of {pname} − {y} (the targets {y} left out)", c * p)]
        if node == z:  # downstream, y − p is every sign flipped: the plain `sign` says it
            wrong.append((f"{what} taken as {y} − {pname} instead of {pname} − {y}", -zbar))
        rows = np.ravel(c)
        n = round(1.0 / float(rows[0])) if rows[0] > 1e-9 else 0
        if n >= 2 and np.allclose(rows * n, 1.0, rtol=1e-9, atol=0.0):
            wrong.append((f"{what} without the 1/N of the mean (N = {n})", zbar * n))
            wrong.append((f"{what} taken as {pname} instead of {pname} − {y}, and without the 1/N of the mean "
                          f"(N = {n})", p))
        for message, zwrong in wrong:
            value = _pullback(ev, node, z, zwrong - zbar)
            if value is not None:
                out.append(Mistake("softmax", message, value))
    return out


def _sigmoid_ce_mistakes(ev, node: int, reach: list[bool]) -> list[Mistake]:
    """z̄ = c (p − t) for p = sigmoid(z) met by a binary cross-entropy
    −(t log p + (1 − t) log(1 − p)): t is the value multiplying log(p), c is read off
    z̄ = c (p − t); the mistakes are z̄ taken as p (the targets left out) and t − p."""
    import numpy as np

    out = []
    for _pos, (i, _kind, args, parts) in _on_the_way(ev, node, reach, ("sigmoid",), MAX_RULE_STEPS):
        z = args[0]
        if not reach[z] or parts[0] is None:
            continue
        t_node = _target_node(ev, i)
        if t_node is None:
            continue
        with np.errstate(all="ignore"):
            p = np.asarray(ev.values[i], dtype=float)
            t = np.asarray(ev.values[t_node], dtype=float)
            zbar = np.asarray(ev.adjoints[z], dtype=float)
            gap = p - t
            c = np.where(np.abs(gap) > 1e-12, zbar / np.where(gap == 0, 1.0, gap), np.nan)
        known = c[np.isfinite(c)] if np.ndim(c) else (np.array([c]) if np.isfinite(c) else np.array([]))
        if known.size == 0 or not np.allclose(known, known.flat[0], rtol=1e-9, atol=0) or known.flat[0] <= 0:
            continue  # not a binary cross-entropy
        c0 = float(known.flat[0])
        zname = _arg_text(ev, z) if _said(ev, z) else "the score"
        pname = _said(ev, i) or f"sigmoid({zname})"
        tname = _said(ev, t_node) or "t"
        what = f"sigmoid with cross-entropy: ∂{ev.output_name}/∂{zname}"
        wrong = [(f"{what} taken as {pname} instead of {pname} − {tname} (the target {tname} left out)", c0 * p)]
        if node == z:  # downstream, t − p is every sign flipped: the plain `sign` says it
            wrong.append((f"{what} taken as {tname} − {pname} instead of {pname} − {tname}", -c0 * gap))
        for message, zwrong in wrong:
            value = _pullback(ev, node, z, zwrong - zbar)
            if value is not None:
                out.append(Mistake("softmax", message, value))
    return out


def _target_node(ev, i: int) -> Optional[int]:
    """The node multiplying log(node i) in a loss (``t`` of ``t*log(p)``), if any."""
    graph = ev.graph
    logs = set()
    for n in graph.nodes[i + 1:]:
        if n.op == "log" and n.args[0] == i:
            logs.add(n.id)
        elif n.op == "mul" and logs & set(n.args):
            other = [a for a in n.args if a not in logs]
            if other and graph.nodes[other[0]].op != CONST:
                return other[0]
    return None


def _targets(ev, i: int) -> str:
    """The name of the targets the log-probabilities of node i are multiplied by
    (``y`` of ``-sum(y*log(p))``), or ``y``."""
    graph = ev.graph
    logs = {i} if graph.nodes[i].op == "log_softmax" else set()
    for n in graph.nodes[i + 1:]:
        if n.op == "log" and n.args[0] == i:
            logs.add(n.id)
        elif n.op == "mul" and logs & set(n.args):
            other = [a for a in n.args if a not in logs]
            if other and _said(ev, other[0]) and graph.nodes[other[0]].op != CONST:
                return _said(ev, other[0])  # type: ignore[return-value]
    return "y"


def _pullback(ev, node: int, z: int, delta) -> Optional[object]:
    """∂out/∂(node) had z̄ been off by `delta`: the truth plus delta pulled back from z
    (the reverse walk is linear in its seed)."""
    try:
        back = ev.tape.backward(ev.values, delta, output=z)[node]
        value = ev.adjoints[node] + back
    except Exception:
        return None
    return value if all_finite(value) else None


# ---- a missing factor of the chain ---------------------------------------------------------
#: at most this many "one factor left out" reverse walks per question
MAX_CHAIN = 24
#: ops whose missing factor another class names more precisely
_NAMED_ELSEWHERE = {"relu", "leaky_relu"}


def _chain_mistakes(ev, node: int, reach: list[bool]) -> list[Mistake]:
    """For each elementwise step between the question's node and the output, one local
    partial replaced by 1 (a factor of the chain left out), nearest the output first."""
    graph = ev.graph
    out: list[Mistake] = []
    for pos, (i, kind, args, parts) in enumerate(ev.tape.reverse_code):
        if kind < 0 and i > node and reach[i] and graph.nodes[i].op in _SHAPE_KEEPING and reach[args[0]] \
                and parts[0] is not None and graph.nodes[i].shape == graph.nodes[args[0]].shape:
            # a Jacobian left out (softmax's): the adjoint passed through unchanged
            value = _rerun(ev, node, {pos: (_pass_through,) + tuple(parts[1:])})
            if value is not None and len(out) < MAX_CHAIN:
                op = graph.nodes[i].op
                out.append(Mistake("chain", f"a factor of the chain is missing: {op}'s Jacobian at "
                                            f"{_step_text(ev, i)}", value))
            continue
        if kind <= 0 or i <= node or not reach[i] or graph.nodes[i].op in _NAMED_ELSEWHERE:
            continue
        for slot, a in enumerate(args):
            p = parts[slot]
            if not reach[a] or p is None or (p.__class__ is float and p in (1.0, -1.0, 0.0)):
                continue
            if _is_one(ev, kind, parts, i, args, slot) or _halving(ev, i, slot):
                continue  # leaving out a factor 1 changes nothing; a 1/2 or 2 left out is a `factor`
            if len(out) >= MAX_CHAIN:
                return out
            new = list(parts)
            new[slot] = 1.0
            value = _rerun(ev, node, {pos: tuple(new)})
            if value is None:
                continue
            h, z = _said(ev, i), _said(ev, a)
            factor = f"∂{h}/∂{z}" if h and z else "the local derivative"
            out.append(Mistake("chain", f"a factor of the chain is missing: {factor} at {_step_text(ev, i)}",
                               value))
    return out


#: structural ops of one array argument whose result has its shape: their Jacobian can be left out
_SHAPE_KEEPING = {"softmax", "log_softmax", "cumsum"}


def _pass_through(m, g, xs, o, p):
    return g


def _halving(ev, i: int, slot: int) -> bool:
    """Is the partial in `slot` of node i a constant 2 or 1/2 (``0.5*r``, ``r/2``, ``2*r``)?"""
    graph = ev.graph
    n = graph.nodes[i]
    if n.op not in ("mul", "div") or len(n.args) != 2:
        return False
    other = graph.nodes[n.args[1 - slot]]
    if other.op != CONST or (n.op == "div" and slot == 1):
        return False
    return other.param in ((0.5, 2.0) if n.op == "mul" else (2.0,))


def _is_one(ev, kind: int, parts, i: int, args, slot: int) -> bool:
    """Is that local partial 1 everywhere at the point (so leaving it out changes nothing)?"""
    xs = [ev.values[a] for a in args]
    if all(x.__class__ is float for x in xs):
        try:
            return safe_partials(SCALAR, kind, parts, xs, ev.values[i])[slot] == 1.0
        except Exception:
            return False
    import numpy as np

    with np.errstate(all="ignore"):
        try:
            p = safe_partials(ev.tape.array, kind, parts, xs, ev.values[i])[slot]
        except Exception:
            return False
        return bool(np.all(np.asarray(p) == 1.0))


# ---- σ for σ' ---------------------------------------------------------------------------
def _squash_mistakes(ev, node: int) -> list[Mistake]:
    """σ (or tanh) itself where its derivative belongs: in every σ at once, then, where
    there are several, in each one alone (an LSTM's tanh gate, not the tanh of its cell)."""
    graph = ev.graph
    out = []
    for op, (name, rule) in _SQUASHES.items():
        where = [pos for pos, (i, *_rest) in enumerate(ev.tape.reverse_code) if i > node and graph.nodes[i].op == op]
        if not where:
            continue
        choices = [(where, "")] + ([([pos], _step_text(ev, ev.tape.reverse_code[pos][0])) for pos in where]
                                   if len(where) > 1 else [])
        for positions, step in choices[:1 + MAX_RULE_STEPS]:
            value = _rerun(ev, node, {pos: (_itself,) for pos in positions})
            if value is None:
                continue
            at = f" (at {step})" if step else ""
            out.append(Mistake("sigma", f"{name} used where its derivative belongs{at}: {rule}, not {name}(z)",
                               value))
    return out


def _itself(m, x, o):
    return o


def _squash_argument_mistakes(ev, node: int, reach: list[bool]) -> list[Mistake]:
    """σ'(h) for σ'(z) (the derivative applied to the output h = σ(z)), and z(1 − z)
    written for h(1 − h); tanh likewise.  Every σ (or tanh) between the question and
    the output changed at once, as a student who learned the rule wrong would, and
    then (when there are several) each one alone."""
    out = []
    for op in _SQUASHES:
        steps = _on_the_way(ev, node, reach, (op,), len(ev.tape.reverse_code))
        steps = [(pos, entry) for pos, entry in steps if entry[3][0] is not None]
        groups = [steps] + ([[one] for one in steps[:MAX_RULE_STEPS]] if len(steps) > 1 else [])
        for group in groups if steps else []:
            for message, rule in _squash_argument_rules(ev, op, [entry for _, entry in group]):
                value = _rerun(ev, node, {pos: (rule,) for pos, _ in group})
                if value is not None:
                    out.append(Mistake("sigma", message, value))
    return out


def _squash_argument_rules(ev, op: str, entries: list[tuple]) -> list[tuple[str, Callable]]:
    """The two messages and wrong rules for σ (or tanh) at the steps `entries`."""
    i, _, args, _ = entries[0]
    z = _said(ev, args[0]) or "z"
    h = _said(ev, i) or (f"σ({z})" if op == "sigmoid" else f"tanh({z})")
    step = _step_text(ev, i) + (f" (and {len(entries) - 1} more)" if len(entries) > 1 else "")
    if op == "sigmoid":
        return [(f"σ' taken at the output: σ({h})(1 − σ({h})) for σ'({z}) = {h}(1 − {h}), at {step}",
                 _sigmoid_of_output),
                (f"{z}(1 − {z}) written for {h}(1 − {h}): the derivative of {step} is {h}(1 − {h})",
                 _sigmoid_of_input)]
    return [(f"tanh' taken at the output: 1 − tanh({h})² for tanh'({z}) = 1 − {h}², at {step}", _tanh_of_output),
            (f"1 − {z}² written for 1 − {h}²: the derivative of {step} is 1 − {h}²", _tanh_of_input)]


def _sigmoid_of_output(m, x, o):
    s = m.sigmoid(o)
    return s * (1.0 - s)


def _sigmoid_of_input(m, x, o):
    return x * (1.0 - x)


def _tanh_of_output(m, x, o):
    t = m.tanh(o)
    return 1.0 - t * t


def _tanh_of_input(m, x, o):
    return 1.0 - x * x


# ---- transposed, sign, factors ------------------------------------------------------------
def _simple_mistakes(ev, node: int, truth: object, reach: Optional[list[bool]] = None) -> list[Mistake]:
    out = []
    if len(getattr(truth, "shape", ())) == 2:
        out.append(Mistake("transposed", "the matrix is transposed (e.g. x δᵀ where δ xᵀ belongs, "
                           "or W δ where Wᵀ δ belongs)", truth.T))  # type: ignore[attr-defined]
    out.append(Mistake("sign", "the sign is wrong", -truth))  # type: ignore[operator]
    for step in _halves(ev, reach) if reach is not None else []:
        out.append(Mistake("factor", f"off by a factor of 2: the 1/2 of {step} is left out",
                           truth * 2))  # type: ignore[operator]
    out.append(Mistake("factor", "off by a factor of 2: a factor 2 is missing (as in d/dx x² = 2x)",
                       truth / 2))  # type: ignore[operator]
    out.append(Mistake("factor", "off by a factor of 2: there is a factor 2 too many", truth * 2))  # type: ignore[operator]
    means = _mean_sizes(ev)
    for m in means:
        out.append(Mistake("factor", f"off by a factor of m = {m}: the 1/m of the mean over {m} "
                           "examples is missing", truth * m))  # type: ignore[operator]
        out.append(Mistake("factor", f"off by a factor of m = {m}: divided by m = {m} once too often",
                           truth / m))  # type: ignore[operator]
    for n, name in _batch_sizes(ev):
        if n in means or n == 2:
            continue
        out.append(Mistake("factor", f"off by a factor of N = {n}, the batch of {n} rows of {name}: "
                           "a 1/N is missing", truth * n))  # type: ignore[operator]
        out.append(Mistake("factor", f"off by a factor of N = {n}, the batch of {n} rows of {name}: "
                           "divided by N once too often", truth / n))  # type: ignore[operator]
    return out


def _batch_sizes(ev) -> list[tuple[int, str]]:
    """(N, input name) for the inputs that are a batch of rows (matrices), distinct N:
    a loss over a batch divides by N, and a forgotten 1/N is a classic."""
    found: list[tuple[int, str]] = []
    for name, value in ev.env.items():
        shape: tuple = tuple(getattr(value, "shape", ()))
        if len(shape) == 2 and shape[0] > 1 and shape[0] not in [n for n, _ in found]:
            found.append((int(shape[0]), name))
    return found


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


# ---- shared weights over time steps ---------------------------------------------------------
class _Steps:
    """The uses of a node grouped by the call of one ``def`` they lie in (time steps)."""

    __slots__ = ("fn", "calls", "everything")

    def __init__(self, fn: str, calls: dict[int, list[int]], everything: bool) -> None:
        #: the def called once per step
        self.fn = fn
        #: k of each call ``fn#k`` -> the consumers in it, in call order
        self.calls = dict(sorted(calls.items()))
        #: every use lies in one of those calls (none outside, e.g. in a regularizer)
        self.everything = everything


def _step_calls(ev, consumers: list[int]) -> Optional[_Steps]:
    """The consumers grouped by the outermost call ``f#k`` they lie in, for the ``def``
    whose calls hold them most often, when at least two of its calls do; else None."""
    graph = ev.graph
    if not graph.calls:
        return None
    by_def: dict[str, dict[int, list[int]]] = {}
    outside = 0
    for c in consumers:
        call = graph.nodes[c].call
        name, _, k = str(graph.calls[graph.call_path(call)[0]][0]).rpartition("#") if call >= 0 else ("", "", "")
        if not k.isdigit():
            outside += 1
            continue
        by_def.setdefault(name, {}).setdefault(int(k), []).append(c)
    if not by_def:
        return None
    fn = max(by_def, key=lambda f: len(by_def[f]))
    if len(by_def[fn]) < 2:
        return None
    return _Steps(fn, by_def[fn], outside == 0 and len(by_def) == 1)


def _uses_of(ev, node: int) -> Optional[list[tuple[int, int]]]:
    """(position in reverse_code, argument slot) of each use of `node` that a reverse
    walk can leave out; None when a use cannot be left out alone (a variadic op)."""
    found = []
    for pos, (_i, kind, args, parts) in enumerate(ev.tape.reverse_code):
        if node not in args:
            continue
        if kind == 0 or callable(parts):
            return None
        for slot, a in enumerate(args):
            if a == node and parts[slot] is not None:
                found.append((pos, slot))
    return found


def _walk_without(ev, node: int, dropped: list[tuple[int, int]]) -> object:
    """∂out/∂(node) by a reverse walk that leaves out the uses `dropped`."""
    tape = copy.copy(ev.tape)
    code = list(tape.reverse_code)
    for pos, slot in dropped:
        i, kind, args, parts = code[pos]
        parts = list(parts)
        parts[slot] = None if kind < 0 else 0.0  # a structural VJP left out; an elementwise partial 0
        code[pos] = (i, kind, args, tuple(parts))
    tape.reverse_code = code
    return tape.backward(ev.values)[node]


def _time_step_mistakes(ev, node: int) -> list[Mistake]:
    """A weight shared by the calls of one ``def`` (the time steps of an unrolled RNN):
    the last step only, or the first or the last step left out.  Uses outside those
    calls (a regularizer) are kept in each."""
    uses = _uses_of(ev, node)
    if not uses or len(uses) < 2:
        return []
    code = ev.tape.reverse_code
    steps = _step_calls(ev, [code[pos][0] for pos, _ in uses])
    if steps is None:
        return []
    name, fn = ev.graph.label(node), steps.fn
    ks = list(steps.calls)
    first_k, last_k = ks[0], ks[-1]
    bptt = (f"backprop through time sums over all {len(ks)} steps ({name} is shared by "
            f"{_and_words([f'{fn}#{k}' for k in ks])})")
    in_step = {c: k for k, cs in steps.calls.items() for c in cs}  # consumer -> its step
    wanted = [
        ({last_k}, f"only the last time step's contribution to {name}; {bptt}"),
        (set(ks) - {first_k}, f"the first time step's contribution to {name} ({fn}#{first_k}) is missing; {bptt}"),
        (set(ks) - {last_k}, f"the last time step's contribution to {name} ({fn}#{last_k}) is missing; {bptt}"),
    ]
    out: list[Mistake] = []
    for keep, message in wanted:
        dropped = [(pos, slot) for pos, slot in uses  # a use outside the steps is always kept
                   if code[pos][0] in in_step and in_step[code[pos][0]] not in keep]
        try:
            value = _walk_without(ev, node, dropped)
        except Exception:  # a rerun that fails explains nothing
            continue
        out.append(Mistake("time-steps", message, value))
    return out


def _and_words(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# ---- a transpose missing (or extra) in one product's VJP -------------------------------------
def _transposed_mistakes(ev, node: int) -> list[Mistake]:
    """For each product ``a @ b`` between `node` and the output, and each operand the
    question's adjoint flows through: the reverse walk with the *other* operand
    transposed in that operand's VJP (W ā for Wᵀ ā), where the shapes allow it."""
    graph = ev.graph
    if ev.tape.scalar:
        return []
    reach = _reach(ev, node)
    out: list[Mistake] = []
    for pos, (i, kind, args, parts) in enumerate(ev.tape.reverse_code):
        if kind >= 0 or callable(parts) or graph.nodes[i].op not in ("matmul", "dot") or not reach[i]:
            continue
        for slot in (0, 1):
            a, other = args[slot], args[1 - slot]
            if parts[slot] is None or not reach[a] or len(graph.nodes[other].shape) != 2:
                continue
            if len(out) >= MAX_TRANSPOSED:
                return out
            tape = copy.copy(ev.tape)
            code = list(tape.reverse_code)
            changed = list(parts)
            changed[slot] = _other_transposed(parts[slot], slot)
            code[pos] = (i, kind, args, tuple(changed))
            tape.reverse_code = code
            try:
                value = tape.backward(ev.values)[node]
            except Exception:  # shapes that do not allow it: no such mistake
                continue
            out.append(Mistake("transposed", _transposed_message(ev, i, slot), value))
    return out


def _other_transposed(vjp, slot: int):
    """`vjp` of operand `slot` of a product, computed with the other operand transposed;
    a ValueError when that does not give the operand's shape (a non-square matrix)."""

    def wrong(m, g, xs, o, p):
        import numpy as np

        ys = list(xs)
        ys[1 - slot] = m.transpose(xs[1 - slot])
        c = vjp(m, g, ys, o, p)
        if np.shape(c) != np.shape(xs[slot]):
            raise ValueError("the transposed product does not fit")
        return c

    return wrong


def _transposed_message(ev, i: int, slot: int) -> str:
    """"a transpose is missing: the adjoint of x through a = W @ x is Wᵀ ā, not W ā"."""
    graph = ev.graph
    a, other = graph.nodes[i].args[slot], graph.nodes[i].args[1 - slot]
    named = _named(graph, i)
    g = _adjoint_name(graph.label(i)) if named else "ḡ"
    o = graph.nodes[other]
    flipped = o.op == "transpose" and not _named(graph, other)
    if flipped:  # written W.T in the product: the plain one is W
        plain, transposed = _t(graph.label(o.args[0])), graph.label(o.args[0])
    else:
        plain, transposed = graph.label(other), _t(graph.label(other))
    if slot == 1:  # ∂/∂b of a @ b: aᵀ ḡ
        right, wrong, what = f"{transposed} {g}", f"{plain} {g}", "missing"
    elif len(graph.nodes[a].shape) == 1:  # ∂/∂x of x @ B: B ḡ
        right, wrong, what = f"{plain} {g}", f"{transposed} {g}", "too many"
    else:  # ∂/∂A of A @ B: ḡ Bᵀ
        right, wrong, what = f"{g} {transposed}", f"{g} {plain}", "missing"
    if flipped:  # the product's W.T: the slip is the other way round
        what = "too many" if what == "missing" else "missing"
    head = "a transpose is missing" if what == "missing" else "a transpose too many"
    if named:
        return (f"{head}: the adjoint of {graph.label(a)} through {graph.label(i)} = {_written(ev, i)} "
                f"is {right}, not {wrong}")
    product = _written(ev, i)
    return f"{head}: the adjoint of {graph.label(a)} through {product} is {right}, not {wrong} (ḡ: the adjoint of {product})"


def _named(graph, i: int) -> bool:
    """Did the student name node `i` (an input or an assigned step)?"""
    return graph.names.get(graph.nodes[i].name) == i


def _written(ev, i: int) -> str:
    """Node `i`'s right-hand side as the student wrote it: steps gradcli named itself
    are spelled out, one level deep (``X @ W + b``, not ``c + b``)."""
    graph = ev.graph
    node = graph.nodes[i]
    if node.op in (INPUT, CONST) or all(_plain(graph, a) for a in node.args):
        return graph.definition(i)
    # the unnamed arguments are written as their text
    return graph.definition(i, lambda a: graph.label(a) if _plain(graph, a) else _spelled(ev, a))


def _plain(graph, a: int) -> bool:
    return _named(graph, a) or graph.nodes[a].op in (INPUT, CONST)


def _spelled(ev, a: int) -> str:
    """An unnamed step's text, in parentheses unless it reads as one piece (W.T, f(x))."""
    graph, node = ev.graph, ev.graph.nodes[a]
    text = graph.definition(a)
    if node.op == "transpose" and ev.source[node.pos:node.pos + 1] == "T":  # written W.T
        text = f"{graph.label(node.args[0])}.T"
    if text.isidentifier() or text.endswith((")", "]", ".T")):
        return text
    return f"({text})"


def _t(label: str) -> str:
    return f"{label}ᵀ" if label.isidentifier() else f"({label})ᵀ"


def _adjoint_name(label: str) -> str:
    """ā for a, dz1 for z1 (as `gradcli diff` names adjoints), ∂/∂ otherwise."""
    if len(label) == 1 and label.isalpha():
        return unicodedata.normalize("NFC", label + "\u0304")  # ā as one character where there is one
    if label.isidentifier():
        return "d" + label
    return f"the adjoint of {label}"


# ---- a broadcast operand's gradient not summed over the batch --------------------------------
def _broadcast_mistakes(ev, node: int) -> list[Mistake]:
    """`node` broadcast by an elementwise op (a bias added to every row): its adjoint
    there before the sum over the broadcast axes, that adjoint's first row, and the mean
    of its rows."""
    graph = ev.graph
    if ev.tape.scalar:
        return []
    import numpy as np

    shape = tuple(graph.nodes[node].shape)
    out: list[Mistake] = []
    for i, kind, args, parts in ev.tape.reverse_code:
        if kind < 0 or node not in args or tuple(graph.nodes[i].shape) == shape:
            continue
        big = tuple(graph.nodes[i].shape)
        xs = [ev.values[a] for a in args]
        try:
            local = safe_partials(ev.tape.array, kind, parts, xs, ev.values[i])
            slot = args.index(node)
            if local[slot] is None:
                continue
            with np.errstate(all="ignore"):
                full = np.broadcast_to(np.asarray(ev.adjoints[i], dtype=float) * local[slot], big).astype(float)
        except Exception:
            continue
        lead = len(big) - len(shape)
        axes = tuple(range(lead)) + tuple(lead + j for j, d in enumerate(shape) if d == 1 and big[lead + j] != 1)
        if not axes:
            continue
        n = 1
        for ax in axes:
            n *= big[ax]
        first = full[tuple(0 if ax < lead else slice(0, 1) if ax in axes else slice(None)
                           for ax in range(len(big)))].reshape(shape)
        with np.errstate(all="ignore"):
            mean = full.mean(axis=axes).reshape(shape)
        name = graph.label(node)
        where = f"{graph.label(i)} = {_written(ev, i)}" if _named(graph, i) else _written(ev, i)
        rows = "rows" if len(big) >= 2 else "elements"
        why = (f"{name} is broadcast to all {n} {rows} of {where}, so its gradient is the sum of the "
               f"{n} {rows} of that adjoint")
        out.append(Mistake("broadcast", f"the gradient of {name} is not summed over the batch: {why}", full))
        out.append(Mistake("broadcast", f"only the first row of the gradient of {name}: {why}", first))
        out.append(Mistake("factor", f"the {rows} of the gradient of {name} are averaged, not summed (off by a "
                           f"factor of N = {n}): {why}", mean))
    return out


# ---- two mistakes at once ------------------------------------------------------------------
def _combined_mistakes(ev, found: list[Mistake]) -> list[Mistake]:
    """A sign or factor-2 mistake on top of each transposed, softmax, ReLU-mask,
    broadcast or time-step candidate: its value negated, doubled or halved."""
    out: list[Mistake] = []
    for m in found:
        if m.kind not in _COMBINABLE or m.value is None:
            continue
        v = m.value
        out.append(Mistake(f"{m.kind}+sign", f"{m.message}; and the sign is wrong", -v))  # type: ignore[operator]
        out.append(Mistake(f"{m.kind}+factor", f"{m.message}; and a factor 2 is missing",
                           v / 2))  # type: ignore[operator]
        out.append(Mistake(f"{m.kind}+factor", f"{m.message}; and there is a factor 2 too many",
                           v * 2))  # type: ignore[operator]
    return out


def _halves(ev, reach: list[bool]) -> list[str]:
    """The steps after the question's node that halve (``0.5*r^2``, ``r^2/2``), first
    one only: a 1/2 left out doubles the answer."""
    graph = ev.graph
    for n in graph.nodes:
        if not reach[n.id] or n.op not in ("mul", "div") or len(n.args) != 2:
            continue
        consts = [graph.nodes[a].param for a in n.args if graph.nodes[a].op == CONST]
        if n.op == "mul" and 0.5 in consts:
            return [_step_text(ev, n.id)]
        if n.op == "div" and graph.nodes[n.args[1]].op == CONST and graph.nodes[n.args[1]].param == 2.0:
            return [_step_text(ev, n.id)]
    return []
