"""Gradient descent with the engine's own gradients: θ ← θ − lr·∇output.

`descend` updates the inputs named by `wrt` (all inputs by default); every step is
one forward and one backward pass of the same tape.  With momentum the update is
PyTorch's SGD rule: v ← μ·v + g, θ ← θ − lr·v.

With `data` (the columns of an ``--examples`` CSV), the program is written for one
example and the loss is its mean over a minibatch, as the lecture's SGD: the rows
are shuffled once per epoch by a seeded NumPy generator and taken `batch` at a time
(the whole data set when `batch` is None), so a run is reproducible.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from ..core.errors import MathError, UsageError
from .bindings import Binding

#: a loss that grows by this factor over the first one is a divergence
DIVERGENCE = 1e6
#: steps whose parameters are all kept (for drawing the path of two scalar parameters)
HISTORY = 100_000
#: most losses kept for the loss curve (every step up to this many, then every k-th)
LOSS_POINTS = 100_000


class Diverged(MathError):
    """The descent diverged; `partial` holds the rows reached before it, to print first."""

    def __init__(self, message: str, partial: "Descent") -> None:
        super().__init__(message)
        self.partial = partial
#: the most steps shown (printed, written as JSON or CSV, drawn): --updates / --every is refused above it
MAX_SHOWN = 100_000


class Record:
    """One step: the loss and gradient norm at the parameters *before* the update."""

    __slots__ = ("step", "loss", "grad_norm", "params")

    def __init__(self, step: int, loss: float, grad_norm: float, params: dict[str, object]) -> None:
        self.step, self.loss, self.grad_norm, self.params = step, loss, grad_norm, params


class Descent:
    """The records (every `every`-th step, the first and the last) and why it stopped."""

    def __init__(self, wrt: list[str], output: str) -> None:
        self.wrt = wrt
        self.output = output
        self.records: list[Record] = []
        #: every step's parameters while there are at most HISTORY steps (for a path picture)
        self.history: list[dict[str, object]] = []
        self.final: dict[str, object] = {}
        self.stopped = ""
        self.steps_taken = 0
        #: (step, loss) of every step (every k-th past LOSS_POINTS steps), for the loss curve
        self.losses: list[tuple[int, float]] = []


def _copy(x: object) -> object:
    return np.array(x, dtype=float) if getattr(x, "shape", ()) else float(x)  # type: ignore[arg-type]


def _norm(grads: dict[str, object]) -> float:
    """The Euclidean norm of all gradients together, scaled so that large finite gradients
    (``1e200*x``) do not overflow in the squares: inf only when a gradient is."""
    parts = [np.abs(np.asarray(g, dtype=float)).ravel() for g in grads.values()]
    if not parts:
        return 0.0
    flat = np.concatenate(parts)
    if not flat.size:
        return 0.0
    biggest = float(flat.max())
    if not math.isfinite(biggest):
        return biggest  # inf, or nan for an undefined gradient
    if biggest == 0.0:
        return 0.0
    return biggest * math.sqrt(float(np.sum(np.square(flat / biggest))))


def descend(source: str, bindings: dict[str, Binding], *, lr: float, steps: int, wrt: Optional[list[str]] = None,
            momentum: float = 0.0, tol: float = 0.0, every: int = 1, output: Optional[str] = None,
            data: Optional[tuple[list[str], np.ndarray]] = None, batch: Optional[int] = None,
            seed: int = 0) -> Descent:
    """Run up to `steps` updates; stop early when the gradient norm falls below `tol`."""
    if not (lr > 0 and math.isfinite(lr)):
        raise UsageError("--lr must be a positive number")
    if not 0 <= momentum < 1:
        raise UsageError("--momentum must be in [0, 1)")
    if steps < 0 or every < 1:
        raise UsageError("--updates must be ≥ 0 and --every ≥ 1")
    if steps // every + 1 > MAX_SHOWN:  # every shown step is kept until it is printed
        least = -(-steps // (MAX_SHOWN - 1))
        raise UsageError(f"--updates {steps} with --every {every} would show {steps // every + 1:,} steps; descend "
                         f"shows at most {MAX_SHOWN:,}: give --every {least} or more")
    if data is None:
        loss_and_grad, names, out = _full_batch(source, bindings, wrt, output)
    else:
        loss_and_grad, names, out = _minibatches(source, bindings, wrt, output, data, batch, seed)
    params: dict[str, Any] = {name: _copy(bindings[name].value) for name in names}
    velocity: dict[str, Any] = {name: np.zeros_like(np.asarray(params[name], dtype=float)) for name in names}
    result = Descent(names, out)
    path = len(names) == 2 and not any(getattr(params[n], "shape", ()) for n in names)  # a picture can draw it
    first: Optional[float] = None
    loss_every = max(1, -(-(steps + 1) // LOSS_POINTS))

    def diverged(k: int, message: str, loss: float = math.inf, norm: float = math.inf) -> Diverged:
        result.records.append(Record(k, loss, norm, {n: _copy(v) for n, v in params.items()}))
        result.final, result.steps_taken, result.stopped = params, k, "diverged"
        return Diverged(message, result)

    for k in range(steps + 1):
        try:
            loss, grads = loss_and_grad(params, k)
        except MathError as exc:
            if k == 0:  # the starting point itself: an input error, nothing reached yet
                raise
            raise diverged(k, f"gradient descent at step {k}: {exc.message}") from None
        norm = _norm(grads)
        if not math.isfinite(loss) or not math.isfinite(norm):
            raise diverged(k, f"gradient descent diverged at step {k}: the loss is {loss!r} "
                              f"(gradient norm {norm:.3g}); try a smaller --lr", loss, norm)
        first = loss if first is None else first
        if abs(loss) > DIVERGENCE * max(abs(first), 1e-12) and k > 0:
            raise diverged(k, f"gradient descent diverged at step {k}: the loss grew from {first:.6g} to "
                              f"{loss:.6g}; try a smaller --lr", loss, norm)
        last = k == steps or norm < tol
        if k % loss_every == 0 or last:
            result.losses.append((k, loss))
        if k < HISTORY and path:
            result.history.append({n: _copy(v) for n, v in params.items()})
        if k % every == 0 or last:
            result.records.append(Record(k, loss, norm, {n: _copy(v) for n, v in params.items()}))
        if last:
            result.stopped = "tolerance" if norm < tol else "steps"
            result.steps_taken = k
            break
        for name in names:
            g = grads[name]
            if momentum:
                velocity[name] = momentum * velocity[name] + g
                update = velocity[name]
            else:
                update = g
            params[name] = _copy(params[name] - lr * update)  # type: ignore[operator]
    result.final = params
    return result


def _full_batch(source: str, bindings: dict[str, Binding], wrt: Optional[list[str]], output: Optional[str]):
    from .evaluate import prepare, run

    ev = prepare(source, bindings, output, wrt)
    if not ev.scalar_output:
        raise UsageError("gradient descent needs a scalar output (a loss)")
    names = list(ev.wrt)

    def loss_and_grad(params: dict[str, Any], step: int):
        for name, value in params.items():
            ev.env[name] = value
        ev.warnings = []
        run(ev)
        return float(ev.value), {name: _copy(ev.gradient[name]) for name in names}

    return loss_and_grad, names, ev.output_name


def _minibatches(source: str, bindings: dict[str, Binding], wrt: Optional[list[str]], output: Optional[str],
                 data: tuple[list[str], np.ndarray], batch: Optional[int], seed: int):
    from .batch import evaluate_points
    from .evaluate import prepare

    columns, table = data
    n = table.shape[0]
    if batch is not None and not 1 <= batch <= n:
        raise UsageError(f"--batch must be between 1 and the number of rows ({n})")
    probe = {name: Binding(name, float(table[0, k]), "", "--examples") for k, name in enumerate(columns)}
    ev = prepare(source, {**bindings, **probe}, output, wrt)
    names = [name for name in ev.wrt if name not in columns]
    if not names:
        raise UsageError("every input is an --examples column: name parameters to learn with --wrt or bind them")
    for name in names:
        if getattr(ev.env[name], "shape", ()):
            raise UsageError(f"with --examples the parameters are scalars; {name} is an array")
    rng = np.random.default_rng(seed)
    size = n if batch is None else batch
    order = np.arange(n)
    per_epoch = max(1, n // size)

    def loss_and_grad(params: dict[str, object], step: int):
        nonlocal order
        k = step % per_epoch
        if k == 0 and batch is not None:
            order = rng.permutation(n)
        rows = order[k * size:(k + 1) * size] if batch is not None else order
        fixed = {**bindings, **{name: Binding(name, float(v), repr(float(v)), "descend")  # type: ignore[arg-type]
                                for name, v in params.items()}}
        result = evaluate_points(source, columns, table[rows], fixed, output, names, option="--examples")
        if result.failed.any():
            row = int(rows[int(np.argmax(result.failed))])
            raise MathError(f"gradient descent at step {step}: row {row + 1} of the data is undefined "
                            f"({result.first_error})")
        return float(np.mean(result.value)), {name: float(np.mean(result.gradient[name])) for name in names}

    return loss_and_grad, names, ev.output_name
