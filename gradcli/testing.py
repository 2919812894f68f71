"""pytest helpers for autograders: compare a student's gradients with gradcli's.

* `assert_gradient(program, bindings, expected)` -- the student's numbers at one point.
* `assert_matches(student_function, program)` -- a student's Python function, called
  at random points, against gradcli's gradient there.

Failures read like PyTorch's ``gradcheck``: the point, then the student's
(analytic) and gradcli's numbers side by side, and the error against the tolerance.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence

from .api import BindingValue, Result, evaluate
from .core.errors import GradcliError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["assert_gradient", "assert_matches", "GradientMismatch"]

#: default tolerances: an answer passes when |answer - truth| <= atol + rtol * |truth|
RTOL = 1e-6
ATOL = 1e-9


class GradientMismatch(AssertionError):
    """A student's gradient disagrees with gradcli's."""


def _array(x: object) -> "np.ndarray":
    import numpy as np

    return np.asarray(x, dtype=float)


def _point_text(point: Mapping[str, object]) -> str:
    import numpy as np

    parts = []
    for name, v in point.items():
        shown = np.array2string(_array(v), precision=6, separator=", ") if getattr(v, "shape", ()) or \
            isinstance(v, (list, tuple)) else f"{float(v):.6g}"  # type: ignore[arg-type]
        parts.append(f"{name}={shown}")
    return ", ".join(parts)


def _compare(result: Result, answers: Mapping[str, object], rtol: float, atol: float,
             point: Mapping[str, object]) -> list[str]:
    """One report block per wrong answer (empty when all are right)."""
    import numpy as np

    problems = []
    for name, answer in answers.items():
        if name not in result.gradient:
            known = ", ".join(result.gradient) or "none"
            problems.append(f"∂{result.output}/∂{name}: {name!r} is not an input of the program (inputs: {known})")
            continue
        truth = _array(result.gradient[name])
        try:
            got = _array(answer)
        except (TypeError, ValueError):
            problems.append(f"∂{result.output}/∂{name}: the answer {answer!r} is not a number or an array")
            continue
        if got.shape != truth.shape:
            problems.append(f"∂{result.output}/∂{name}: the answer has shape {got.shape}, "
                            f"the gradient has shape {truth.shape}")
            continue
        with np.errstate(invalid="ignore"):
            error = np.abs(got - truth)
            bad = ~(error <= atol + rtol * np.abs(truth)) & ~((got == truth) | (np.isnan(got) & np.isnan(truth)))
        if not bad.any():
            continue
        where = ""
        if truth.shape:
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            where = f" (first wrong element {list(idx)}; {int(bad.sum())} of {bad.size} wrong)"
        problems.append(
            f"∂{result.output}/∂{name} mismatch at {_point_text(point)}{where}\n"
            f"  analytic (student): {_show(got)}\n"
            f"  gradcli (reverse mode): {_show(truth)}\n"
            f"  max abs error {float(np.nanmax(error)) if error.size and not np.isnan(error).all() else math.nan:.3g}"
            f" > atol + rtol·|gradcli| (rtol={rtol:g}, atol={atol:g})"
        )
    return problems


def _show(x: "np.ndarray") -> str:
    import numpy as np

    return np.array2string(x, precision=10, separator=", ") if x.shape else repr(float(x))


def assert_gradient(program: str, bindings: Mapping[str, BindingValue], expected: Mapping[str, object], *,
                    rtol: float = RTOL, atol: float = ATOL, output: Optional[str] = None) -> Result:
    """Assert that `expected` (name -> ∂out/∂name, numbers or arrays) is the gradient at `bindings`.

    Returns gradcli's `Result` for further checks; raises `GradientMismatch` (an
    AssertionError) naming each wrong input, with both numbers.
    """
    result = evaluate(program, dict(bindings), output=output)
    problems = _compare(result, expected, rtol, atol, bindings)
    if problems:
        raise GradientMismatch("\n".join(problems))
    return result


def assert_matches(student_function: Callable[..., Any], program: str, *,
                   shapes: Optional[Mapping[str, Sequence[int]]] = None,
                   fixed: Optional[Mapping[str, BindingValue]] = None,
                   points: int = 5, low: float = -2.0, high: float = 2.0, seed: int = 0,
                   rtol: float = RTOL, atol: float = ATOL, output: Optional[str] = None) -> None:
    """Call ``student_function(**point)`` at random points and compare with gradcli's gradient.

    The student's function returns the gradient as a mapping ``{name: value}``, or as
    a sequence in the order of the program's inputs (a single input may return its
    gradient alone).  ``shapes`` gives array inputs' shapes (scalars by default);
    ``fixed`` pins inputs to given values.  Points are drawn uniformly from
    [low, high] with a seeded generator, so a failure is reproducible; points where
    the program is undefined are skipped.
    """
    import numpy as np

    shapes = dict(shapes or {})
    fixed = dict(fixed or {})
    inputs = _inputs(program)
    unknown = [n for n in [*shapes, *fixed] if n not in inputs]
    if unknown:
        raise AssertionError(f"{', '.join(unknown)}: not an input of {program!r} (inputs: {', '.join(inputs)})")
    rng = random.Random(seed)
    tried = checked = 0
    while checked < points and tried < 20 * points:
        tried += 1
        point: dict[str, object] = {}
        for name in inputs:
            if name in fixed:
                point[name] = fixed[name]
            elif name in shapes:
                size = int(np.prod(shapes[name])) if shapes[name] else 1
                point[name] = np.array([rng.uniform(low, high) for _ in range(size)]).reshape(tuple(shapes[name]))
            else:
                point[name] = rng.uniform(low, high)
        try:
            result = evaluate(program, point, output=output)  # type: ignore[arg-type]
        except GradcliError:
            continue  # outside the program's domain: try another point
        if result.warnings and any("not differentiable" in w for w in result.warnings):
            continue  # on a kink: no single right answer
        answer = student_function(**{k: _array(v) if getattr(v, "shape", ()) else v for k, v in point.items()})
        answers = _as_mapping(answer, [n for n in inputs if n not in fixed] or inputs)
        problems = _compare(result, answers, rtol, atol, point)
        if problems:
            raise GradientMismatch(f"{getattr(student_function, '__name__', 'the function')} disagrees with "
                                   f"gradcli on {program!r} (point {checked + 1} of {points}, seed {seed}):\n"
                                   + "\n".join(problems))
        checked += 1
    if checked == 0:
        raise AssertionError(f"no point in [{low}, {high}] was inside the program's domain and off its kinks; "
                             "give other bounds or fixed values")


def _inputs(program: str) -> list[str]:
    """The program's inputs, in order of first use (read from the graph, not guessed)."""
    from .language.lower import lower
    from .language.parser import parse

    graph = lower(parse(program))
    return [graph.nodes[i].name or "" for i in graph.inputs]


def _as_mapping(answer: object, names: list[str]) -> Mapping[str, object]:
    if isinstance(answer, Mapping):
        return answer
    if len(names) == 1 and not isinstance(answer, (list, tuple)):
        return {names[0]: answer}
    if isinstance(answer, (list, tuple)) and len(answer) == len(names):
        return dict(zip(names, answer))
    raise GradientMismatch(f"the function should return the gradient as {{name: value}} or as "
                           f"{len(names)} values in the order {', '.join(names)}; it returned {answer!r:.80}")

