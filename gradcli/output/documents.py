"""Machine-readable results: the JSON document and CSV/TSV rows.

The JSON schema (README, "JSON output") is a contract: ``value`` and ``gradient``
stay as they are.  JSON is strict -- non-finite numbers are the strings ``"nan"``,
``"inf"``, ``"-inf"``, never the NaN/Infinity literals Python would write.
"""

from __future__ import annotations

import math
from typing import Optional

from ..oracles.checks import Check
from ..run.evaluate import Evaluation
from ..core.fmt import json_number, json_value
from ..core.graph import CONST, INPUT

SCHEMA_VERSION = 1


def overall_ok(checks: list[Check]) -> bool:
    return not any(check.failed for check in checks)


def to_json(ev: Evaluation, checks: list[Check]) -> dict:
    graph, values, adjoints, live = ev.graph, ev.values, ev.adjoints, ev.tape.live
    nodes = []
    scalar = ev.tape.scalar
    finite = math.isfinite
    for node in graph.nodes:
        i = node.id
        value = values[i]
        adjoint = adjoints[i] if live[i] and adjoints else None
        if scalar:  # floats: the common, fast case
            value = value if finite(value) else json_number(value)
            if adjoint is not None and not finite(adjoint):
                adjoint = json_number(adjoint)
        else:
            value = json_value(value)
            adjoint = None if adjoint is None else json_value(adjoint)
        entry = {
            "id": i,
            "name": node.name,
            "op": node.op,
            "expr": node.name if node.op == INPUT else graph.definition(i),
            "inputs": list(node.args),
            "value": value,
            "adjoint": adjoint,
        }
        if node.shape:
            entry["shape"] = list(node.shape)
        if ev.tangents:
            entry["tangent"] = {name: json_value(t[i]) for name, t in ev.tangents.items()}
        nodes.append(entry)
    doc: dict = {
        **_head(ev),
        "gradient": {name: json_value(g) for name, g in ev.gradient.items()} if ev.has_gradient else None,
        "nodes": nodes,
        "checks": {},
        "tolerances": {},
        "warnings": list(ev.warnings),
        "ok": overall_ok(checks),
        "mode": ev.mode,
        "passes": {"forward": ev.passes, "reverse": 0 if ev.mode == "forward" else 1,
                   "operations_per_pass": ev.operations},
    }
    exact = ev.extras.get("exact")
    if exact is not None:
        doc["exact"] = {
            "nodes": {ev.graph.label(i): {"exact": t, "decimal": d} for i, (t, d) in exact.values.items()},
            "gradient": {name: {"exact": t, "decimal": d} for name, (t, d) in exact.gradient.items()},
        }
        if exact.note:
            doc["exact"]["note"] = exact.note
    if "latex" in ev.extras:
        doc["latex"] = ev.extras["latex"]
    if "latex_steps" in ev.extras:
        doc["latex_steps"] = ev.extras["latex_steps"]
    for key in ("steps", "paths"):
        if key in ev.extras:
            from ..teach import explain

            doc[key] = getattr(explain, f"{key}_json")(ev)
    for check in checks:
        doc["tolerances"][check.name] = {"rtol": check.rtol, "atol": check.atol}
        entries = {}
        for name, r in check.results.items():
            entry: dict = {
                "estimate": None if r.estimate is None else json_value(r.estimate),
                "error": _num(r.error),
                "ok": r.ok,
                "status": r.status,
            }
            if r.note:
                entry["note"] = r.note
            for key, val in r.detail.items():
                entry[key] = _num(val) if isinstance(val, float) else val
            entries[name] = entry
        doc["checks"][check.name] = entries
        if check.note:
            doc.setdefault("check_notes", {})[check.name] = check.note
    return doc


def _head(ev: Evaluation) -> dict:
    """The keys every document starts with: the program, its output and inputs."""
    return {
        "schema": SCHEMA_VERSION,
        "program": ev.source,
        "output": ev.output_name,
        "value": json_value(ev.value),
        "shape": list(ev.graph.nodes[ev.graph.output].shape),
        "inputs": {name: json_value(ev.env[name]) for name in ev.inputs},
    }


def _num(x: Optional[float]) -> object:
    return None if x is None else json_number(x)


def csv_rows(ev: Evaluation, checks: list[Check]) -> list[list[str]]:
    """Header, then one row per input (per element for arrays, ``W[0,1]``)."""
    from ..core.elements import elements

    header = ["input", "value", "gradient"]
    for check in checks:
        header += [check.name, f"{check.name}_error", f"{check.name}_status"]
    rows = [header]
    for name, g in ev.gradient.items():
        for label, index in elements(name, ev.env[name]):
            row = [label, _cell(_at(ev.env[name], index)), _cell(_at(g, index))]
            for check in checks:
                r = check.results.get(name)
                if r is None or r.estimate is None:
                    row += ["", "", "skipped"]
                else:
                    err = r.errors[index] if index is not None and r.errors is not None else r.error
                    row += [_cell(_at(r.estimate, index)), _cell(err), r.status]
            rows.append(row)
    return rows


def _at(x, index):
    return float(x if index is None else x[index])


def _cell(x: Optional[float]) -> str:
    if x is None:
        return ""
    if math.isfinite(x):
        return repr(float(x))
    return str(json_number(x))


__all__ = ["to_json", "csv_rows", "overall_ok", "CONST"]


def dumps(doc: dict) -> str:
    """The JSON document, indented, with each node on one line (easy to read and grep).

    Strict JSON: a non-finite float that reached the document unencoded (a tolerance
    of inf, a NaN asymmetry) is written as its string, like every other one.
    """
    try:
        return _dumps(doc)
    except ValueError:  # a NaN/inf float somewhere: encode them all, then write
        return _dumps(_finite_only(doc))


def _finite_only(doc: object) -> object:
    """A copy of `doc` with non-finite floats as ``"nan"``/``"inf"``/``"-inf"`` (no recursion)."""
    from ..core.fmt import json_number

    pending: list = []

    def fix(x):
        if isinstance(x, float):
            return x if math.isfinite(x) else json_number(x)
        if isinstance(x, dict):
            copy: object = dict(x)
        elif isinstance(x, (list, tuple)):
            copy = list(x)
        else:
            return x
        pending.append(copy)
        return copy

    root = fix(doc)
    while pending:
        container = pending.pop()
        keys = container.keys() if isinstance(container, dict) else range(len(container))
        for k in list(keys):
            container[k] = fix(container[k])
    return root


def _dumps(doc: dict) -> str:
    import json

    def one(x: object) -> str:
        return json.dumps(x, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))

    lines = ["{"]
    keys = list(doc)
    for k, key in enumerate(keys):
        comma = "," if k < len(keys) - 1 else ""
        value = doc[key]
        if key == "nodes" and value:
            # one encoder call for all nodes, then a line break between them: node
            # dicts hold no nested objects and no text with braces, so "}, {" only
            # ever separates two nodes
            inner = one(value)[1:-1].replace("}, {", "},\n    {")
            lines.append(f"  {one(key)}: [\n    {inner}\n  ]{comma}")
        elif key == "checks" and value:
            blocks = []
            for check, entries in value.items():
                rows = ",\n".join(f"      {one(name)}: {one(e)}" for name, e in entries.items())
                blocks.append(f"    {one(check)}: {{\n{rows}\n    }}")
            lines.append(f"  {one(key)}: {{\n" + ",\n".join(blocks) + f"\n  }}{comma}")
        else:
            lines.append(f"  {one(key)}: {one(value)}{comma}")
    lines.append("}")
    return "\n".join(lines)


def matrix_json(ev: Evaluation, matrix) -> dict:
    """``gradcli jacobian`` / ``gradcli hessian`` as a JSON document."""
    from ..core.fmt import json_value

    doc: dict = {
        **_head(ev),
        matrix.kind: json_value(matrix.data) if matrix.data.size else [[] for _ in matrix.rows],
        "rows": matrix.rows,
        "columns": matrix.columns,
        "mode": matrix.mode,
        "passes": matrix.passes,
        "checks": {},
        "warnings": list(ev.warnings),
        "ok": not any(c.status == "fail" for c in matrix.checks),
    }
    if matrix.kind == "hessian" and matrix.data.size:
        from ..run.derivatives import largest_difference

        doc["asymmetry"] = largest_difference(matrix.data, matrix.data.T)
    if hasattr(matrix, "agreement"):
        doc["forward_reverse_difference"] = matrix.agreement
    for c in matrix.checks:
        doc["checks"][c.name] = {
            "estimate": None if c.estimate is None else json_value(c.estimate),
            "error": c.max_error,
            "ok": None if c.status == "skipped" else c.status != "fail",
            "status": c.status,
            "note": c.note,
            "rtol": c.rtol,
            "atol": c.atol,
        }
    return doc


def verdicts_json(ev: Evaluation, verdicts: list, reveal: bool, rtol: float, atol: float) -> dict:
    """``gradcli check --json``: one entry per answer; the truth only with --reveal."""
    from ..core.fmt import json_value

    entries = []
    for v in verdicts:
        entry: dict = {"question": v.question, "ok": v.ok, "how": v.how}
        entry["answer"] = v.answer if isinstance(v.answer, str) else json_value(v.answer)
        if reveal and v.truth is not None:
            entry["truth"] = v.truth if isinstance(v.truth, str) else json_value(v.truth)
        entries.append(entry)
    return {
        "schema": SCHEMA_VERSION,
        "program": ev.source,
        "output": ev.output_name,
        "verdicts": entries,
        "tolerance": {"rtol": rtol, "atol": atol},
        "ok": all(v.ok for v in verdicts),
    }
