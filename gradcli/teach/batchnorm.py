"""Batch normalisation's compact backward formula, for the explanations.

The prelude's ``batchnorm(x, γ, β[, ε])`` is ``γ ∘ (x − μ) / σ + β`` with μ and σ² = var the
mean and population variance of each column (over the batch, axis 0) and σ = √(σ² + ε).  The
engine differentiates it node by node; CS231n's assignment asks for the compact form of the
same derivative (the lecture derives it once, on paper)::

    x̄ = γ / (N σ) ∘ (N ȳ − Σₙ ȳ − x̂ ∘ Σₙ (ȳ ∘ x̂)),   x̂ = (x − μ) / σ
    γ̄ = Σₙ ȳ ∘ x̂,   β̄ = Σₙ ȳ

`batchnorm_notes` finds each inlined ``batchnorm`` call of an evaluation and returns the
formula with the call's own names and its value there (data: `explain.steps_text` renders it;
tests/test_batch_losses.py compares the value with the engine's adjoint).
"""

from __future__ import annotations

from typing import Any

#: the compact backward formula, with {x}, {gamma} for the call's names and {xb}, {yb} for the
#: adjoints of x and of the result
FORMULA = "{xb} = {gamma} / (N σ) ∘ (N {yb} − Σₙ {yb} − x̂ ∘ Σₙ ({yb} ∘ x̂)),  x̂ = ({x} − μ) / σ,  σ = √(var({x}) + ε)"
#: the parameters' adjoints
PARAMETERS = "{gammab} = Σₙ {yb} ∘ x̂,  {betab} = Σₙ {yb}"


def _parts(graph: Any, result: int) -> dict[str, int]:
    """The nodes of one inlined batchnorm: its arguments x, γ, β, σ and its result, read off the
    prelude's body ``gamma * (x - mean(x, 0)) / sqrt(var(x, 0) + eps) + beta``.
    A call of the user's own ``batchnorm`` (which replaces the prelude's) has another body:
    KeyError then, and no note."""
    nodes = graph.nodes
    top = nodes[result]
    quotient = nodes[top.args[0]] if top.op == "add" else None
    product = nodes[quotient.args[0]] if quotient is not None and quotient.op == "div" else None
    centred = nodes[product.args[1]] if product is not None and product.op == "mul" else None
    if (centred is None or centred.op != "sub" or nodes[centred.args[1]].op != "mean"
            or nodes[centred.args[1]].param != 0 or nodes[quotient.args[1]].op != "sqrt"):  # type: ignore[union-attr]
        raise KeyError(result)
    return {"x": centred.args[0], "gamma": product.args[0], "beta": top.args[1],  # type: ignore[union-attr]
            "sigma": quotient.args[1], "out": result}  # type: ignore[union-attr]


def compact_dx(x, gamma, sigma, g):
    """CS231n's x̄ of batchnorm from the values: x (N, D), γ, σ = √(var + ε) per column, ȳ (N, D)."""
    import numpy as np

    x, g = np.asarray(x, dtype=float), np.asarray(g, dtype=float)
    n = x.shape[0]
    xhat = (x - x.mean(axis=0)) / sigma
    return gamma / (n * sigma) * (n * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))


def batchnorm_notes(ev: Any) -> list[dict]:
    """One entry per batchnorm call whose result has an adjoint: its label, the names of x, γ,
    β and the result, the formula (text), and x̄ by the formula (the adjoint x receives from
    this call)."""
    graph = ev.graph
    notes: list[dict] = []
    if not ev.adjoints:
        return notes
    for label, _, result in graph.calls:
        if not str(label).startswith("batchnorm#") or result < 0:
            continue
        try:
            p = _parts(graph, result)
        except (IndexError, KeyError):  # not the prelude's body
            continue
        g = ev.adjoints[p["out"]]
        if g is None or not ev.tape.live[p["x"]]:
            continue
        from .edges import _bar

        names = {k: graph.label(v) for k, v in p.items()}
        names.update({f"{k}b": _bar(names[k]) for k in ("x", "gamma", "beta")}, yb=_bar(names["out"]))
        try:
            value = compact_dx(ev.values[p["x"]], ev.values[p["gamma"]], ev.values[p["sigma"]], g)
        except ValueError:  # x not a batch (N, D) the formula reads
            continue
        notes.append({
            "call": label,
            "x": names["x"],
            "formula": FORMULA.format(**names),
            "parameters": PARAMETERS.format(**names),
            "value": value,
        })
    return notes
