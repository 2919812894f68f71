"""``gradcli eval``: the click declaration; the body is `gradcli.cli.evaluation.run_eval`."""

from __future__ import annotations

from typing import Optional


from .group import _PROGRAM_COMMAND, main
from .options import declare
from .program import _format


@main.command("eval", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@declare("eval")
def eval_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                 output: Optional[str], wrt: Optional[str], check: tuple[str, ...],
                 rtol: Optional[float], atol: Optional[float], sympy_timeout: float, as_json: bool,
                 fmt: Optional[str], full: bool, digits: Optional[int], show_nodes: Optional[bool],
                 seed_output: Optional[str], mode: Optional[str], seed_input: Optional[str],
                 steps: bool, paths: bool, edges: bool, jacobians: bool, exact: bool, latex: bool,
                 points_file: Optional[str]) -> int:
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
    from .evaluation import run_eval

    return run_eval(
        args, program_file=program_file, vars_files=vars_files, output=output, wrt=wrt, check=check,
        rtol=rtol, atol=atol, sympy_timeout=sympy_timeout, fmt=_format(as_json, fmt), full=full,
        digits=digits, show_nodes=show_nodes, seed_output=seed_output, mode=mode, seed_input=seed_input,
        steps=steps, paths=paths, edges=edges, jacobians=jacobians, exact=exact, latex=latex,
        points_file=points_file,
    )
