"""``gradcli export``: the program at its point as a NumPy, PyTorch or JAX script."""

from __future__ import annotations

from typing import Optional


from ..core.errors import ExitStatus
from ..core.fmt import a_format
from .group import PROGRAM_COMMAND, main
from .options import declare
from .printing import warn, write_or_print
from .program import input_files, read_point


@main.command("export", **PROGRAM_COMMAND)  # type: ignore[arg-type]
@declare("export")
def export_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                   output: Optional[str], wrt: Optional[str], target: str, out_file: Optional[str]) -> int:
    """Write PROGRAM at the point as a Python script: NumPy with backprop written out, or PyTorch/JAX.

    The NumPy script has one line per node for the forward pass and one line per
    adjoint for the backward pass (dW = np.outer(dz, x)), from the same rules the
    engine runs; it prints the value and gradient as JSON.

    \b
    gradcli export "(a+b)*(b+1)" a=3 b=2
    gradcli export -f samples/layer.grad --vars samples/layer.json -o layer_backprop.py
    gradcli export "sigmoid(w*x + b)" w=0.5 x=2 b=-1 --to torch
    """
    from ..run import pipeline
    from ..run.requests import ExportRequest

    request = ExportRequest(point=read_point(args, program_file, vars_files, output, wrt), target=target)
    ev = pipeline.evaluated(request.point)
    warn(ev.warnings)
    script = pipeline.export(ev, request).script
    write_or_print(script, out_file, a_format(target, "script"), input_files(args, program_file, vars_files))
    return int(ExitStatus.OK)
