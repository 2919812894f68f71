"""Where a student's formula is tested: points that keep data data, and cross every kink.

A formula right at the given point may still be wrong; so it is also evaluated at other
points, and there compared with the engine's adjoint.  Two things make those points fair:

* **Data stays data.**  Inputs that are data rather than variables keep their kind: a
  one-hot vector (or matrix of one-hot rows) stays one-hot, a probability vector stays
  on the simplex, a 0/1 mask stays 0/1, whole numbers stay whole.  ``p - y`` is the
  gradient of softmax with cross-entropy only for a one-hot ``y``; moving ``y`` off that
  set would reject every textbook answer.  A program can also say it (``#: data y mask``,
  or ``--data NAME``): such an input keeps its kind when one is recognised, else its value.
  An input read as integers (the index of ``x[idx]``, the labels of ``pick``/``onehot``)
  keeps its value: it is data, and another whole number could fall out of range.
* **Kinks are crossed.**  Every piecewise op (relu, max, min, abs, clip, where,
  comparisons; the op row's ``side``) is seen on every side it can take, so the forgotten
  ReLU mask (``x`` for ``relu(w*x)``), right on one side only, is found.  Candidate
  points are drawn near the point and far from it, and chosen greedily to cover the
  sides not yet seen, then the combinations of sides not yet seen (``x > y`` for
  ∂/∂x of ``max(max(x, y), z)`` is wrong only where z is the largest and x > y), then
  near and far by turns.

The candidate points are evaluated with the engine itself (one forward pass each); the
chosen ones also get a backward pass.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from ..core.errors import GradcliError
from ..core.graph import INPUT
from ..core.ops import OPS
from ..run.evaluate import find_kinks

#: points a formula is compared at, besides the given one
POINTS = 12
#: candidate points drawn to choose them from
CANDIDATES = 96

KINDS = ("real", "whole", "onehot", "simplex", "mask", "fixed")


def declared_data(source: str) -> list[str]:
    """The names a program declares as data: ``#: data y mask`` lines."""
    names: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            key, _, rest = stripped[2:].strip().partition(" ")
            if key == "data":
                names += [n for n in rest.replace(",", " ").split() if n not in names]
    return names


def kind_of(value: Any) -> str:
    """What an input's value looks like: real, whole, onehot, simplex or mask."""
    import numpy as np

    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        return "real"
    whole = bool(np.all(arr == np.round(arr)))
    if arr.ndim >= 1 and arr.shape[-1] >= 2:
        rows = arr.reshape(-1, arr.shape[-1])
        if whole and np.all((rows == 0) | (rows == 1)) and np.all(rows.sum(axis=1) == 1):
            return "onehot"
        if np.all(rows >= 0) and np.allclose(rows.sum(axis=1), 1.0, rtol=0, atol=1e-9) and not whole:
            return "simplex"
    if arr.ndim >= 1 and arr.size >= 2 and np.all((arr == 0) | (arr == 1)):
        return "mask"
    if whole:
        return "whole"
    return "real"


def input_kinds(env: dict, data: Iterable[str] = (), integers: Iterable[str] = ()) -> dict[str, str]:
    """Each input's kind; a declared data input that is plain real stays fixed, and so does
    integer data (indices, labels: `Evaluation.data`), whatever it looks like."""
    declared = set(data)
    fixed = set(integers)
    kinds = {}
    for name, value in env.items():
        kind = kind_of(value)
        if (name in declared and kind in ("real",)) or name in fixed:
            kind = "fixed"
        kinds[name] = kind
    return kinds


def _draw(value: Any, kind: str, rng: random.Random, far: bool) -> Any:
    """A new value of the same kind (`far`: a wide draw, which crosses kinks)."""
    import numpy as np

    shape = getattr(value, "shape", ())
    arr = np.asarray(value, dtype=float)
    n = int(arr.size)

    def uniform(k: int) -> np.ndarray:
        return np.array([rng.random() for _ in range(k)])

    if kind == "fixed":
        return value
    if kind == "onehot":
        rows = arr.reshape(-1, arr.shape[-1]).copy()
        rows[:] = 0.0
        for r in range(rows.shape[0]):
            rows[r, rng.randrange(rows.shape[1])] = 1.0
        return rows.reshape(shape)
    if kind == "simplex":
        rows = -np.log(uniform(n).reshape(-1, arr.shape[-1]) + 1e-12)
        rows /= rows.sum(axis=1, keepdims=True)
        return rows.reshape(shape)
    if kind == "mask":
        return (uniform(n) < 0.5).astype(float).reshape(shape)
    scale = np.maximum(np.abs(arr), 1.0)
    if kind == "whole":
        step = np.array([rng.randint(-3, 3) for _ in range(n)]).reshape(arr.shape)
        if far:  # any whole number within a few times the value's size, either sign
            out = np.round((uniform(n).reshape(arr.shape) * 2 - 1) * 2.5 * scale + step)
        else:
            out = arr + step
        return float(out) if not shape else out
    if far:  # anywhere within a few times the value's size, either sign
        out = (uniform(n).reshape(arr.shape) * 2 - 1) * 2.5 * scale
    else:  # near: within 10 % (and 0.05) of the value
        out = arr * (1 + 0.2 * (uniform(n).reshape(arr.shape) - 0.5)) + 0.1 * (uniform(n).reshape(arr.shape) - 0.5)
    return float(out) if not shape else out


def kink_nodes(graph, live: list) -> list[int]:
    """The piecewise nodes an input reaches."""
    return [n.id for n in graph.nodes
            if n.op in OPS and OPS[n.op].side is not None and live[n.id]]


def sides(graph, values: list, kinks: list[int]) -> set[tuple]:
    """Every (node, element, side) at a point: the pieces the point's kinks are on."""
    import numpy as np

    seen: set[tuple] = set()
    for i in kinks:
        node = graph.nodes[i]
        side_of = OPS[node.op].side
        assert side_of is not None
        try:
            s = np.asarray(side_of(*[values[a] for a in node.args]))
        except Exception:  # a side that cannot be read says nothing about coverage
            continue
        for k, v in enumerate(np.ravel(s)):
            seen.add((i, k, float(v)))
    return seen


@dataclass
class Point:
    """One point a formula is tested at: its inputs, every node's value, and the sides."""

    env: dict
    values: list
    sides: set
    far: bool


def choose(ev, kinds: dict[str, str], count: int = POINTS, seed: int = 0) -> list[Point]:
    """Up to `count` points (besides ev's own) where the program evaluates, chosen to
    cover every side of every kink and every combination of sides; the rest are near
    and far by turns (near only, when the program has no kinks)."""
    rng = random.Random(seed)
    graph, tape = ev.graph, ev.tape
    kinks = kink_nodes(graph, tape.live)
    given = sides(graph, ev.values, kinks)
    if ev.kinks:  # the given point sits on a kink: every side is still to be seen
        given = set()
    pool = _candidates(ev, kinds, rng, CANDIDATES if kinks else count * 2, bool(kinks),
                       None if kinks else count)
    chosen: list[Point] = []
    covered = set(given)
    while pool and len(chosen) < count:
        best = max(range(len(pool)), key=lambda j: (len(pool[j].sides - covered), not pool[j].far))
        gain = pool[best].sides - covered
        if not gain:
            break
        covered |= gain
        chosen.append(pool.pop(best))
    # then every combination of sides the candidates show: y > x > z is a piece of
    # max(x, max(y, z)) that no kink's sides alone ask for, and ``x > z`` is wrong only there
    patterns = {frozenset((i, s) for i, _, s in given)} | {frozenset((i, s) for i, _, s in p.sides) for p in chosen}
    rest = []
    for p in pool:
        pattern = frozenset((i, s) for i, _, s in p.sides)
        if len(chosen) < count and pattern not in patterns:
            patterns.add(pattern)
            chosen.append(p)
        else:
            rest.append(p)
    for p in rest:  # in the order drawn: near and far by turns
        if len(chosen) >= count:
            break
        chosen.append(p)
    return chosen


def _candidates(ev, kinds: dict[str, str], rng: random.Random, draws: int, far_too: bool,
                enough: Optional[int]) -> list[Point]:
    """Points drawn near the given one (and, `far_too`, far from it by turns) where the
    program evaluates off its kinks; at most `enough` of them (None: all that evaluate)."""
    import numpy as np

    graph, tape = ev.graph, ev.tape
    kinks = kink_nodes(graph, tape.live)
    pool: list[Point] = []
    for k in range(draws):
        far = far_too and k % 2 == 1
        env = {name: _draw(value, kinds.get(name, "real"), rng, far) for name, value in ev.env.items()}
        try:
            with np.errstate(all="ignore"):
                values = tape.forward(env)
            if find_kinks(graph, values, tape.live):
                continue  # on a kink itself: the derivative there is a convention, not a side
        except (GradcliError, ArithmeticError, ValueError):
            continue
        pool.append(Point(env, values, sides(graph, values, kinks) if kinks else set(), far))
        if enough is not None and len(pool) >= enough:
            break
    return pool


def spare(ev, kinds: dict[str, str], seed: int = 1) -> list[Point]:
    """More points, near and far by turns, for a formula with kinks of its own
    (``2*abs(x)`` for the derivative of ``x^2``, right only where x > 0): drawn whether or
    not the program has kinks, and only when such a formula asks."""
    return _candidates(ev, kinds, random.Random(seed), CANDIDATES, True, None)


def side_words(graph, node: int, value: float) -> str:
    """A side of a kink in the student's terms: ``w*x > 0`` for relu(w*x)."""
    n = graph.nodes[node]
    arg = graph.label(n.args[0]) if n.args else "?"
    inner = graph.definition(n.args[0]) if n.args and graph.nodes[n.args[0]].op != INPUT else arg
    kind = OPS[n.op].kink_kind if n.op in OPS else ""
    if kind == "side":
        return f"{inner} > 0" if value else f"{inner} <= 0"
    if kind == "extreme" and len(n.args) >= 2:
        return f"{graph.label(n.args[int(value)])} is the {'largest' if n.op == 'max' else 'smallest'}"
    return f"{graph.label(node)} = {graph.definition(node)} on its other side"


def differing_kink(given: set, agree: list[set], disagree: list[set]) -> Optional[tuple[int, float]]:
    """The kink side the disagreeing points share and the given point and agreeing ones
    lack: (node, side), when there is one."""
    if not disagree:
        return None
    common = set.intersection(*[{(i, s) for i, _, s in d} for d in disagree])
    own = {(i, s) for i, _, s in given}
    seen = set(own)
    for ok in agree:
        seen |= {(i, s) for i, _, s in ok}
    # a side no agreeing point has; else one the given point lacks (a point on that side
    # may agree by chance: max(y,z) + x + y for ∂/∂y of (x+y)*max(y,z) where x + y = 0)
    for node, side in sorted(common - seen) or sorted(common - own):
        return node, side
    return None


