"""Gradient checks: finite differences here, SymPy in `gradcli.backends.sympy`.

Both produce a `Check`: per input, an independent estimate of ∂out/∂input, its
difference from the AD value, and a status:

* ``ok`` -- agrees within tolerance;
* ``fail`` -- disagrees (exit status 1);
* ``kink`` -- disagrees, but the point sits where some node the input reaches is not
  differentiable (relu at 0, a tie in max): reported as "not differentiable here",
  a warning, not a failure;
* ``skipped`` -- the check could not run for this input (reason given).

Agreement means ``|AD - estimate| <= atol + rtol * max(|AD|, |estimate|)``; for
finite differences the rounding floor of the difference quotient,
``10·ε·max|f(x±h)| / h``, is added, since no step can do better than that.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from ..core.errors import MathError
from ..run.evaluate import Evaluation, Kink

EPS = 2.220446049250313e-16
#: default tolerances per check (README, "Checks")
DEFAULT_TOLERANCE = {"sympy": (1e-9, 1e-12), "fd": (1e-6, 1e-8)}
#: finite differences are skipped beyond this many node evaluations (nodes x inputs x 4)
FD_WORK_LIMIT = 20_000_000


class CheckResult:
    """One check of one input's gradient."""

    __slots__ = ("estimate", "error", "errors", "status", "note", "detail")

    def __init__(self, estimate: Any, error: Optional[float], status: str,
                 note: str = "", detail: Optional[dict] = None, errors: Any = None) -> None:
        #: the independent estimate: a float, or an array shaped like the input
        self.estimate = estimate
        #: the largest |AD - estimate| over the input's elements
        self.error = error
        #: per-element |AD - estimate| for array inputs
        self.errors = errors
        self.status = status
        self.note = note
        self.detail = detail or {}

    @property
    def ok(self) -> Optional[bool]:
        """True (agrees, or a kink), False (fails), None (skipped)."""
        if self.status == "skipped":
            return None
        return self.status != "fail"


class Check:
    """All inputs' results of one check, with its tolerances."""

    def __init__(self, name: str, rtol: float, atol: float) -> None:
        self.name = name
        self.rtol = rtol
        self.atol = atol
        self.results: dict[str, CheckResult] = {}
        #: a reason when the whole check was skipped or cut short
        self.note = ""

    @property
    def failed(self) -> list[str]:
        return [name for name, r in self.results.items() if r.status == "fail"]


def agree(ad: float, estimate: float, rtol: float, atol: float, floor: float = 0.0) -> bool:
    if math.isinf(ad) or math.isinf(estimate):
        return ad == estimate
    if math.isnan(ad) or math.isnan(estimate):
        return False
    scale = max(abs(ad), abs(estimate))
    # a zero scale allows nothing relative, even with rtol = inf (inf * 0 is not nan here)
    return abs(ad - estimate) <= atol + (rtol * scale if scale else 0.0) + floor


def judge(ev: Evaluation, name: str, ad: float, estimate: float, ok: bool) -> tuple[str, str]:
    """Status and note: a disagreement at a kink the input reaches is not a failure."""
    if ok:
        return "ok", ""
    kinks = kinks_reached(ev, name)
    if kinks:
        from ..core.ops import OPS

        k = kinks[0]
        label = ev.graph.label(k.node)
        return "kink", f"not differentiable here: {k.op} at node {label} ({OPS[k.op].convention})"
    return "fail", ""


def kinks_reached(ev: Evaluation, name: str) -> list[Kink]:
    """The kinks on some path from input `name` to the output."""
    if not ev.kinks:
        return []
    reach = [False] * len(ev.graph.nodes)
    reach[ev.input_id(name)] = True
    for node in ev.graph.nodes:
        if node.args and any(reach[a] for a in node.args):
            reach[node.id] = True
    return [k for k in ev.kinks if any(reach[a] for a in ev.graph.nodes[k.node].args)]


def finite_differences(ev: Evaluation, rtol: Optional[float] = None, atol: Optional[float] = None) -> Check:
    """Central differences with Richardson extrapolation, one input at a time."""
    d_rtol, d_atol = DEFAULT_TOLERANCE["fd"]
    check = Check("fd", d_rtol if rtol is None else rtol, d_atol if atol is None else atol)
    from ..core.elements import size

    work = len(ev.graph.nodes) * sum(size(ev.env[name]) for name in ev.wrt) * 4
    if work > FD_WORK_LIMIT:
        check.note = (
            f"skipped: {len(ev.wrt)} inputs × {len(ev.graph.nodes)} nodes is too much work for finite "
            "differences (pick inputs with --wrt)"
        )
        for name in ev.wrt:
            check.results[name] = CheckResult(None, None, "skipped", "too large")
        return check
    for name in ev.wrt:
        check.results[name] = _fd_one(ev, name, check)
    return check


def _fd_one(ev: Evaluation, name: str, check: Check) -> CheckResult:
    """Finite differences for one input: per element for arrays."""
    from ..core.elements import elements

    value = ev.env[name]
    if not hasattr(value, "shape"):
        return _fd_element(ev, name, None, check)
    import numpy as np

    estimate = np.zeros(value.shape)
    errors = np.zeros(value.shape)
    statuses, notes, skipped = [], [], []
    for label, index in elements(name, value):
        r = _fd_element(ev, name, index, check)
        if r.estimate is None:
            skipped.append(f"{label}: {r.note}")
            estimate[index], errors[index] = np.nan, np.nan
            continue
        estimate[index], errors[index] = r.estimate, r.error
        statuses.append(r.status)
        if r.note and r.note not in notes:
            notes.append(r.note)
    if skipped and not statuses:
        return CheckResult(None, None, "skipped", skipped[0])
    status = "fail" if "fail" in statuses else ("kink" if "kink" in statuses else "ok")
    largest = float(np.nanmax(errors)) if errors.size else 0.0  # an empty input (zeros(0)): nothing differs
    return CheckResult(estimate, largest, status, "; ".join(notes + skipped[:1]), errors=errors)


def _fd_element(ev: Evaluation, name: str, index, check: Check) -> CheckResult:
    tape, out = ev.tape, ev.graph.output
    base = ev.env[name]
    x = float(base if index is None else base[index])
    grad = ev.gradient[name]
    ad = float(grad if index is None else grad[index])
    h0 = EPS ** (1 / 3) * max(1.0, abs(x))
    if not math.isfinite(ad):
        return CheckResult(None, None, "skipped", "the AD derivative is not finite: no finite difference to compare")

    seed: Any = ev.seed_output
    if seed is not None:
        import numpy as np

    def f(at: float) -> float:
        env = dict(ev.env)
        if index is None:
            env[name] = at
        else:
            moved = base.copy()
            moved[index] = at
            env[name] = moved
        value = tape.forward(env)[out]
        # with --seed-output the gradient is of ⟨seed, output⟩: differences of that number
        return value if seed is None else float(np.sum(np.multiply(seed, value)))

    found = derivative_estimate(f, x)
    if found is None:
        return CheckResult(
            None, None, "skipped",
            f"the program is undefined within {h0:.1e} of {name} = {x}: no finite difference possible",
        )
    estimate, floor, h = found
    ok = agree(ad, estimate, check.rtol, check.atol, floor)
    status, note = judge(ev, name, ad, estimate, ok)
    return CheckResult(estimate, _diff(ad, estimate), status, note, {"step": h} if index is None else {})


def derivative_estimate(f, x: float):
    """Central differences at h and h/2 combined by Richardson extrapolation.

    `f` maps a float to a float or an array.  Returns (estimate, rounding floor, h),
    or None when `f` is undefined (MathError) at every step tried: the step shrinks
    twice by 100 near a domain edge.
    """
    import numpy as np

    h0 = EPS ** (1 / 3) * max(1.0, abs(x))

    def central(h: float):
        hi, lo = x + h, x - h
        fp, fm = np.asarray(f(hi), dtype=float), np.asarray(f(lo), dtype=float)
        with np.errstate(all="ignore"):
            return (fp - fm) / (hi - lo), np.maximum(np.abs(fp), np.abs(fm)), hi - lo

    best = None
    for h in _steps(x, h0):
        try:
            d1, scale, _ = central(h)
            d2, scale2, width2 = central(h / 2)
        except MathError:
            continue
        with np.errstate(all="ignore"):
            estimate = (4.0 * d2 - d1) / 3.0  # Richardson: cancels the h^2 error term
            # initial=0: an empty output (x * zeros(0)) has nothing to disagree about
            spread = float(np.max(np.abs(d1 - d2) / np.maximum(np.abs(d2), 1e-300), initial=0.0))
        estimate = np.where(np.isfinite(estimate), estimate, d2)
        with np.errstate(all="ignore"):
            floor = 10.0 * EPS * np.maximum(scale, scale2) / (width2 / 2)
        found = (float(estimate) if estimate.ndim == 0 else estimate,
                 float(floor) if np.ndim(floor) == 0 else floor, h)
        if spread < 1e-3:  # the two steps agree: the extrapolation is trustworthy
            return found
        if best is None or spread < best[0]:
            best = (spread, found)
    return None if best is None else best[1]


def _steps(x: float, h0: float) -> list[float]:
    """Steps to try, largest first: h0 = ∛ε·max(1, |x|), then smaller near domain edges."""
    c = EPS ** (1 / 3)
    steps = [h0 * 10.0 ** -k for k in range(0, 7, 2)]
    if 0 < abs(x) < 1:
        steps += [c * abs(x), c * abs(x) * 1e-2]
    # a step must move x in both directions (not underflow, not vanish next to x)
    return sorted({h for h in steps if h > 0 and x + h / 2 != x and x - h / 2 != x}, reverse=True)


def _diff(a: float, b: float) -> float:
    if math.isinf(a) and a == b:
        return 0.0
    return abs(a - b)
