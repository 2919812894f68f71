"""``gradcli diff``: derivatives as formulas, scalar or matrix, without numbers."""

from __future__ import annotations

from typing import Any, Optional

from ..core.errors import ExitStatus
from ..core.fmt import tex_name
from .group import PROGRAM_COMMAND, main
from .options import declare
from .printing import echo_json, echo
from .program import one_stdin, program_and_bindings, program_point
from .records import Record


class DiffRequest(Record):
    """Everything ``gradcli diff`` was asked: one field per option (`gradcli.cli.options`)."""

    args: tuple[str, ...]
    program_file: Optional[str] = None
    vars_files: tuple[str, ...] = ()
    shapes: tuple[tuple[str, tuple[int, ...], str], ...] = ()  # gradcli.cli.paramtypes.Shape
    output: Optional[str] = None
    wrt: Optional[str] = None
    steps: bool = False
    expand: bool = False
    latex: bool = False
    as_json: bool = False
    sympy_timeout: float = 10.0


@main.command("diff", **PROGRAM_COMMAND)  # type: ignore[arg-type]
@declare("diff")
def diff_command(**params: Any) -> int:
    """Derivatives of PROGRAM as formulas: no numbers needed.

    The reverse sweep runs in symbols over the program's own graph ("downstream =
    upstream × local", summed where a node feeds several others); each formula is
    written in gradcli's language, so gradcli reads it back.  Inputs are scalars,
    unless the program's point (its #: lines, NAME=VALUE, --vars) or --shape gives them
    shapes: then the derivatives are matrix formulas (only the shapes of values are used).

    \b
    gradcli diff "(a+b)*(b+1)"
    gradcli diff "f = (x+y)*max(y,z)" --steps
    gradcli diff -f samples/tiny_net.grad --wrt w11
    gradcli diff -f samples/tiny_net.grad --wrt w11 --expand
    gradcli diff -f samples/layer.grad
    gradcli diff "dot(u, sigmoid(W@x + b))" --vars samples/layer.json
    gradcli diff "sum(sigmoid(W@x))" --shape W=3x2 --shape x=2
    """
    from ..language.lower import lower
    from ..language.parser import parse
    from ..teach import derive

    r = DiffRequest(**params)
    steps, latex, as_json = r.steps, r.latex, r.as_json
    one_stdin(r.args, r.program_file, r.vars_files)
    source, rest = program_and_bindings(r.args, r.program_file)
    point, default_output, problems = program_point(source, r.program_file)
    graph = lower(parse(source), r.output or (default_output if point else None))
    derive.refuse_integer_data(graph)
    names = [w.strip() for w in r.wrt.split(",") if w.strip()] if r.wrt else None
    if rest or r.vars_files or point or r.shapes:
        shaped = _diff_shapes(graph, point, rest, r.vars_files, r.shapes)
        if shaped is not None:
            return _diff_arrays(graph, source, shaped, names, steps, latex, as_json)
    written = derive.derive_within(graph, names, r.sympy_timeout, steps, latex, r.expand)  # one deadline for all
    found, where = written.formulas, written.where
    out = graph.label(graph.output)
    if as_json:
        import json

        doc: dict[str, Any] = {"schema": 1, "program": source, "output": out, "gradient": found}
        if where:
            doc["where"] = where
        if written.steps is not None:
            doc["steps"] = written.steps.splitlines()
        if written.latex is not None:
            doc["latex"] = written.latex
        echo_json(json.dumps(doc, indent=2, ensure_ascii=False))
        return int(ExitStatus.OK)
    if written.steps is not None:
        echo(written.steps)
        echo()
    if where:
        echo("where (the program's steps):")
        for line in where:
            echo(f"  {line}")
        echo()
    for name, formula in found.items():
        echo(f"∂{out}/∂{name} = {formula}")
    if written.latex is not None:
        echo()
        for name, tex in written.latex.items():
            echo(f"\\frac{{\\partial {tex_name(out)}}}{{\\partial {tex_name(name)}}} = {tex}")
    return int(ExitStatus.OK)


def _diff_shapes(graph: Any, point: dict, rest: list[str], vars_files: tuple[str, ...],
                 shapes: tuple[tuple[str, tuple[int, ...], str], ...] = ()) -> Optional[str]:
    """Set the graph's shapes from the point; where they came from, or None when every node
    is a scalar (then the scalar derivation runs, as without a point)."""
    from ..core.ops import OPS
    from ..core.shapes import infer_shapes
    from ..run import bindings as binding_mod

    bound = {**point, **binding_mod.collect([a for a in rest if not a.startswith("#")], vars_files)}
    bound.update(_shape_options(shapes))
    env = {}
    for i in graph.inputs:
        name = graph.nodes[i].name
        env[name] = bound[name].value if name in bound else 0.0
    infer_shapes(graph, env)
    tensor = any(n.shape not in ((), None) for n in graph.nodes) or any(
        n.op not in ("input", "const") and not OPS[n.op].elementwise for n in graph.nodes)
    if not tensor:
        return None
    origins: list[str] = []
    missing = []
    for i in graph.inputs:
        b = bound.get(graph.nodes[i].name)
        if b is None:
            missing.append(graph.nodes[i].name)
            continue
        where = {"program": "the program's #: lines", "argument": "the command line"}.get(b.origin, b.origin)
        if where not in origins:
            origins.append(where)
    text = " and ".join(origins) or "nowhere"
    if missing:
        text += f" ({', '.join(missing)}: no value, so a scalar)"
    return text


def _shape_options(shapes: tuple[tuple[str, tuple[int, ...], str], ...]) -> dict:
    """``--shape W=3x2`` (read by `gradcli.cli.paramtypes.Shape`): a Binding of zeros of that
    shape per option (only shapes are used)."""
    import numpy as np

    from ..run.bindings import Binding

    return {name: Binding(name, np.zeros(size), dims, "--shape") for name, size, dims in shapes}


def _diff_arrays(graph: Any, source: str, origin: str, names: Optional[list[str]], steps: bool, latex: bool,
                 as_json: bool) -> int:
    from ..teach import derive_arrays as da

    d = da.derive_arrays(graph, names)
    if as_json:
        import json

        doc: dict[str, Any] = {
            "schema": 1, "program": source, "output": d.output,
            "gradient": {n: f.text() for n, f in d.gradient.items()},
            "shapes": {n: list(s) for n, s in d.shapes.items()}, "shapes_from": origin,
            "where": da.where_lines(d), "adjoints": da.adjoint_lines(d),
            "adjoint_names": {d.names[label]: adj for label, adj in d.adjoint_names.items()},
            "notes": d.notes,
        }
        if steps:
            doc["steps"] = da.steps_text(d)
        if latex:
            doc["latex"] = da.latex(d)
        echo_json(json.dumps(doc, indent=2, ensure_ascii=False))
        return int(ExitStatus.OK)
    if steps:
        echo("\n".join(da.steps_text(d)))
        echo()
    echo("\n".join(da.text(d, origin)))
    if latex:
        echo()
        for name, tex in da.latex(d).items():
            echo(f"\\frac{{\\partial {tex_name(d.output)}}}{{\\partial {tex_name(name)}}} = {tex}")
    return int(ExitStatus.OK)
