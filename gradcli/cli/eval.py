"""``gradcli eval``: the click declaration; the body is `gradcli.cli.evaluation.run_eval`."""

from __future__ import annotations

from typing import Optional

import click

from .group import _PROGRAM_COMMAND, main
from .options import FileName, check_options, output_options, program_options
from .program import _format


@main.command("eval", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@program_options
@check_options
@output_options(("table", "json", "csv", "tsv"))
@click.option("--nodes/--no-nodes", "show_nodes", default=None,
              help="Show every node (default: all up to 60, else head and tail), or none.")
@click.option("--seed-output", metavar="VALUE",
              help="Cotangent of a non-scalar output, e.g. [1,0,0]: gives a vector-Jacobian product.")
@click.option("--mode", type=click.Choice(["reverse", "forward"]), default=None,
              help="Reverse: one backward pass; forward: one tangent pass per input "
                   "[default: reverse; forward with --seed].")
@click.option("--seed", "seed_input", metavar="NAME",
              help="Forward mode: a single tangent pass started with 1 at input NAME (an array: one per "
                   "element; NAME[i,j] picks the pass --steps writes out).")
@click.option("--steps", is_flag=True, help="Explain the backward pass step by step.")
@click.option("--paths", is_flag=True, help="Explain each gradient as a sum over paths (small graphs).")
@click.option("--edges", is_flag=True, help="Show the local derivative on every edge (arrays: the local Jacobian's "
                                           "shape and structure).")
@click.option("--jacobians", is_flag=True,
              help="With arrays: also print each edge's local Jacobian matrix (up to 144 entries; --full: all).")
@click.option("--exact", is_flag=True,
              help="Also compute with exact numbers (rationals, surds, π) via SymPy: a=1/3 stays 1/3.")
@click.option("--latex", is_flag=True, help="Also print the derivatives as LaTeX.")
@click.option("--points", "points_file", metavar="FILE.csv", type=FileName(),
              help="Evaluate at every row of a CSV (header: input names; '-' for stdin) in one vectorized "
                   "pass; prints a CSV (or JSON lines) of values and gradients.")
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
