"""``gradcli eval``: the click declaration; the body is `gradcli.cli.evaluation.run_eval`."""

from __future__ import annotations

from typing import Any

from .group import PROGRAM_COMMAND, main
from .options import declare


@main.command("eval", **PROGRAM_COMMAND)  # type: ignore[arg-type]
@declare("eval")
def eval_command(**params: Any) -> int:
    """Evaluate PROGRAM at NAME=VALUE and backpropagate.

    PROGRAM is an expression such as "(a+b)*(b+1)" or statements such as
    "c = a + b; d = b + 1; e = c * d" ('-' reads it from stdin).  Prints every
    node's value and adjoint and every input's gradient.

    \b
    gradcli eval "(a+b)*(b+1)" a=3 b=2
    gradcli eval "(a+b)*(b+1)" a=3 b=2 --check all --json
    gradcli eval -f samples/lecture_e.grad a=3 b=2 --steps --paths
    gradcli eval "x*exp(x^2)" x=1/3 --exact --latex
    gradcli eval "x*y + sin(x)" x=1 y=2 --mode forward --seed y
    gradcli eval "(a+b)*(b+1)" --points points.csv > gradients.csv
    """
    from .evaluation import EvalOptions, run_eval

    return run_eval(EvalOptions(**params))
