"""The SymPy oracle: SymPy's own derivative of our graph, evaluated at the point.

`sympy_check` differentiates the output expression with ``sympy.diff`` for each
input -- SymPy's own calculus, not our rules -- and evaluates the derivative at the
point to 30 significant digits.  To keep the cost linear in the graph, values are
computed through common-subexpression elimination (``sympy.cse``) rather than by
substituting into the tree.  All of it runs under a time budget (`gradcli.oracles.budget`):
the values (the verdict) first, then the printed formulas; what is not done by the
deadline is reported as skipped, and the rest of the output still comes.

The verdict never waits for a formula: every value is sent before any formula is
printed, and no formula goes through SymPy's ``simplify`` (0.2-1.5 s a formula).  The
printed form is the shortest of a few cheap deterministic rewrites
(`gradcli.oracles.short_form.shortest`), chosen by the formula alone.

When SymEngine (a regular dependency) loads and has a derivative
for every op of the graph (`gradcli.backends.symengine.supports`), the same forms are
built, differentiated and evaluated in SymEngine instead: about a hundred times
faster, and SymPy is imported only to print the formulas.  Any result SymEngine cannot
give as a finite real number (complex,
infinite, undefined) sends the whole check back to SymPy, so verdicts do not depend
on which library is installed.  Either way the derivative is the library's calculus
on the forward forms of `gradcli.backends.sympy`, never gradcli's own partials.

SymPy is imported only here, only when a symbolic check is asked for.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any, Optional

from ..backends.sympy import input_symbols, is_data, point_of, short, to_float, to_sympy, values_at
from ..run.evaluate import Evaluation
from . import budget
from .checks import DEFAULT_TOLERANCE, Check, CheckResult, agree, judge

#: default --sympy-timeout, seconds
DEFAULT_BUDGET = 10.0
#: the LaTeX formulas of `gradcli.oracles.exact.run_latex` (not this check's, see
#: `printed_formula`) go through SymPy's ``simplify`` only when this small (``count_ops``,
#: and characters as printed): the choice depends on the formula, never on the time or the load
SIMPLIFY_OPS = 48
SIMPLIFY_CHARS = 200
#: and when it holds at most this many distinct exponentials of a compound argument
#: (``exp(b + w*x)``): with two or more (two neurons), simplify takes 0.2-1.5 s a formula
#: and gives back what it was given on every sample
SIMPLIFY_EXPONENTIALS = 1
#: and only while the operations of the formulas simplified so far add up to at most this
SIMPLIFY_TOTAL_OPS = 240
#: a guard only, against a simplification far slower than its size suggests: once values and
#: raw formulas are in, the chosen simplifications get at most this long
SIMPLIFY_GUARD_SECONDS = 8.0
#: a guard only, against a formula far slower to print than its size suggests: once the
#: values are in, the printed formulas get at most this long (on the samples they take
#: milliseconds; a formula not printed by then is left out, the verdict stands)
FORMULA_GUARD_SECONDS = 8.0
#: graphs larger than this are not translated at all
NODE_LIMIT = 5000
#: inputs with more elements than this in all are not checked symbolically
ELEMENT_LIMIT = 200


#: convolution and pooling become one SymPy expression per output element, each a sum (or a
#: Max) over its window: more terms than this in all and the check is skipped at once
WINDOW_TERM_LIMIT = 400


def _window_terms(graph) -> int:
    """Σ over the conv2d, conv1d, maxpool2d and avgpool2d nodes of output elements × window size."""
    total = 0
    for node in graph.nodes:
        if node.op in ("conv2d", "conv1d"):
            window = 1
            for d in graph.nodes[node.args[1]].shape[1:]:
                window *= d
        elif node.op in ("maxpool2d", "avgpool2d"):
            window = node.param[0] ** 2
        else:
            continue
        count = 1
        for d in node.shape:
            count *= d
        total += count * window
    return total


def sympy_check(ev: Evaluation, rtol: Optional[float] = None, atol: Optional[float] = None,
                seconds: float = DEFAULT_BUDGET) -> Check:
    """Compare each AD gradient with SymPy's derivative at the point."""
    d_rtol, d_atol = DEFAULT_TOLERANCE["sympy"]
    check = Check("sympy", d_rtol if rtol is None else rtol, d_atol if atol is None else atol)
    if len(ev.graph.nodes) > NODE_LIMIT:
        check.note = f"skipped: {len(ev.graph.nodes)} nodes is more than the symbolic check takes ({NODE_LIMIT})"
        for name in ev.wrt:
            check.results[name] = CheckResult(None, None, "skipped", "too large")
        return check
    terms = _window_terms(ev.graph)
    if terms > WINDOW_TERM_LIMIT:
        check.note = (f"skipped: the convolutions and pooling expand to {terms:,} symbolic terms, more than the "
                      f"symbolic check takes ({WINDOW_TERM_LIMIT}); the finite-difference check covers them")
        for name in ev.wrt:
            check.results[name] = CheckResult(None, None, "skipped", "too large")
        return check
    from ..backends import symengine as fast_backend
    from ..core.elements import elements, size

    # SymEngine when it can do this graph (a graph it cannot do is spared its import).  A
    # long-lived caller (the Python API) imports the libraries once, here, and every later
    # check's child inherits them; a command runs one check and exits, so its child imports
    # them itself: then the child does not copy the parent's pages of SymPy as it touches
    # them, and the parent has no SymPy to tear down at exit (0.1 s of a 0.6 s check)
    fast = fast_backend.supports(ev.graph)
    if not budget.in_command():
        fast = fast and fast_backend.load() is not None
        if not fast:
            import sympy  # noqa: F401

    parent = os.getpid()
    graph, wrt, env, seed = ev.graph, list(ev.wrt), ev.env, ev.seed_output
    if sum(size(env[name]) for name in wrt) > ELEMENT_LIMIT:
        check.note = f"skipped: more than {ELEMENT_LIMIT} input elements for a symbolic check"
        for name in ev.wrt:
            check.results[name] = CheckResult(None, None, "skipped", "too large")
        return check
    labels = [(name, label, index) for name in wrt for label, index in elements(name, env[name])]

    def job(send: budget.Send) -> None:
        forked = os.getpid() != parent
        if forked:  # a forked child, which exits after the check: see _spare_tensor_import
            _spare_tensor_import()
        derivatives = None
        if fast and fast_backend.load(spare_numpy=forked):
            derivatives = _symengine_values(graph, env, wrt, labels, send, seed)
        if derivatives is None:
            derivatives = _sympy_values(graph, env, wrt, labels, send, seed)
        send(("essentials",))  # every value is in: the verdict does not wait for the formulas
        for label, d in derivatives.items():
            send(("formula", label, printed_formula(d)))

    outcome = budget.run(job, seconds, patience=FORMULA_GUARD_SECONDS)
    got: dict[str, dict] = {label: {} for _, label, _ in labels}
    for message in outcome.messages:
        kind, label, *rest = message
        if kind == "value":
            got[label]["value"], got[label]["exact"] = rest
        else:
            got[label][kind] = rest[0]
    why = "time budget" if outcome.timed_out and not outcome.essentials else (outcome.error or "no result")
    for name in wrt:
        mine = [(label, index) for n, label, index in labels if n == name]
        if any("value" not in got[label] for label, _ in mine):
            check.results[name] = CheckResult(None, None, "skipped", why)
            continue
        ad = ev.gradient[name]
        if not mine:  # an empty input (zeros(0)): no element to check, nothing disagrees
            import numpy as np

            check.results[name] = CheckResult(np.zeros(np.shape(ad)), 0.0, "ok", "", {"formulas": {}},
                                              errors=np.zeros(np.shape(ad)))
            continue
        if mine[0][1] is None:
            entry = got[name]
            estimate = entry["value"]
            ok = agree(ad, estimate, check.rtol, check.atol)
            status, note = judge(ev, name, ad, estimate, ok)
            formula = entry.get("formula") or ""
            error = 0.0 if (math.isinf(ad) and ad == estimate) else abs(ad - estimate)
            check.results[name] = CheckResult(
                estimate, error, status, note, {"formula": formula, "exact": entry["exact"]}
            )
            continue
        import numpy as np

        estimate_arr = np.zeros(np.shape(ad))
        errors = np.zeros(np.shape(ad))
        statuses, notes, formulas = [], [], {}
        for label, index in mine:
            est = got[label]["value"]
            a = float(ad[index])  # type: ignore[index]
            estimate_arr[index] = est
            errors[index] = 0.0 if (math.isinf(a) and a == est) else abs(a - est)
            status, note = judge(ev, name, a, est, agree(a, est, check.rtol, check.atol))
            statuses.append(status)
            if note and note not in notes:
                notes.append(note)
            formulas[label] = got[label].get("formula") or ""
        status = "fail" if "fail" in statuses else ("kink" if "kink" in statuses else "ok")
        check.results[name] = CheckResult(
            estimate_arr, float(errors.max()), status, "; ".join(notes), {"formulas": formulas}, errors=errors
        )
    if outcome.timed_out and not outcome.essentials:
        from .budget import ran_out

        check.note = f"{ran_out(seconds)}; unfinished parts are skipped"
    elif outcome.error and not check.note:
        check.note = f"SymPy failed: {outcome.error}"
    return check


#: formulas from SymEngine up to this many characters are converted to SymPy to be
#: printed (in SymPy's term order, in their shortest form); longer ones are shown as SymEngine
#: prints them (they are shortened to `FORMULA_LIMIT` characters either way)
CONVERT_LIMIT = 4000


def _labelled(labels: list, name: str) -> list:
    return [(label, index) for n, label, index in labels if n == name]


def _seeded(f: Any, seed: Any, number: Any) -> Any:
    """The output `f` the check differentiates: ⟨seed, f⟩ with --seed-output (the gradient is
    a vector-Jacobian product), else `f`; `number` makes a float the library's exact number."""
    if seed is None:
        return f
    import numpy as np

    if not np.shape(seed):
        return number(float(seed)) * f  # type: ignore[arg-type]
    total = number(0.0)
    for index in np.ndindex(*np.shape(seed)):
        weight = float(np.asarray(seed)[index])
        if weight:
            total = total + number(weight) * f[index]
    return total


def _sympy_values(graph, env, wrt, labels, send, seed: object = None) -> dict:
    """SymPy's derivative for every label: send its 30-digit value; return the expressions."""
    import sympy as sp

    symbols = input_symbols(graph, env)
    f = _seeded(to_sympy(graph, symbols)[graph.output], seed, sp.Rational)
    point = point_of(symbols, env)
    derivatives = {}
    for name in wrt:  # one input at a time: its elements share one CSE pass
        mine = _labelled(labels, name)
        ds = []
        for label, index in mine:
            sym = symbols[name] if index is None else symbols[name][index]  # type: ignore[index]
            derivatives[label] = sp.diff(f, sym)
            ds.append(derivatives[label])
        for (label, _), v in zip(mine, values_at(ds, point)):
            send(("value", label, to_float(v), str(v)))
    return derivatives


def printed_formula(derivative: Any) -> str:
    """The text shown for a derivative: SymEngine's text as it is (a formula too long to
    convert), else the shortest form of `gradcli.oracles.short_form`, cut to `FORMULA_LIMIT`."""
    if isinstance(derivative, str):
        return derivative
    from .short_form import shortest

    return short(shortest(derivative)[1])


def symbolic_derivatives(ev: Evaluation) -> dict[str, Any]:
    """Each element label's derivative as the check computes it, without a budget or a
    fork: SymPy expressions (SymEngine's text for very long ones).  For tests and tools."""
    from ..backends import symengine as fast_backend
    from ..core.elements import elements

    labels = [(name, label, index) for name in ev.wrt for label, index in elements(name, ev.env[name])]
    wrt = list(ev.wrt)
    derivatives = None
    if fast_backend.supports(ev.graph) and fast_backend.load() is not None:
        derivatives = _symengine_values(ev.graph, ev.env, wrt, labels, lambda message: None, ev.seed_output)
    if derivatives is None:
        derivatives = _sympy_values(ev.graph, ev.env, wrt, labels, lambda message: None, ev.seed_output)
    return derivatives


def to_simplify(derivatives: dict) -> list[tuple[str, Any]]:
    """The derivatives worth SymPy's ``simplify`` in the LaTeX output (`gradcli.oracles.exact`;
    the check's printed formulas use `printed_formula` instead), in order: small ones (`SIMPLIFY_OPS`,
    `SIMPLIFY_CHARS`, `SIMPLIFY_EXPONENTIALS`) while their operations add up to
    `SIMPLIFY_TOTAL_OPS`.  A size, not a clock: the same program prints the same formulas on
    a busy machine and a quiet one."""
    import sympy as sp

    chosen, total = [], 0
    for label, d in derivatives.items():
        if isinstance(d, str) or len(str(d)) > SIMPLIFY_CHARS:
            continue
        ops = sp.count_ops(d)
        if ops > SIMPLIFY_OPS or total + ops > SIMPLIFY_TOTAL_OPS:
            continue
        if sum(1 for e in d.atoms(sp.exp) if not e.args[0].is_Atom) > SIMPLIFY_EXPONENTIALS:
            continue
        total += ops
        chosen.append((label, d))
    return chosen


def _symengine_values(graph, env, wrt, labels, send, seed: object = None) -> Optional[dict]:
    """SymEngine's derivative for every label, or None to leave the whole check to SymPy.

    All values are computed before any is sent, so a fallback starts clean.  Returns
    SymPy expressions for short formulas and SymEngine's text for long ones."""
    found = _symengine_derivatives(graph, env, wrt, labels, seed)  # SymEngine alone: SymPy from here on
    if found is None:
        return None
    derivatives, values, names = found
    from ..backends import symengine as fast_backend

    se = fast_backend.load()
    import sympy as sp

    for label, v in values.items():
        if not isinstance(v, se.RealMPFR):  # an exact Integer or Rational
            v = v.n(fast_backend.BITS, real=True)
        exact = sp.Float(str(v), 30)
        send(("value", label, float(exact), str(exact)))
    out: dict = {}
    real = None
    for label, d in derivatives.items():
        text = str(d)
        if len(text) > CONVERT_LIMIT:
            out[label] = short(text)
            continue
        if real is None:  # SymEngine has no assumptions: give the formulas SymPy's real symbols back
            real = {sp.Symbol(name): sp.Symbol(name, real=True) for name in names}
        out[label] = sp.sympify(d).xreplace(real)
    return out


def _symengine_derivatives(graph, env, wrt, labels, seed: object = None) -> Optional[tuple[dict, dict, list[str]]]:
    """SymEngine alone (no SymPy): each label's derivative and its value at the point (103
    bits), and the names of the point's symbols; None when SymEngine cannot do it all."""
    from ..backends import symengine as fast_backend

    se = fast_backend.load()
    try:
        symbols: dict[str, Any] = input_symbols(graph, env, symbol=se.Symbol)
        f = _seeded(to_sympy(graph, symbols, se)[graph.output], seed,
                    lambda v: se.Integer(int(v)) if v.is_integer() else fast_backend.number_at(v, se))
        point = {}
        for name, sym in symbols.items():
            if is_data(sym):
                continue
            if hasattr(sym, "shape"):
                import numpy as np

                for index in np.ndindex(*sym.shape):
                    point[sym[index]] = fast_backend.number_at(env[name][index], se)
            else:
                point[sym] = fast_backend.number_at(env[name], se)
        derivatives, values = {}, {}
        for name in wrt:
            mine = _labelled(labels, name)
            ds = []
            for label, index in mine:
                sym = symbols[name] if index is None else symbols[name][index]  # type: ignore[index]
                derivatives[label] = se.diff(f, sym)
                ds.append(derivatives[label])
            for (label, _), v in zip(mine, fast_backend.values_at(ds, point, se)):
                if not fast_backend.is_real_number(v, se):
                    return None
                values[label] = v
    except (RuntimeError, TypeError, ValueError, AttributeError, NotImplementedError):
        return None  # anything SymEngine cannot build or differentiate: SymPy does it all
    return derivatives, values, [str(s) for s in point]


def _spare_tensor_import() -> None:
    """Spare a forked child the 0.05-0.15 s import of ``sympy.tensor.tensor`` (and with it
    ``sympy.combinatorics``).

    SymPy's ``Add.flatten`` imports it at the first sum it builds, only to ask whether a
    term is a ``TensExpr``; our expressions are built from our own graph and never hold a
    tensor expression, so classes that nothing is an instance of give the same answer.
    Any other name asked of the module loads the real one.  Only ever done in the forked
    child that runs the check (it exits right after), never in the caller's process.
    """
    name = "sympy.tensor.tensor"
    if name in sys.modules:
        return
    import types

    stand_in = types.ModuleType(name)

    class TensExpr:  # noqa: D401 - stand-ins nothing is an instance of
        pass

    class TensAdd:
        pass

    def real(attribute: str) -> Any:
        import importlib

        if attribute.startswith("__"):  # the import system's own questions (__path__...)
            raise AttributeError(attribute)
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        return getattr(importlib.import_module(name), attribute)

    stand_in.TensExpr, stand_in.TensAdd = TensExpr, TensAdd  # type: ignore[attr-defined]
    stand_in.__getattr__ = real  # type: ignore[method-assign]
    sys.modules[name] = stand_in
