"""A grading corpus built from real backprop homework, with its own NumPy oracle.

Issue 20 asks for a grader that never rejects a right answer, never accepts a wrong
one and names the classic mistake.  This module builds, by code, a few hundred
student answers to homework in the style of CS231n (linear layers, ReLU/sigmoid MLPs,
softmax with cross-entropy, batches), CS224n (RNNs unrolled in time, LSTM gates,
attention) and the lecture notes ((a+b)(b+1), (x+y)·max(y,z), sin(x²)).

Each `Family` is a gradcli program at one point, plus a NumPy oracle written out by
hand (forward and backward, CS231n style) that knows nothing of gradcli.  From it come
the `Answer` s:

* right numbers: the oracle rounded to 3, 4 and 6 significant digits, and exact;
* right formulas, in several equivalent forms, each with a NumPy *twin* (a Python
  function of the point's values, never an eval of the text) so its label can be
  checked at random points;
* wrong numbers, each made by applying ONE mistake class by hand in NumPy and rounded
  to 4 significant digits, and wrong formulas likewise, with their twins.

Every answer records its id, family, question (``expect``, ``expect-formula`` or
``expect-value``), the name asked, the text a student writes, right or wrong, and the
mistake class (`KINDS`, as in the grader's diagnoses).  `scores` runs answers through
a judge and counts the three figures the issue quotes; `tests/test_grading_corpus.py`
and ``benchmarks/grader.py`` both use it.

Inputs that are data (one-hot labels, 0/1 targets) are declared in the program with
``#: data NAME`` and the oracle's random points keep them in kind.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

import numpy as np

#: the mistake classes (grader-shared.md); combined mistakes join these with "+"
KINDS = ("transposed", "sigma", "softmax", "relu-mask", "broadcast", "time-steps", "fan-out", "paths",
         "chain", "max-routing", "sign", "factor")
#: significant digits of the right numeric answers (None: the exact float, as repr writes it)
RIGHT_DIGITS = (3, 4, 6, None)
#: significant digits of the wrong numeric answers
WRONG_DIGITS = 4

Env = dict  # name -> float or ndarray: the inputs, the steps, and "d" + name for ∂out/∂name


# ---- families -------------------------------------------------------------------------------
@dataclass
class Family:
    """One homework program at one point, with its hand-written NumPy oracle."""

    name: str
    #: where the homework comes from
    source: str
    #: gradcli program text (data inputs declared with ``#: data``)
    program: str
    #: the point: input name -> float or ndarray
    point: dict
    #: name of the output
    output: str
    #: forward pass: inputs -> every step's value (the output included)
    forward: Callable[[dict], dict]
    #: backward pass: (inputs, steps) -> ∂out/∂name for inputs and steps
    backward: Callable[[dict, dict], dict]
    #: inputs that are data (kept in kind at random points)
    data: tuple = ()
    #: what kind of data: "0/1" (labels, masks) or "one-hot" (one 1 per row)
    data_kind: str = "0/1"
    #: names whose gradient is asked as a number
    ask: tuple = ()
    #: the output's value is also asked
    ask_value: bool = True
    #: (name, text, twin) right formulas
    right_formulas: list = field(default_factory=list)
    #: (name, kind, fn(env) -> value) wrong numbers, each one mistake applied by hand
    wrong_numbers: list = field(default_factory=list)
    #: (name, kind, text, twin) wrong formulas
    wrong_formulas: list = field(default_factory=list)
    #: draws a random point near the family's (data kept in kind)
    draw: Optional[Callable[[np.random.Generator], dict]] = None

    def env(self, point: Optional[dict] = None) -> Env:
        """Inputs, steps and adjoints (``d`` + name) at `point` (default: the family's)."""
        b = {k: _arr(v) for k, v in (self.point if point is None else point).items()}
        steps = self.forward(b)
        grads = self.backward(b, steps)
        env = {**b, **steps}
        env.update({"d" + k: v for k, v in grads.items()})
        return env

    def grads(self, point: Optional[dict] = None) -> dict:
        b = {k: _arr(v) for k, v in (self.point if point is None else point).items()}
        return self.backward(b, self.forward(b))

    def loss(self, point: dict) -> float:
        return float(self.forward({k: _arr(v) for k, v in point.items()})[self.output])

    def random_point(self, rng: np.random.Generator) -> dict:
        if self.draw is not None:
            return self.draw(rng)
        return _near(self.point, rng, self.data)


def _arr(v: object) -> object:
    if isinstance(v, (list, tuple, np.ndarray)):
        return np.array(v, dtype=float)
    return float(v)  # type: ignore[arg-type]


def _near(point: dict, rng: np.random.Generator, data: Iterable[str] = ()) -> dict:
    """Each variable moved by a standard normal draw (so kinks are crossed); data kept."""
    out = {}
    for k, v in point.items():
        if k in data:
            out[k] = v
        elif isinstance(v, np.ndarray):
            out[k] = v + rng.normal(size=v.shape)
        else:  # scaled, so that a scalar crosses 0 (and its kinks) often enough
            out[k] = float(v) + float(rng.normal()) * max(1.0, abs(float(v)))
    return out


def _one_hot(rng: np.random.Generator, n: int, rows: Optional[int] = None) -> np.ndarray:
    if rows is None:
        return np.eye(n)[rng.integers(n)]
    return np.eye(n)[rng.integers(n, size=rows)]


def _drawing(data_draw: Callable[[np.random.Generator], dict]):
    """A `Family.draw` that moves the variables and draws the data afresh, in kind."""
    def draw_for(family_point: dict, data: tuple):
        def draw(rng: np.random.Generator) -> dict:
            out = _near(family_point, rng, data)
            out.update(data_draw(rng))
            return out
        return draw
    return draw_for


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# The families.  Forward and backward are written out by hand for each, CS231n style.

def _lecture_e(name: str, a: float, b: float) -> Family:
    def fwd(v):
        c = v["a"] + v["b"]
        d = v["b"] + 1
        return {"c": c, "d": d, "e": c * d}

    def bwd(v, s):
        dc, dd = s["d"], s["c"]
        return {"e": 1.0, "c": dc, "d": dd, "a": dc, "b": dc + dd}

    return Family(
        name, "lecture notes: e = (a+b)(b+1), the worked example", "c = a + b; d = b + 1; e = c * d",
        {"a": a, "b": b}, "e", fwd, bwd, ask=("a", "b", "c", "d"),
        right_formulas=[
            ("b", "c + d", lambda e: e["c"] + e["d"]),
            ("b", "d + c", lambda e: e["d"] + e["c"]),
            ("b", "a + 2*b + 1", lambda e: e["a"] + 2 * e["b"] + 1),
            ("a", "d", lambda e: e["d"]),
            ("a", "b + 1", lambda e: e["b"] + 1),
        ],
        wrong_numbers=[
            ("b", "fan-out", lambda e: e["d"]),            # only the branch through c
            ("b", "fan-out", lambda e: e["c"]),            # only the branch through d
            ("b", "sign", lambda e: -e["db"]),
            ("b", "factor", lambda e: 2 * e["db"]),
            ("a", "sign", lambda e: -e["da"]),
        ],
        wrong_formulas=[
            ("b", "fan-out", "d", lambda e: e["d"]),
            ("b", "fan-out", "c", lambda e: e["c"]),
            ("b", "sign", "-(c + d)", lambda e: -(e["c"] + e["d"])),
        ],
    )


def _lecture_max(name: str, x: float, y: float, z: float, kink_formulas: bool) -> Family:
    def fwd(v):
        q = v["x"] + v["y"]
        m = max(v["y"], v["z"])
        return {"q": q, "m": m, "f": q * m}

    def bwd(v, s):
        dq, dm = s["m"], s["q"]
        ywins = 1.0 if v["y"] > v["z"] else 0.0
        return {"f": 1.0, "q": dq, "m": dm, "x": dq, "y": dq + dm * ywins, "z": dm * (1 - ywins)}

    def routed_wrong(e, to):  # max routed to the input that did not win
        ywins = e["y"] > e["z"]
        return (e["m"] + e["q"] * (0.0 if ywins else 1.0)) if to == "y" else e["q"] * (1.0 if ywins else 0.0)

    fam = Family(
        name, "lecture notes: f = (x+y)·max(y,z), the max gate routes the gradient",
        "q = x + y; m = max(y, z); f = q * m",
        {"x": x, "y": y, "z": z}, "f", fwd, bwd, ask=("x", "y", "z", "m"),
        right_formulas=[
            ("x", "m", lambda e: e["m"]),
            ("x", "max(y, z)", lambda e: max(e["y"], e["z"])),
            ("y", "m + q*(y > z)", lambda e: e["m"] + e["q"] * float(e["y"] > e["z"])),
            ("y", "max(y, z) + (x + y)*(y > z)",
             lambda e: max(e["y"], e["z"]) + (e["x"] + e["y"]) * float(e["y"] > e["z"])),
            ("z", "q*(z > y)", lambda e: e["q"] * float(e["z"] > e["y"])),
            ("z", "dm*(z > y)", lambda e: e["dm"] * float(e["z"] > e["y"])),
        ],
        wrong_numbers=[
            ("z", "max-routing", lambda e: routed_wrong(e, "z")),
            ("y", "sign", lambda e: -e["dy"]),
        ],
        wrong_formulas=([("z", "max-routing", "q", lambda e: e["q"])] if y > z
                        else [("y", "max-routing", "m + q", lambda e: e["m"] + e["q"])]),
    )
    if kink_formulas:
        # right at this point (y wins), wrong across the kink (z wins): the issue's `x=y`
        fam.wrong_formulas += [
            ("x", "max-routing", "y", lambda e: e["y"]),
            ("y", "max-routing", "m + q", lambda e: e["m"] + e["q"]),
            ("z", "max-routing", "0", lambda e: 0.0),
        ]
        fam.wrong_numbers.append(("y", "fan-out", lambda e: e["m"]))  # only the branch through q
    else:
        # (where y wins, routing to z gives y only its path through q: the fan-out mistake's number)
        fam.wrong_numbers.insert(0, ("y", "max-routing", lambda e: routed_wrong(e, "y")))
    return fam


def _chain(name: str, x: float) -> Family:
    def fwd(v):
        u = v["x"] ** 2
        return {"u": u, "y": np.sin(u)}

    def bwd(v, s):
        du = np.cos(s["u"])
        return {"y": 1.0, "u": du, "x": du * 2 * v["x"]}

    return Family(
        name, "lecture notes: the chain rule, y = sin(x²)", "u = x^2; y = sin(u)", {"x": x}, "y", fwd, bwd,
        ask=("x", "u"),
        right_formulas=[
            ("x", "2*x*cos(x^2)", lambda e: 2 * e["x"] * np.cos(e["x"] ** 2)),
            ("x", "cos(u)*2*x", lambda e: np.cos(e["u"]) * 2 * e["x"]),
            ("x", "2*x*du", lambda e: 2 * e["x"] * e["du"]),
        ],
        wrong_numbers=[
            ("x", "chain", lambda e: np.cos(e["u"])),            # the inner factor 2x left out
            ("x", "factor", lambda e: e["x"] * np.cos(e["u"])),  # d/dx x² = x
            ("x", "sign", lambda e: -e["dx"]),
            ("u", "sign", lambda e: -e["du"]),
        ],
        wrong_formulas=[
            ("x", "chain", "cos(x^2)", lambda e: np.cos(e["x"] ** 2)),
            ("x", "factor", "x*cos(u)", lambda e: e["x"] * np.cos(e["u"])),
            ("x", "sign", "-2*x*cos(u)", lambda e: -2 * e["x"] * np.cos(e["u"])),
        ],
    )


def _relu_unit(name: str, w: float, x: float) -> Family:
    def fwd(v):
        return {"y": max(v["w"] * v["x"], 0.0)}

    def bwd(v, s):
        on = 1.0 if v["w"] * v["x"] > 0 else 0.0
        return {"y": 1.0, "w": v["x"] * on, "x": v["w"] * on}

    active = w * x > 0
    fam = Family(
        name, "issue 20: y = relu(w·x), the ReLU mask", "y = relu(w*x)", {"w": w, "x": x}, "y", fwd, bwd,
        ask=("w", "x"),
        right_formulas=[
            ("w", "x*(w*x > 0)", lambda e: e["x"] * float(e["w"] * e["x"] > 0)),
            ("w", "x*(y > 0)", lambda e: e["x"] * float(e["y"] > 0)),
            ("x", "w*(w*x > 0)", lambda e: e["w"] * float(e["w"] * e["x"] > 0)),
        ],
        # the mask forgotten (right only where w·x > 0)
        wrong_formulas=[("w", "relu-mask", "x", lambda e: e["x"])],
    )
    if active:
        fam.wrong_numbers += [
            ("w", "relu-mask", lambda e: 0.0),                 # mask inverted: 1 where w·x ≤ 0
            ("w", "relu-mask", lambda e: e["x"] * e["y"]),     # the output h used for the mask 1[z>0]
            ("w", "sign", lambda e: -e["dw"]),
            ("x", "factor", lambda e: 2 * e["dx"]),
        ]
        fam.wrong_formulas.append(("w", "relu-mask", "x*y", lambda e: e["x"] * e["y"]))
    else:
        fam.wrong_numbers += [
            ("w", "relu-mask", lambda e: e["x"]),              # the mask forgotten
            ("x", "relu-mask", lambda e: e["w"]),
        ]
        # right here (w·x < 0), wrong across the kink
        fam.wrong_formulas.append(("w", "relu-mask", "0", lambda e: 0.0))
    return fam


def _logreg(name: str, w: float, x: float, b: float, t: float) -> Family:
    def fwd(v):
        z = v["w"] * v["x"] + v["b"]
        p = sigmoid(z)
        return {"z": z, "p": p, "L": -(v["t"] * np.log(p) + (1 - v["t"]) * np.log(1 - p))}

    def bwd(v, s):
        dz = s["p"] - v["t"]
        dp = -v["t"] / s["p"] + (1 - v["t"]) / (1 - s["p"])
        return {"L": 1.0, "p": dp, "z": dz, "w": dz * v["x"], "x": dz * v["w"], "b": dz}

    def dp(e):
        return -e["t"] / e["p"] + (1 - e["t"]) / (1 - e["p"])

    fam = Family(
        name, "CS231n/CS229: logistic regression, one example",
        "#: data t\nz = w*x + b; p = sigmoid(z); L = -(t*log(p) + (1-t)*log(1-p))",
        {"w": w, "x": x, "b": b, "t": t}, "L", fwd, bwd, data=("t",), ask=("w", "x", "b", "z"),
        right_formulas=[
            ("w", "(p - t)*x", lambda e: (e["p"] - e["t"]) * e["x"]),
            ("w", "x*(sigmoid(z) - t)", lambda e: e["x"] * (sigmoid(e["z"]) - e["t"])),
            ("w", "(sigmoid(w*x + b) - t)*x",
             lambda e: (sigmoid(e["w"] * e["x"] + e["b"]) - e["t"]) * e["x"]),
            ("w", "dz*x", lambda e: e["dz"] * e["x"]),
            ("b", "p - t", lambda e: e["p"] - e["t"]),
        ],
        wrong_numbers=[
            ("w", "sigma", lambda e: dp(e) * e["p"] * e["x"]),  # σ(z) where σ'(z) belongs
            ("w", "chain", lambda e: e["p"] - e["t"]),          # the factor x left out
            ("w", "sign", lambda e: -e["dw"]),
            ("x", "factor", lambda e: 2 * e["dx"]),
        ],
        wrong_formulas=[
            ("w", "sigma", "dp*p*x", lambda e: e["dp"] * e["p"] * e["x"]),  # σ(z) where σ'(z) belongs
            ("w", "sign", "(t - p)*x", lambda e: (e["t"] - e["p"]) * e["x"]),
            ("w", "chain", "p - t", lambda e: e["p"] - e["t"]),
        ],
        draw=None,
    )
    if t == 1:
        fam.wrong_numbers.append(("b", "softmax", lambda e: e["p"]))  # p where p − t belongs
        fam.wrong_formulas.append(("b", "softmax", "p", lambda e: e["p"]))
    fam.draw = _drawing(lambda rng: {"t": float(rng.integers(2))})(fam.point, fam.data)
    return fam


def _logreg_batch(name: str) -> Family:
    N = 4
    point = {"w": np.array([0.5, -0.3]), "X": np.array([[1.0, -0.5, 0.3, 2.0], [0.2, 0.8, -1.1, 0.4]]),
             "b": 0.1, "y": np.array([1.0, 0.0, 0.0, 1.0])}

    def fwd(v):
        z = v["w"] @ v["X"] + v["b"]
        p = sigmoid(z)
        return {"z": z, "p": p, "J": -np.mean(v["y"] * np.log(p) + (1 - v["y"]) * np.log(1 - p))}

    def bwd(v, s):
        dz = (s["p"] - v["y"]) / N
        return {"J": 1.0, "z": dz, "w": v["X"] @ dz, "b": np.sum(dz), "X": np.outer(v["w"], dz)}

    fam = Family(
        name, "CS229/CS231n: logistic regression on a batch of 4, mean loss",
        "#: data y\nz = w@X + b; p = sigmoid(z); J = -mean(y*log(p) + (1-y)*log(1-p))",
        point, "J", fwd, bwd, data=("y",), ask=("w", "b", "X", "z"),
        right_formulas=[
            ("w", "X @ (p - y) / 4", lambda e: e["X"] @ (e["p"] - e["y"]) / 4),
            ("w", "(p - y) @ transpose(X) / 4", lambda e: (e["p"] - e["y"]) @ e["X"].T / 4),
            ("w", "X @ dz", lambda e: e["X"] @ e["dz"]),
            ("b", "mean(p - y)", lambda e: np.mean(e["p"] - e["y"])),
            ("b", "sum(p - y)/4", lambda e: np.sum(e["p"] - e["y"]) / 4),
            ("b", "sum(dz)", lambda e: np.sum(e["dz"])),
            ("X", "outer(w, p - y)/4", lambda e: np.outer(e["w"], e["p"] - e["y"]) / 4),
            ("X", "outer(w, dz)", lambda e: np.outer(e["w"], e["dz"])),
        ],
        wrong_numbers=[
            ("w", "factor", lambda e: e["X"] @ (e["p"] - e["y"])),            # the mean's 1/N missing
            ("w", "sign", lambda e: -e["dw"]),
            ("b", "factor", lambda e: np.sum(e["p"] - e["y"])),
            ("b", "broadcast", lambda e: e["dz"]),                             # not summed over the batch
            ("X", "transposed", lambda e: np.outer(e["dz"], e["w"])),
            ("z", "factor", lambda e: e["p"] - e["y"]),
        ],
        wrong_formulas=[
            ("w", "factor", "X @ (p - y)", lambda e: e["X"] @ (e["p"] - e["y"])),
            ("b", "sign", "mean(y - p)", lambda e: np.mean(e["y"] - e["p"])),
            ("X", "transposed", "outer(p - y, w)/4", lambda e: np.outer(e["p"] - e["y"], e["w"]) / 4),
            ("b", "broadcast", "dz", lambda e: e["dz"]),
        ],
    )
    fam.draw = _drawing(lambda rng: {"y": rng.integers(2, size=N).astype(float)})(fam.point, fam.data)
    return fam


def _linear_mse(name: str) -> Family:
    point = {"W": np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6], [-0.7, 0.2, 0.1]]),
             "x": np.array([1.0, -0.5, 2.0]),
             "b": np.array([0.1, -0.2, 0.3]), "y": np.array([0.5, 0.0, -1.0])}

    def fwd(v):
        r = v["W"] @ v["x"] + v["b"] - v["y"]
        return {"r": r, "L": np.sum(r ** 2)}

    def bwd(v, s):
        dr = 2 * s["r"]
        return {"L": 1.0, "r": dr, "W": np.outer(dr, v["x"]), "x": v["W"].T @ dr, "b": dr, "y": -dr}

    return Family(
        name, "CS231n: a linear layer with squared error, one example", "r = W@x + b - y; L = sum(r^2)",
        point, "L", fwd, bwd, ask=("W", "x", "b", "r"),
        right_formulas=[
            ("W", "outer(2*r, x)", lambda e: np.outer(2 * e["r"], e["x"])),
            ("W", "2*outer(r, x)", lambda e: 2 * np.outer(e["r"], e["x"])),
            ("W", "outer(dr, x)", lambda e: np.outer(e["dr"], e["x"])),
            ("W", "2*outer(W@x + b - y, x)",
             lambda e: 2 * np.outer(e["W"] @ e["x"] + e["b"] - e["y"], e["x"])),
            ("x", "transpose(W) @ (2*r)", lambda e: e["W"].T @ (2 * e["r"])),
            ("x", "2*r @ W", lambda e: 2 * e["r"] @ e["W"]),
            ("x", "transpose(W) @ dr", lambda e: e["W"].T @ e["dr"]),
            ("b", "2*r", lambda e: 2 * e["r"]),
        ],
        wrong_numbers=[
            ("x", "transposed", lambda e: e["W"] @ e["dr"]),       # W δ for Wᵀ δ
            ("W", "transposed", lambda e: np.outer(e["x"], e["dr"])),
            ("W", "factor", lambda e: np.outer(e["r"], e["x"])),   # the 2 of the square left out
            ("b", "sign", lambda e: -e["db"]),
            ("x", "sign", lambda e: -e["dx"]),
            ("x", "transposed+sign", lambda e: -(e["W"] @ e["dr"])),
        ],
        wrong_formulas=[
            ("x", "transposed", "W @ (2*r)", lambda e: e["W"] @ (2 * e["r"])),
            ("W", "factor", "outer(r, x)", lambda e: np.outer(e["r"], e["x"])),
            ("W", "transposed", "outer(2*x, r)", lambda e: np.outer(2 * e["x"], e["r"])),
            ("b", "sign", "-2*r", lambda e: -2 * e["r"]),
        ],
    )


def _linear_batch(name: str) -> Family:
    N = 4
    point = {"X": np.array([[1.0, 0.5, -0.2], [-0.3, 0.8, 0.1], [0.6, -1.0, 0.4], [0.2, 0.3, -0.9]]),
             "W": np.array([[0.2, -0.1, 0.4], [0.5, 0.3, -0.2], [-0.4, 0.1, 0.6]]),
             "b": np.array([0.1, 0.0, -0.1]),
             "Y": np.array([[0.5, -0.5, 0.0], [1.0, 0.2, -0.3], [0.0, 0.4, 0.8], [-0.6, 0.1, 0.3]])}

    def fwd(v):
        E = v["X"] @ v["W"] + v["b"] - v["Y"]
        return {"E": E, "L": np.sum(E ** 2) / (2 * N)}

    def bwd(v, s):
        dE = s["E"] / N
        return {"L": 1.0, "E": dE, "W": v["X"].T @ dE, "b": dE.sum(axis=0), "X": dE @ v["W"].T, "Y": -dE}

    return Family(
        name, "CS231n: a linear layer on a batch of 4, L = ‖XW + b − Y‖² / 2N",
        "E = X@W + b - Y; L = sum(E^2)/8", point, "L", fwd, bwd, ask=("W", "b", "X", "E"),
        right_formulas=[
            ("W", "transpose(X) @ E / 4", lambda e: e["X"].T @ e["E"] / 4),
            ("W", "transpose(X) @ dE", lambda e: e["X"].T @ e["dE"]),
            ("W", "transpose(transpose(E) @ X) / 4", lambda e: (e["E"].T @ e["X"]).T / 4),
            ("b", "sum(E, 0)/4", lambda e: e["E"].sum(axis=0) / 4),
            ("b", "sum(dE, 0)", lambda e: e["dE"].sum(axis=0)),
            ("b", "mean(E, 0)", lambda e: e["E"].mean(axis=0)),
            ("X", "E @ transpose(W) / 4", lambda e: e["E"] @ e["W"].T / 4),
            ("X", "dE @ transpose(W)", lambda e: e["dE"] @ e["W"].T),
        ],
        wrong_numbers=[
            ("b", "broadcast", lambda e: e["dE"]),                 # not summed over the batch
            ("b", "broadcast", lambda e: e["dE"][0]),              # one row of it
            ("W", "transposed", lambda e: e["dW"].T),
            ("X", "transposed", lambda e: e["dE"] @ e["W"]),
            ("W", "factor", lambda e: e["X"].T @ e["E"]),          # the 1/N missing
            ("W", "factor", lambda e: e["X"].T @ e["E"] / 8),      # the 2 of the square kept: off by 1/2
            ("b", "sign", lambda e: -e["db"]),
        ],
        wrong_formulas=[
            ("b", "broadcast", "dE", lambda e: e["dE"]),
            ("b", "factor", "sum(E, 0)", lambda e: e["E"].sum(axis=0)),
            ("W", "transposed", "transpose(E) @ X / 4", lambda e: e["E"].T @ e["X"] / 4),
            ("X", "transposed", "E @ W / 4", lambda e: e["E"] @ e["W"] / 4),
        ],
    )


def _mlp_relu(name: str) -> Family:
    point = {"x": np.array([1.0, -0.5, 0.8]),
             "W1": np.array([[0.4, -0.2, 0.3], [-0.5, 0.1, -0.4], [0.2, 0.6, -0.1], [-0.3, -0.4, 0.2]]),
             "b1": np.array([0.1, -0.1, 0.05, 0.2]),
             "W2": np.array([[0.5, -0.3, 0.8, 0.1], [-0.2, 0.4, -0.6, 0.7]]),
             "b2": np.array([0.0, 0.1]), "y": np.array([1.0, -0.5])}

    def fwd(v):
        z1 = v["W1"] @ v["x"] + v["b1"]
        h = np.maximum(z1, 0.0)
        z2 = v["W2"] @ h + v["b2"]
        return {"z1": z1, "h": h, "z2": z2, "L": np.sum((z2 - v["y"]) ** 2) / 2}

    def bwd(v, s):
        dz2 = s["z2"] - v["y"]
        dh = v["W2"].T @ dz2
        dz1 = dh * (s["z1"] > 0)
        return {"L": 1.0, "z2": dz2, "h": dh, "z1": dz1, "W2": np.outer(dz2, s["h"]), "b2": dz2,
                "W1": np.outer(dz1, v["x"]), "b1": dz1, "x": v["W1"].T @ dz1, "y": -dz2}

    return Family(
        name, "CS231n assignment 1/2: a two-layer ReLU net, squared error",
        "z1 = W1@x + b1; h = relu(z1); z2 = W2@h + b2; L = sum((z2 - y)^2)/2",
        point, "L", fwd, bwd, ask=("W1", "b1", "x", "W2", "b2", "h", "z1"),
        right_formulas=[
            ("W1", "outer((transpose(W2) @ (z2 - y)) * (z1 > 0), x)",
             lambda e: np.outer((e["W2"].T @ (e["z2"] - e["y"])) * (e["z1"] > 0), e["x"])),
            ("W1", "outer(dz1, x)", lambda e: np.outer(e["dz1"], e["x"])),
            ("W1", "outer(dh * (z1 > 0), x)", lambda e: np.outer(e["dh"] * (e["z1"] > 0), e["x"])),
            ("W1", "outer(((z2 - y) @ W2) * (h > 0), x)",
             lambda e: np.outer(((e["z2"] - e["y"]) @ e["W2"]) * (e["h"] > 0), e["x"])),
            ("b1", "dh * (z1 > 0)", lambda e: e["dh"] * (e["z1"] > 0)),
            ("W2", "outer(z2 - y, h)", lambda e: np.outer(e["z2"] - e["y"], e["h"])),
            ("W2", "outer(dz2, h)", lambda e: np.outer(e["dz2"], e["h"])),
            ("x", "transpose(W1) @ dz1", lambda e: e["W1"].T @ e["dz1"]),
        ],
        wrong_numbers=[
            ("W1", "relu-mask", lambda e: np.outer(e["dh"], e["x"])),                    # mask missing
            ("W1", "relu-mask", lambda e: np.outer(e["dh"] * (e["z1"] <= 0), e["x"])),   # mask inverted
            ("W1", "relu-mask", lambda e: np.outer(e["dh"] * e["h"], e["x"])),           # h for 1[z>0]
            ("b1", "relu-mask", lambda e: e["dh"]),
            ("x", "relu-mask", lambda e: e["W1"].T @ e["dh"]),
            ("W1", "transposed", lambda e: np.outer(e["x"], e["dz1"])),
            ("W2", "transposed", lambda e: np.outer(e["h"], e["dz2"])),
            ("W2", "sign", lambda e: -e["dW2"]),
            ("b2", "factor", lambda e: 2 * e["db2"]),
        ],
        wrong_formulas=[
            ("W1", "relu-mask", "outer(transpose(W2) @ (z2 - y), x)",
             lambda e: np.outer(e["W2"].T @ (e["z2"] - e["y"]), e["x"])),
            ("W1", "relu-mask", "outer(dh * h, x)", lambda e: np.outer(e["dh"] * e["h"], e["x"])),
            ("b1", "relu-mask", "dh * (z1 <= 0)", lambda e: e["dh"] * (e["z1"] <= 0)),
            ("W2", "transposed", "outer(h, z2 - y)", lambda e: np.outer(e["h"], e["z2"] - e["y"])),
            ("x", "transposed", "W1 @ dz1", None),  # W1 is 4×3 and dz1 has 4 entries: W1 @ dz1 does not fit
        ],
    )


def _mlp_sigmoid(name: str) -> Family:
    point = {"x": np.array([0.5, -1.2]), "W1": np.array([[0.2, -0.4], [0.7, 0.1], [-0.3, 0.5]]),
             "b1": np.array([0.1, -0.2, 0.05]), "w2": np.array([0.6, -0.8, 0.3]), "b2": 0.1, "y": 0.25}

    def fwd(v):
        z1 = v["W1"] @ v["x"] + v["b1"]
        h = sigmoid(z1)
        s = v["w2"] @ h + v["b2"]
        return {"z1": z1, "h": h, "s": s, "L": (s - v["y"]) ** 2}

    def bwd(v, st):
        ds = 2 * (st["s"] - v["y"])
        dh = ds * v["w2"]
        dz1 = dh * st["h"] * (1 - st["h"])
        return {"L": 1.0, "s": ds, "h": dh, "z1": dz1, "w2": ds * st["h"], "b2": ds,
                "W1": np.outer(dz1, v["x"]), "b1": dz1, "x": v["W1"].T @ dz1, "y": -ds}

    return Family(
        name, "lecture notes / CS231n: a two-layer sigmoid net, squared error",
        "z1 = W1@x + b1; h = sigmoid(z1); s = dot(w2, h) + b2; L = (s - y)^2",
        point, "L", fwd, bwd, ask=("W1", "b1", "x", "w2", "z1", "h"),
        right_formulas=[
            ("W1", "outer(dh * h * (1 - h), x)", lambda e: np.outer(e["dh"] * e["h"] * (1 - e["h"]), e["x"])),
            ("W1", "outer(dh * (h - h^2), x)", lambda e: np.outer(e["dh"] * (e["h"] - e["h"] ** 2), e["x"])),
            ("W1", "outer(2*(s - y)*w2*h*(1 - h), x)",
             lambda e: np.outer(2 * (e["s"] - e["y"]) * e["w2"] * e["h"] * (1 - e["h"]), e["x"])),
            ("W1", "outer(dz1, x)", lambda e: np.outer(e["dz1"], e["x"])),
            ("w2", "2*(s - y)*h", lambda e: 2 * (e["s"] - e["y"]) * e["h"]),
            ("w2", "ds*h", lambda e: e["ds"] * e["h"]),
            ("b1", "dh*h*(1 - h)", lambda e: e["dh"] * e["h"] * (1 - e["h"])),
        ],
        wrong_numbers=[
            ("W1", "sigma", lambda e: np.outer(e["dh"] * e["h"], e["x"])),  # σ for σ'
            # σ'(h)
            ("W1", "sigma", lambda e: np.outer(e["dh"] * sigmoid(e["h"]) * (1 - sigmoid(e["h"])), e["x"])),
            ("b1", "sigma", lambda e: e["dh"] * e["h"]),
            # σ' left out
            ("W1", "chain", lambda e: np.outer(e["dh"], e["x"])),
            ("W1", "transposed", lambda e: np.outer(e["x"], e["dz1"])),
            ("w2", "factor", lambda e: (e["s"] - e["y"]) * e["h"]),
            ("w2", "sign", lambda e: -e["dw2"]),
        ],
        wrong_formulas=[
            ("W1", "sigma", "outer(dh * h, x)", lambda e: np.outer(e["dh"] * e["h"], e["x"])),
            ("W1", "chain", "outer(dh, x)", lambda e: np.outer(e["dh"], e["x"])),
            ("w2", "factor", "(s - y)*h", lambda e: (e["s"] - e["y"]) * e["h"]),
        ],
    )


def _softmax_ce(name: str, classes: int, label: int) -> Family:
    rng = np.random.default_rng(20 + classes)
    point = {"W": np.round(rng.normal(size=(classes, 3)) * 0.5, 2), "h": np.array([0.5, -1.0, 0.8]),
             "b": np.round(rng.normal(size=classes) * 0.1, 2), "y": np.eye(classes)[label]}

    def fwd(v):
        z = v["W"] @ v["h"] + v["b"]
        p = softmax(z)
        return {"z": z, "p": p, "L": -np.sum(v["y"] * np.log(p))}

    def bwd(v, s):
        dz = s["p"] - v["y"]
        return {"L": 1.0, "z": dz, "W": np.outer(dz, v["h"]), "h": v["W"].T @ dz, "b": dz}

    fam = Family(
        name, "CS231n assignment 1 / CS224n: softmax with cross-entropy, one example, one-hot y",
        "#: data y\nz = W@h + b; p = softmax(z); L = -sum(y*log(p))",
        point, "L", fwd, bwd, data=("y",), data_kind="one-hot", ask=("z", "W", "h", "b"),
        right_formulas=[
            ("z", "p - y", lambda e: e["p"] - e["y"]),
            ("z", "softmax(z) - y", lambda e: softmax(e["z"]) - e["y"]),
            ("z", "softmax(W@h + b) - y", lambda e: softmax(e["W"] @ e["h"] + e["b"]) - e["y"]),
            ("W", "outer(p - y, h)", lambda e: np.outer(e["p"] - e["y"], e["h"])),
            ("W", "outer(dz, h)", lambda e: np.outer(e["dz"], e["h"])),
            ("h", "transpose(W) @ (p - y)", lambda e: e["W"].T @ (e["p"] - e["y"])),
            ("h", "(p - y) @ W", lambda e: (e["p"] - e["y"]) @ e["W"]),
            ("h", "transpose(W) @ dz", lambda e: e["W"].T @ e["dz"]),
            ("b", "p - y", lambda e: e["p"] - e["y"]),
        ],
        wrong_numbers=[
            ("z", "softmax", lambda e: e["p"]),                          # p for p − y
            ("z", "softmax", lambda e: e["y"] - e["p"]),                 # y − p
            ("W", "softmax", lambda e: np.outer(e["p"], e["h"])),
            ("h", "softmax", lambda e: e["W"].T @ e["p"]),
            ("W", "transposed", lambda e: np.outer(e["h"], e["dz"])),
            ("h", "factor", lambda e: 2 * e["dh"]),
        ],
        wrong_formulas=[
            ("z", "softmax", "p", lambda e: e["p"]),
            ("z", "softmax", "y - p", lambda e: e["y"] - e["p"]),
            ("W", "transposed", "outer(h, p - y)", lambda e: np.outer(e["h"], e["p"] - e["y"])),
            ("W", "softmax", "outer(p, h)", lambda e: np.outer(e["p"], e["h"])),
        ],
    )
    if classes == 3:  # square W: the missing transpose is a number of the right shape
        fam.wrong_numbers.append(("h", "transposed", lambda e: e["W"] @ e["dz"]))
        fam.wrong_formulas.append(("h", "transposed", "W @ (p - y)", lambda e: e["W"] @ (e["p"] - e["y"])))
    else:  # W is classes×3: W @ (p − y) does not fit, and the grader should say which product
        fam.wrong_formulas.append(("h", "transposed", "W @ (p - y)", None))
    fam.draw = _drawing(lambda rng: {"y": _one_hot(rng, classes)})(fam.point, fam.data)
    return fam


def _softmax_batch(name: str) -> Family:
    N = 4
    point = {"X": np.array([[1.0, 0.5, -0.2], [-0.3, 0.8, 0.1], [0.6, -1.0, 0.4], [0.2, 0.3, -0.9]]),
             "W": np.array([[0.3, -0.6, 0.2], [0.1, 0.4, -0.5], [-0.7, 0.2, 0.3]]),
             "b": np.array([0.1, -0.1, 0.0]),
             "Y": np.eye(3)[[0, 2, 1, 2]]}

    def fwd(v):
        Z = v["X"] @ v["W"] + v["b"]
        P = softmax(Z, axis=1)
        return {"Z": Z, "P": P, "L": -np.sum(v["Y"] * np.log(P)) / N}

    def bwd(v, s):
        dZ = (s["P"] - v["Y"]) / N
        return {"L": 1.0, "Z": dZ, "W": v["X"].T @ dZ, "b": dZ.sum(axis=0), "X": dZ @ v["W"].T}

    fam = Family(
        name, "CS231n assignment 1: softmax classifier on a batch of 4, mean cross-entropy, "
        "one-hot rows of Y",
        "#: data Y\nZ = X@W + b; P = softmax(Z, 1); L = -sum(Y*log(P))/4",
        point, "L", fwd, bwd, data=("Y",), data_kind="one-hot", ask=("W", "b", "X", "Z"),
        right_formulas=[
            ("W", "transpose(X) @ (P - Y) / 4", lambda e: e["X"].T @ (e["P"] - e["Y"]) / 4),
            ("W", "transpose(X) @ dZ", lambda e: e["X"].T @ e["dZ"]),
            ("b", "sum(P - Y, 0)/4", lambda e: (e["P"] - e["Y"]).sum(axis=0) / 4),
            ("b", "mean(P - Y, 0)", lambda e: (e["P"] - e["Y"]).mean(axis=0)),
            ("b", "sum(dZ, 0)", lambda e: e["dZ"].sum(axis=0)),
            ("X", "(P - Y) @ transpose(W) / 4", lambda e: (e["P"] - e["Y"]) @ e["W"].T / 4),
            ("X", "dZ @ transpose(W)", lambda e: e["dZ"] @ e["W"].T),
            ("Z", "(P - Y)/4", lambda e: (e["P"] - e["Y"]) / 4),
        ],
        wrong_numbers=[
            ("W", "softmax", lambda e: e["X"].T @ (e["P"] - e["Y"])),    # the 1/N of the batch missing
            ("Z", "softmax", lambda e: e["P"] - e["Y"]),
            ("Z", "softmax", lambda e: e["P"] / 4),                      # P for P − Y
            ("b", "broadcast", lambda e: e["dZ"]),
            ("b", "broadcast", lambda e: e["dZ"][0]),
            ("W", "transposed", lambda e: e["dW"].T),
            ("X", "transposed", lambda e: e["dZ"] @ e["W"]),
            ("b", "sign", lambda e: -e["db"]),
        ],
        wrong_formulas=[
            ("W", "softmax", "transpose(X) @ (P - Y)", lambda e: e["X"].T @ (e["P"] - e["Y"])),
            ("b", "broadcast", "(P - Y)/4", lambda e: (e["P"] - e["Y"]) / 4),
            ("W", "transposed", "transpose(P - Y) @ X / 4", lambda e: (e["P"] - e["Y"]).T @ e["X"] / 4),
            ("Z", "softmax", "P/4", lambda e: e["P"] / 4),
        ],
    )
    fam.draw = _drawing(lambda rng: {"Y": _one_hot(rng, 3, N)})(fam.point, fam.data)
    return fam


RNN_PROGRAM = """\
def cell(h, x) = tanh(Wi@x + Wh@h)
def loss(h, y) = sum((Wo@h - y)^2)
h1 = cell(h0, X[0])
h2 = cell(h1, X[1])
h3 = cell(h2, X[2])
L1 = loss(h1, Y[0])
L2 = loss(h2, Y[1])
L3 = loss(h3, Y[2])
L = L1 + L2 + L3"""


def _rnn(name: str, bias: bool = False) -> Family:
    point = {"Wi": np.array([[0.5, -0.3], [0.2, 0.4], [-0.6, 0.1]]),
             "Wh": np.array([[0.1, -0.2, 0.3], [0.4, 0.05, -0.1], [-0.3, 0.2, 0.15]]),
             "Wo": np.array([[0.7, -0.5, 0.2], [-0.1, 0.3, 0.6]]),
             "h0": np.array([0.1, -0.2, 0.05]),
             "X": np.array([[1.0, -0.5], [0.3, 0.8], [-0.7, 0.2]]),
             "Y": np.array([[0.2, -0.1], [0.0, 0.3], [-0.4, 0.1]])}
    if bias:
        point["b"] = np.array([0.1, -0.05, 0.2])

    def fwd(v):
        s = {}
        h = v["h0"]
        total = 0.0
        for t in range(3):
            h = np.tanh(v["Wi"] @ v["X"][t] + v["Wh"] @ h + v.get("b", 0.0))
            s[f"h{t + 1}"] = h
            s[f"L{t + 1}"] = np.sum((v["Wo"] @ h - v["Y"][t]) ** 2)
            total += s[f"L{t + 1}"]
        s["L"] = total
        return s

    def bwd(v, s):
        hs = [v["h0"], s["h1"], s["h2"], s["h3"]]
        g = {"L": 1.0, **{k: 0 * v[k] for k in ("Wi", "Wh", "Wo", "X", "Y")}}
        da_next = np.zeros(3)
        for t in (3, 2, 1):  # the reverse walk, t = 3 down to 1
            e = 2 * (v["Wo"] @ hs[t] - v["Y"][t - 1])
            g[f"L{t}"] = 1.0
            g["Wo"] = g["Wo"] + np.outer(e, hs[t])
            g["Y"][t - 1] = -e
            dh = v["Wo"].T @ e + v["Wh"].T @ da_next
            g[f"h{t}"] = dh
            da = dh * (1 - hs[t] ** 2)
            g[f"a{t}"] = da  # the adjoint of the cell's pre-activation (for the mistakes)
            g["Wh"] = g["Wh"] + np.outer(da, hs[t - 1])
            g["Wi"] = g["Wi"] + np.outer(da, v["X"][t - 1])
            if bias:
                g["b"] = g.get("b", 0.0) + da
            g["X"][t - 1] = v["Wi"].T @ da
            da_next = da
        g["h0"] = v["Wh"].T @ da_next
        return g

    def wh_steps(e, steps):
        hs = [e["h0"], e["h1"], e["h2"]]
        return sum(np.outer(e[f"da{t}"], hs[t - 1]) for t in steps)

    def wi_steps(e, steps):
        return sum(np.outer(e[f"da{t}"], e["X"][t - 1]) for t in steps)

    def wo_steps(e, steps):
        return sum(np.outer(2 * (e["Wo"] @ e[f"h{t}"] - e["Y"][t - 1]), e[f"h{t}"]) for t in steps)

    wo_all = "outer(2*(Wo@h1 - Y[0]), h1) + outer(2*(Wo@h2 - Y[1]), h2) + outer(2*(Wo@h3 - Y[2]), h3)"
    wh_all = "outer(dh1*(1 - h1^2), h0) + outer(dh2*(1 - h2^2), h1) + outer(dh3*(1 - h3^2), h2)"
    fam = Family(
        name, "CS224n / lecture notes: an RNN unrolled 3 steps (samples/rnn.grad), shared Wi, Wh, Wo"
        + (" and a shared bias b" if bias else ""),
        RNN_PROGRAM.replace("Wh@h)", "Wh@h + b)") if bias else RNN_PROGRAM, point, "L", fwd, bwd,
        ask=("Wh", "Wi", "Wo", "h0", "h1") + (("b",) if bias else ()),
        right_formulas=[
            ("Wo", wo_all, lambda e: wo_steps(e, (1, 2, 3))),
            ("Wh", wh_all, lambda e: wh_steps(e, (1, 2, 3))),
            ("h0", "transpose(Wh) @ (dh1*(1 - h1^2))", lambda e: e["Wh"].T @ (e["dh1"] * (1 - e["h1"] ** 2))),
            ("h0", "(dh1*(1 - h1^2)) @ Wh", lambda e: (e["dh1"] * (1 - e["h1"] ** 2)) @ e["Wh"]),
        ],
        wrong_numbers=[
            ("Wh", "time-steps", lambda e: wh_steps(e, (3,))),       # the last time step only
            ("Wh", "time-steps", lambda e: wh_steps(e, (2, 3))),     # off by one: the first use dropped
            ("Wh", "time-steps", lambda e: wh_steps(e, (1, 2))),     # off by one: the last use dropped
            ("Wi", "time-steps", lambda e: wi_steps(e, (3,))),
            ("Wo", "time-steps", lambda e: wo_steps(e, (3,))),
            ("Wh", "transposed", lambda e: e["dWh"].T),
            ("Wo", "sign", lambda e: -e["dWo"]),
            ("h0", "factor", lambda e: 2 * e["dh0"]),
        ],
        wrong_formulas=[
            ("Wo", "time-steps", "outer(2*(Wo@h3 - Y[2]), h3)", lambda e: wo_steps(e, (3,))),
            ("Wh", "time-steps", "outer(dh3*(1 - h3^2), h2)", lambda e: wh_steps(e, (3,))),
            ("Wh", "time-steps", "outer(dh2*(1 - h2^2), h1) + outer(dh3*(1 - h3^2), h2)",
             lambda e: wh_steps(e, (2, 3))),
        ],
    )
    if bias:
        fam.right_formulas.append(("b", "dh1*(1 - h1^2) + dh2*(1 - h2^2) + dh3*(1 - h3^2)",
                                   lambda e: sum(e[f"dh{t}"] * (1 - e[f"h{t}"] ** 2) for t in (1, 2, 3))))
        fam.wrong_numbers += [("b", "time-steps", lambda e: e["da3"]),
                              ("b", "time-steps", lambda e: e["da2"] + e["da3"])]
        fam.wrong_formulas.append(("b", "time-steps", "dh3*(1 - h3^2)",
                                   lambda e: e["dh3"] * (1 - e["h3"] ** 2)))
    return fam


SCALAR_RNN_PROGRAM = """\
def cell(h, x) = tanh(w*x + u*h)
h1 = cell(h0, X[0])
h2 = cell(h1, X[1])
h3 = cell(h2, X[2])
L = (h1 - Y[0])^2 + (h2 - Y[1])^2 + (h3 - Y[2])^2"""


def _rnn_scalar(name: str) -> Family:
    point = {"w": 0.8, "u": -0.6, "h0": 0.2, "X": np.array([1.0, -0.5, 0.7]), "Y": np.array([0.3, -0.2, 0.5])}

    def fwd(v):
        s, h, total = {}, v["h0"], 0.0
        for t in range(3):
            h = np.tanh(v["w"] * v["X"][t] + v["u"] * h)
            s[f"h{t + 1}"] = h
            total += (h - v["Y"][t]) ** 2
        s["L"] = total
        return s

    def bwd(v, s):
        hs = [v["h0"], s["h1"], s["h2"], s["h3"]]
        g = {"L": 1.0, "w": 0.0, "u": 0.0, "X": np.zeros(3), "Y": np.zeros(3)}
        da_next = 0.0
        for t in (3, 2, 1):
            err = 2 * (hs[t] - v["Y"][t - 1])
            g["Y"][t - 1] = -err
            dh = err + v["u"] * da_next
            g[f"h{t}"] = dh
            da = dh * (1 - hs[t] ** 2)
            g[f"a{t}"] = da
            g["u"] += da * hs[t - 1]
            g["w"] += da * v["X"][t - 1]
            g["X"][t - 1] = v["w"] * da
            da_next = da
        g["h0"] = v["u"] * da_next
        return g

    def u_steps(e, steps):
        hs = [e["h0"], e["h1"], e["h2"]]
        return sum(e[f"da{t}"] * hs[t - 1] for t in steps)

    def w_steps(e, steps):
        return sum(e[f"da{t}"] * e["X"][t - 1] for t in steps)

    return Family(
        name, "lecture notes: a scalar RNN unrolled 3 steps, shared w and u (backpropagation through time)",
        SCALAR_RNN_PROGRAM, point, "L", fwd, bwd, ask=("u", "w", "h0", "X", "h2"),
        right_formulas=[
            ("u", "dh1*(1 - h1^2)*h0 + dh2*(1 - h2^2)*h1 + dh3*(1 - h3^2)*h2",
             lambda e: u_steps(e, (1, 2, 3))),
            ("w", "dh1*(1 - h1^2)*X[0] + dh2*(1 - h2^2)*X[1] + dh3*(1 - h3^2)*X[2]",
             lambda e: w_steps(e, (1, 2, 3))),
        ],
        wrong_numbers=[
            ("u", "time-steps", lambda e: u_steps(e, (3,))),
            ("u", "time-steps", lambda e: u_steps(e, (2, 3))),
            ("w", "time-steps", lambda e: w_steps(e, (3,))),
            ("w", "time-steps", lambda e: w_steps(e, (1, 2))),
            ("u", "sign", lambda e: -e["du"]),
        ],
        wrong_formulas=[
            ("u", "time-steps", "dh3*(1 - h3^2)*h2", lambda e: u_steps(e, (3,))),
            ("w", "time-steps", "dh2*(1 - h2^2)*X[1] + dh3*(1 - h3^2)*X[2]", lambda e: w_steps(e, (2, 3))),
        ],
    )


def _fan_out_vector(name: str) -> Family:
    point = {"W": np.array([[0.5, -0.2, 0.1], [0.3, 0.8, -0.4]]), "x": np.array([1.0, 0.5, -1.5]),
             "u": np.array([0.7, -0.3])}

    def fwd(v):
        z = v["W"] @ v["x"]
        return {"z": z, "L": z @ z + v["u"] @ z}

    def bwd(v, s):
        dz = 2 * s["z"] + v["u"]  # z feeds both terms: the uses add
        return {"L": 1.0, "z": dz, "x": v["W"].T @ dz, "W": np.outer(dz, v["x"]), "u": s["z"]}

    return Family(
        name, "lecture notes: fan-out on vectors, z = Wx used twice", "z = W@x; L = dot(z, z) + dot(u, z)",
        point, "L", fwd, bwd, ask=("x", "W", "z"),
        right_formulas=[
            ("x", "transpose(W) @ (2*z + u)", lambda e: e["W"].T @ (2 * e["z"] + e["u"])),
            ("x", "(2*z + u) @ W", lambda e: (2 * e["z"] + e["u"]) @ e["W"]),
            ("x", "transpose(W) @ dz", lambda e: e["W"].T @ e["dz"]),
            ("W", "outer(2*z + u, x)", lambda e: np.outer(2 * e["z"] + e["u"], e["x"])),
        ],
        wrong_numbers=[
            ("x", "fan-out", lambda e: e["W"].T @ (2 * e["z"])),
            ("x", "fan-out", lambda e: e["W"].T @ e["u"]),
            ("W", "fan-out", lambda e: np.outer(2 * e["z"], e["x"])),
            ("z", "fan-out", lambda e: e["u"]),
        ],
        wrong_formulas=[
            ("x", "fan-out", "transpose(W) @ (2*z)", lambda e: e["W"].T @ (2 * e["z"])),
            ("W", "fan-out", "outer(u, x)", lambda e: np.outer(e["u"], e["x"])),
        ],
    )


def _max_vector(name: str) -> Family:
    point = {"W": np.array([[0.5, -0.2], [0.3, 0.8], [-0.6, 0.4]]), "x": np.array([1.0, -0.5]),
             "c": np.array([0.1, 0.2, -0.3]), "u": np.array([0.7, -1.2, 0.4])}

    def fwd(v):
        z = v["W"] @ v["x"]
        m = np.maximum(z, v["c"])
        return {"z": z, "m": m, "L": v["u"] @ m}

    def bwd(v, s):
        zwins = (s["z"] > v["c"]).astype(float)
        dz = v["u"] * zwins
        return {"L": 1.0, "m": v["u"], "z": dz, "c": v["u"] * (1 - zwins), "W": np.outer(dz, v["x"]),
                "x": v["W"].T @ dz, "u": s["m"]}

    return Family(
        name, "CS231n: an elementwise max gate on vectors (a maxout-style unit)",
        "z = W@x; m = max(z, c); L = dot(u, m)",
        point, "L", fwd, bwd, ask=("W", "c", "z", "x"),
        right_formulas=[
            ("W", "outer(u*(z > c), x)", lambda e: np.outer(e["u"] * (e["z"] > e["c"]), e["x"])),
            ("W", "outer(dm*(z > c), x)", lambda e: np.outer(e["dm"] * (e["z"] > e["c"]), e["x"])),
            ("c", "u*(c > z)", lambda e: e["u"] * (e["c"] > e["z"])),
        ],
        wrong_numbers=[
            # routed to the loser
            ("W", "max-routing", lambda e: np.outer(e["u"] * (e["z"] < e["c"]), e["x"])),
            ("W", "max-routing", lambda e: np.outer(e["u"], e["x"])),                      # routed to both
            ("c", "max-routing", lambda e: e["u"] * (e["z"] > e["c"])),
            ("z", "max-routing", lambda e: e["u"]),
        ],
        wrong_formulas=[
            ("W", "max-routing", "outer(u, x)", lambda e: np.outer(e["u"], e["x"])),
            ("c", "max-routing", "u*(z > c)", lambda e: e["u"] * (e["z"] > e["c"])),
        ],
    )


def _lstm(name: str) -> Family:
    point = {"x": np.array([0.5, -1.0, 0.3]),
             "Wi": np.array([[0.2, -0.3, 0.5], [0.4, 0.1, -0.2]]), "bi": np.array([0.1, -0.1]),
             "Wg": np.array([[-0.5, 0.2, 0.3], [0.6, -0.4, 0.1]]), "bg": np.array([0.0, 0.2]),
             "Wo": np.array([[0.3, 0.3, -0.6], [-0.2, 0.5, 0.4]]), "bo": np.array([0.05, 0.0]),
             "cp": np.array([0.4, -0.7]), "v": np.array([1.0, -0.5])}

    def fwd(v):
        ig = sigmoid(v["Wi"] @ v["x"] + v["bi"])
        gt = np.tanh(v["Wg"] @ v["x"] + v["bg"])
        og = sigmoid(v["Wo"] @ v["x"] + v["bo"])
        c = ig * gt + v["cp"]
        h = og * np.tanh(c)
        return {"ig": ig, "gt": gt, "og": og, "c": c, "h": h, "L": v["v"] @ h}

    def bwd(v, s):
        dh = v["v"]
        dog = dh * np.tanh(s["c"])
        dc = dh * s["og"] * (1 - np.tanh(s["c"]) ** 2)
        dig, dgt = dc * s["gt"], dc * s["ig"]
        dzi, dzg, dzo = dig * s["ig"] * (1 - s["ig"]), dgt * (1 - s["gt"] ** 2), dog * s["og"] * (1 - s["og"])
        return {"L": 1.0, "h": dh, "og": dog, "c": dc, "ig": dig, "gt": dgt, "cp": dc,
                "Wi": np.outer(dzi, v["x"]), "bi": dzi, "Wg": np.outer(dzg, v["x"]), "bg": dzg,
                "Wo": np.outer(dzo, v["x"]), "bo": dzo, "v": s["h"],
                "x": v["Wi"].T @ dzi + v["Wg"].T @ dzg + v["Wo"].T @ dzo}

    return Family(
        name, "CS224n / CS231n assignment 3: one LSTM cell step (gates as sigmoid/tanh products)",
        "ig = sigmoid(Wi@x + bi); gt = tanh(Wg@x + bg); og = sigmoid(Wo@x + bo); c = ig*gt + cp; "
        "h = og*tanh(c); L = dot(v, h)",
        point, "L", fwd, bwd, ask=("Wi", "Wg", "Wo", "cp", "x", "c"),
        right_formulas=[
            ("Wi", "outer(dc*gt*ig*(1 - ig), x)",
             lambda e: np.outer(e["dc"] * e["gt"] * e["ig"] * (1 - e["ig"]), e["x"])),
            ("Wi", "outer(v*og*(1 - tanh(c)^2)*gt*ig*(1 - ig), x)",
             lambda e: np.outer(e["v"] * e["og"] * (1 - np.tanh(e["c"]) ** 2)
                                * e["gt"] * e["ig"] * (1 - e["ig"]), e["x"])),
            ("Wi", "outer(dig*(ig - ig^2), x)",
             lambda e: np.outer(e["dig"] * (e["ig"] - e["ig"] ** 2), e["x"])),
            ("cp", "v*og*(1 - tanh(c)^2)", lambda e: e["v"] * e["og"] * (1 - np.tanh(e["c"]) ** 2)),
            ("Wg", "outer(dgt*(1 - gt^2), x)", lambda e: np.outer(e["dgt"] * (1 - e["gt"] ** 2), e["x"])),
        ],
        wrong_numbers=[
            # tanh for tanh'
            ("Wg", "sigma", lambda e: np.outer(e["dgt"] * e["gt"], e["x"])),
            ("Wi", "sigma", lambda e: np.outer(e["dig"] * e["ig"], e["x"])),                     # σ for σ'
            ("cp", "sigma", lambda e: e["v"] * e["og"] * np.tanh(e["c"])),
            # tanh'(g) for tanh'(z)
            ("Wg", "sigma", lambda e: np.outer(e["dgt"] * (1 - np.tanh(e["gt"]) ** 2), e["x"])),
            # the input gate's path only
            ("x", "paths", lambda e: e["Wi"].T @ (e["dig"] * e["ig"] * (1 - e["ig"]))),
            # the factor g left out
            ("Wi", "chain", lambda e: np.outer(e["dc"] * e["ig"] * (1 - e["ig"]), e["x"])),
            ("Wo", "sign", lambda e: -e["dWo"]),
            ("Wi", "transposed", lambda e: e["dWi"].T),
        ],
        wrong_formulas=[
            ("Wg", "sigma", "outer(dgt*gt, x)", lambda e: np.outer(e["dgt"] * e["gt"], e["x"])),
            ("Wi", "chain", "outer(dc*ig*(1 - ig), x)",
             lambda e: np.outer(e["dc"] * e["ig"] * (1 - e["ig"]), e["x"])),
            ("cp", "sigma", "v*og*tanh(c)", lambda e: e["v"] * e["og"] * np.tanh(e["c"])),
        ],
    )


def _attention(name: str) -> Family:
    point = {"q": np.array([0.5, -0.2, 0.8, 0.1]),
             "K": np.array([[0.3, 0.1, -0.4, 0.6], [-0.5, 0.7, 0.2, 0.0], [0.4, -0.3, 0.9, -0.2]]),
             "V": np.array([[1.0, -0.5], [0.2, 0.8], [-0.6, 0.3]]), "u": np.array([0.7, -1.1])}

    def fwd(v):
        s = v["K"] @ v["q"] / 2
        a = softmax(s)
        o = v["V"].T @ a
        return {"s": s, "a": a, "o": o, "L": v["u"] @ o}

    def bwd(v, st):
        do = v["u"]
        da = v["V"] @ do
        ds = st["a"] * (da - st["a"] @ da)
        return {"L": 1.0, "o": do, "a": da, "s": ds, "V": np.outer(st["a"], do), "u": st["o"],
                "q": v["K"].T @ ds / 2, "K": np.outer(ds, v["q"]) / 2}

    return Family(
        name, "CS224n: single-query dot-product attention, scores K q / √4, softmax, weighted values",
        "s = K@q/2; a = softmax(s); o = transpose(V)@a; L = dot(u, o)",
        point, "L", fwd, bwd, ask=("q", "K", "V", "s", "a"),
        right_formulas=[
            ("V", "outer(a, u)", lambda e: np.outer(e["a"], e["u"])),
            ("V", "outer(a, do)", lambda e: np.outer(e["a"], e["do"])),
            ("q", "transpose(K) @ (a*(V@u - dot(a, V@u)))/2",
             lambda e: e["K"].T @ (e["a"] * (e["V"] @ e["u"] - e["a"] @ (e["V"] @ e["u"]))) / 2),
            ("q", "transpose(K) @ ds / 2", lambda e: e["K"].T @ e["ds"] / 2),
            ("K", "outer(ds, q)/2", lambda e: np.outer(e["ds"], e["q"]) / 2),
            ("s", "a*(da - dot(a, da))", lambda e: e["a"] * (e["da"] - e["a"] @ e["da"])),
        ],
        wrong_numbers=[
            ("V", "transposed", lambda e: np.outer(e["u"], e["a"])),
            ("V", "sign", lambda e: -e["dV"]),
            ("q", "factor", lambda e: 2 * e["dq"]),                          # the 1/√d left out
            ("K", "transposed", lambda e: e["dK"].T),
            ("s", "chain", lambda e: e["da"]),                               # softmax's Jacobian left out
            ("q", "chain", lambda e: e["K"].T @ e["da"] / 2),
        ],
        wrong_formulas=[
            ("V", "transposed", "outer(u, a)", lambda e: np.outer(e["u"], e["a"])),
            ("s", "chain", "da", lambda e: e["da"]),
            ("q", "factor", "transpose(K) @ ds", lambda e: e["K"].T @ e["ds"]),
        ],
    )


@functools.lru_cache(maxsize=None)
def families() -> tuple:
    """Every family, in a fixed order."""
    return (
        _lecture_e("lecture-e", 3.0, 2.0),
        _lecture_e("lecture-e-2", -1.5, 0.5),
        _lecture_max("lecture-max", 1.0, 2.0, 0.0, kink_formulas=True),
        _lecture_max("lecture-max-z", 4.0, -1.0, 2.0, kink_formulas=False),
        _chain("chain-0.7", 0.7),
        _chain("chain-1.3", 1.3),
        _chain("chain-neg", -2.1),
        _relu_unit("relu-on", 2.0, 3.0),
        _relu_unit("relu-off", -1.0, 3.0),
        _logreg("logreg-t1", 0.8, 1.5, 0.1, 1.0),
        _logreg("logreg-t0", -0.5, 1.7, 0.3, 0.0),
        _logreg_batch("logreg-batch"),
        _linear_mse("linear-mse"),
        _linear_batch("linear-batch"),
        _mlp_relu("mlp-relu"),
        _mlp_sigmoid("mlp-sigmoid"),
        _softmax_ce("softmax-3", 3, 1),
        _softmax_ce("softmax-4", 4, 2),
        _softmax_batch("softmax-batch"),
        _rnn("rnn-3"),
        _rnn("rnn-3-bias", bias=True),
        _rnn_scalar("rnn-scalar"),
        _fan_out_vector("fan-out-vec"),
        _max_vector("max-vec"),
        _lstm("lstm-gates"),
        _attention("attention"),
    )


def family(name: str) -> Family:
    return {f.name: f for f in families()}[name]


# ---- answers --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """One student answer with its label."""

    id: str
    family: str
    #: "expect", "expect-formula" or "expect-value"
    question: str
    #: the name asked (the output's name for expect-value)
    name: str
    #: the answer as the student writes it
    text: str
    right: bool
    #: the mistake class (None for a right answer)
    kind: Optional[str]
    #: significant digits written (numbers; None: exact or a formula)
    digits: Optional[int] = None
    #: NumPy twin of a formula: env -> value (None: the formula does not fit, e.g. a shape error)
    twin: Optional[Callable[[Env], object]] = field(default=None, compare=False, repr=False)


def clean(x: object) -> object:
    """The oracle's number with rounding noise near 0 set to 0 (and −0 to 0)."""
    a = np.asarray(x, dtype=float)
    scale = float(np.max(np.abs(a))) if a.size else 0.0
    a = np.where(np.abs(a) <= 1e-13 * max(scale, 1.0), 0.0, a) + 0.0
    return a if a.shape else float(a)


def written(x: object, digits: Optional[int]) -> str:
    """A number or nested array as a student writes it: `digits` significant digits
    (trailing zeros kept, so 8 to 3 digits is 8.00), or the exact float."""
    a = np.asarray(clean(x), dtype=float)
    if a.shape:
        return "[" + ",".join(written(row, digits) for row in a) + "]"
    v = float(a)
    if digits is None:
        return repr(v)
    if v == 0:
        return "0." + "0" * (digits - 1)
    return f"{v:#.{digits}g}".replace("e+0", "e+").replace("e-0", "e-")


def _numbers(fam: Family, question: str, name: str, truth: object) -> list[Answer]:
    out, seen = [], set()
    for digits in RIGHT_DIGITS:
        text = written(truth, digits)
        if text in seen:
            continue
        seen.add(text)
        tag = "exact" if digits is None else f"{digits}sf"
        out.append(Answer(f"{fam.name}/{question}/{name}/{tag}", fam.name, question, name, text, True, None,
                          digits))
    return out


@functools.lru_cache(maxsize=None)
def answers() -> tuple:
    """Every answer of the corpus, in a fixed order."""
    out: list[Answer] = []
    for fam in families():
        env = fam.env()
        for name in fam.ask:
            out += _numbers(fam, "expect", name, env["d" + name])
        if fam.ask_value:
            out += _numbers(fam, "expect-value", fam.output, env[fam.output])
        for k, (name, text, twin) in enumerate(fam.right_formulas):
            out.append(Answer(f"{fam.name}/expect-formula/{name}/right{k}", fam.name, "expect-formula", name,
                              text,
                              True, None, None, twin))
        seen: set = set()
        for k, (name, kind, fn) in enumerate(fam.wrong_numbers):
            text = written(fn(env), WRONG_DIGITS)
            if (name, text) in seen:
                continue
            seen.add((name, text))
            out.append(Answer(f"{fam.name}/expect/{name}/{kind}{k}", fam.name, "expect", name, text, False,
                              kind,
                              WRONG_DIGITS))
        for k, (name, kind, text, twin) in enumerate(fam.wrong_formulas):
            out.append(Answer(f"{fam.name}/expect-formula/{name}/{kind}{k}", fam.name, "expect-formula", name,
                              text,
                              False, kind, None, twin))
    return tuple(out)


# ---- judging and the three scores ------------------------------------------------------------
@dataclass
class Scores:
    """The issue's figures for a set of answers."""

    total: int = 0
    right: int = 0
    wrong: int = 0
    #: ids of right answers judged wrong (or not judged)
    rejected: list = field(default_factory=list)
    #: ids of wrong answers judged right
    accepted: list = field(default_factory=list)
    #: wrong answers whose diagnosis names their class
    diagnosed: int = 0
    #: (id, expected kind, kind given) of wrong answers not diagnosed with their class
    misdiagnosed: list = field(default_factory=list)
    #: the kind of every wrong answer judged
    kinds: list = field(default_factory=list)

    @property
    def diagnosed_share(self) -> float:
        return self.diagnosed / self.wrong if self.wrong else 1.0

    def summary(self) -> str:
        return (f"{self.total} answers ({self.right} right, {self.wrong} wrong): "
                f"{len(self.rejected)} right answers judged wrong, "
                f"{len(self.accepted)} wrong answers judged right, "
                f"{self.diagnosed}/{self.wrong} wrong answers diagnosed with their class "
                f"({100 * self.diagnosed_share:.1f} %)")

    def by_kind(self) -> dict:
        """kind -> (wrong answers of that kind diagnosed with it, wrong answers of that kind)."""
        missed: dict = {}
        for _id, kind, _got in self.misdiagnosed:
            missed[kind] = missed.get(kind, 0) + 1
        out: dict = {}
        for kind in self.kinds:
            out[kind] = out.get(kind, 0) + 1
        return {kind: (n - missed.get(kind, 0), n) for kind, n in out.items()}

    def kind_table(self) -> str:
        rows = sorted(self.by_kind().items(), key=lambda kv: (-kv[1][1], kv[0]))
        return "\n".join(f"{kind:16} {hit:3d} of {n:3d} diagnosed" for kind, (hit, n) in rows)

    def table(self, limit: int = 400) -> str:
        """The offending ids, one line each."""
        lines = [f"right judged wrong: {i}" for i in self.rejected]
        lines += [f"wrong judged right: {i}" for i in self.accepted]
        lines += [f"diagnosis: {i}: want {want}, got {got}" for i, want, got in self.misdiagnosed]
        more = len(lines) - limit
        return "\n".join(lines[:limit] + ([f"... and {more} more"] if more > 0 else []))


def kind_matches(want: str, got: Optional[str]) -> bool:
    """A diagnosis names the class: the same kind, or for a two-mistake answer the same pair."""
    if got is None:
        return False
    return got == want or sorted(got.split("+")) == sorted(want.split("+"))


def judge_api(answer: Answer) -> tuple:
    """(ok, kind) for one answer through `gradcli.judge`; ok is None when it could not
    be judged (a UsageError, a missing verdict)."""
    import gradcli
    from gradcli.core.errors import GradcliError

    fam = family(answer.family)
    kwargs: dict = {}
    if answer.question == "expect":
        kwargs["expect"] = {answer.name: answer.text}
    elif answer.question == "expect-formula":
        kwargs["expect_formula"] = {answer.name: answer.text}
    else:
        kwargs["expect_value"] = answer.text
    try:
        judgement = gradcli.judge(fam.program, _bindings(fam.point), **kwargs)
    except GradcliError:
        return None, None
    if len(judgement.verdicts) != 1:
        return None, None
    v = judgement.verdicts[0]
    return v.ok, v.mistake


def _bindings(point: dict) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in point.items()}


def cli_argv(answer: Answer) -> list[str]:
    """``gradcli check`` arguments for one answer (the program as text, bindings as
    NAME=VALUE), with --json."""
    fam = family(answer.family)
    argv = ["check", fam.program]
    argv += [f"{k}={written(v, None)}" for k, v in fam.point.items()]
    flag = {"expect": "--expect", "expect-formula": "--expect-formula"}.get(answer.question)
    argv += [flag, f"{answer.name}={answer.text}"] if flag else ["--expect-value", answer.text]
    return argv + ["--json"]


def scores(items: Iterable[Answer], judge: Callable[[Answer], tuple] = judge_api) -> Scores:
    """Judge every answer and count: right judged wrong, wrong judged right, diagnosed."""
    s = Scores()
    for a in items:
        ok, kind = judge(a)
        s.total += 1
        if a.right:
            s.right += 1
            if ok is not True:
                s.rejected.append(a.id)
        else:
            s.wrong += 1
            s.kinds.append(a.kind)
            if ok is True:
                s.accepted.append(a.id)
            if kind_matches(a.kind, kind):  # type: ignore[arg-type]
                s.diagnosed += 1
            else:
                s.misdiagnosed.append((a.id, a.kind, kind))
    return s
