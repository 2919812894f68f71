"""The JSON contracts: every document gradcli prints validates against its schema in
gradcli/schemas/, for every sample and every command, and the docs' schema table
names exactly the shipped schema files.

The schemas are JSON Schema 2020-12 files shipped inside the package (package data),
so a script can find them with ``importlib.resources.files("gradcli") / "schemas"``.
"""

from __future__ import annotations

import csv
import json
import re
from importlib import resources
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

from clitools import run_cli, strict_json  # noqa: E402
from test_samples import FILES, directives  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = resources.files("gradcli") / "schemas"


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


def validate(document: dict, name: str) -> None:
    jsonschema.Draft202012Validator(schema(name), format_checker=None).validate(document)


def _schema_files() -> list[str]:
    return sorted(p.name for p in SCHEMAS.iterdir() if p.name.endswith(".schema.json"))


def test_every_schema_is_a_valid_json_schema():
    assert _schema_files(), "no schema files shipped"
    for name in _schema_files():
        doc = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(doc)
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert doc.get("title") and doc.get("description"), name


def test_schemas_reject_what_they_should():
    """A check that cannot fail is a defect: the schemas are strict where it matters."""
    good = strict_json(run_cli(["eval", "(a+b)*(b+1)", "a=3", "b=2", "--json"]).stdout)
    validate(good, "eval")
    for bad in ({**good, "value": "NaN"}, {**good, "extra": 1},
                {k: v for k, v in good.items() if k != "gradient"}, {**good, "schema": 2},
                {**good, "nodes": [{**good["nodes"][0], "adjoint": "x"}]}):
        with pytest.raises(jsonschema.ValidationError):
            validate(bad, "eval")


# ---- every sample, every command ---------------------------------------------------------------

def _sample_args(path: Path) -> tuple[dict, list[str]]:
    spec = directives(path)
    args = ["-f", str(path), *spec["bind"]]
    if spec["output"]:
        args += ["--output", spec["output"]]
    return spec, args


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_eval_documents_validate(path):
    spec, args = _sample_args(path)
    for extra in ([], ["--check", "fd"], ["--mode", "forward"], ["--mode", "forward", "--steps"]):
        result = run_cli(["eval", *args, "--json", *extra])
        assert result.exit_code in (0, 1), result.stderr
        validate(strict_json(result.stdout), "eval")


def test_forward_steps_documents_are_checked():
    """The forward passes' nodes must carry a node, an id and a tangent; an index is integers."""
    layer = next(p for p in FILES if p.stem == "layer")
    spec, args = _sample_args(layer)
    good = strict_json(run_cli(["eval", *args, "--json", "--mode", "forward", "--steps"]).stdout)
    validate(good, "eval")
    first = good["forward_steps"][0]
    for bad_pass in ({**first, "index": ["0", "1"]},
                     {**first, "nodes": [{k: v for k, v in first["nodes"][0].items() if k != "tangent"}]}):
        with pytest.raises(jsonschema.ValidationError):
            validate({**good, "forward_steps": [bad_pass]}, "eval")


@pytest.mark.parametrize("path", [pytest.param(p, marks=() if p.stem == "lecture_e" else pytest.mark.slow)
                                  for p in FILES], ids=[p.stem for p in FILES])
def test_explained_eval_documents_validate(path):
    """--steps, --paths, --latex (SymPy), --exact and --edges add keys; each stays in the schema."""
    spec, args = _sample_args(path)
    for extra in (["--steps", "--paths", "--latex"], ["--exact", "--edges"]):
        result = run_cli(["eval", *args, "--json", *extra])
        assert result.exit_code in (0, 1, 2), result.stderr
        if result.exit_code == 2:  # e.g. --exact refuses a power too large to be exact
            assert extra[0] == "--exact", result.stderr
            continue
        validate(strict_json(result.stdout), "eval")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_matrix_documents_validate(path):
    spec, args = _sample_args(path)
    jac = run_cli(["jacobian", *args, "--json", "--check", "fd", "--mode", "both"])
    assert jac.exit_code in (0, 1), jac.stderr
    validate(strict_json(jac.stdout), "jacobian")
    hes = run_cli(["hessian", *args, "--json", "--check", "fd"])
    assert hes.exit_code in (0, 1), hes.stderr
    validate(strict_json(hes.stdout), "hessian")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_check_documents_validate(path):
    spec, args = _sample_args(path)
    expects = []
    for name, grad in spec["grad"].items():
        expects += ["--expect", f"{name}={json.dumps(grad)}"]
    for extra in ([], ["--reveal"]):
        result = run_cli(["check", *args, *expects, "--expect-value", repr(spec["value"]), "--json", *extra])
        assert result.exit_code in (0, 1), result.stderr
        doc = strict_json(result.stdout)
        validate(doc, "check")
        assert len(doc["verdicts"]) == len(spec["grad"]) + 1


@pytest.mark.parametrize("path", [p for p in FILES if "bind" in p.read_text(encoding="utf-8")],
                         ids=lambda p: p.stem)
def test_points_lines_validate(path, tmp_path):
    spec, _ = _sample_args(path)
    names = [b.split("=", 1)[0] for b in spec["bind"]]
    values = [b.split("=", 1)[1] for b in spec["bind"]]
    points = tmp_path / "points.csv"
    with open(points, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        writer.writerow(values)
        writer.writerow(["0.5"] * len(names))
    args = ["eval", "-f", str(path), "--points", str(points), "--json"]
    if spec["output"]:
        args += ["--output", spec["output"]]
    result = run_cli(args)
    assert result.exit_code in (0, 3), result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        validate(strict_json(line), "points")


@pytest.mark.parametrize("path", [pytest.param(p, marks=() if p.stem == "lecture_e" else pytest.mark.slow)
                                  for p in FILES], ids=[p.stem for p in FILES])
def test_diff_documents_validate(path):
    """gradcli diff on every sample: array samples take their shapes from their #: lines."""
    spec, _ = _sample_args(path)
    args = ["diff", "-f", str(path), "--json", "--steps", "--latex"]
    if spec["output"]:
        args += ["--output", spec["output"]]
    result = run_cli(args)
    if path.stem == "convnet":  # no point-free formula for a convolution: one line, exit 2
        assert result.exit_code == 2 and "no point-free formula for conv2d" in result.stderr, result.stderr
        return
    assert result.exit_code == 0, result.stderr
    doc = strict_json(result.stdout)
    validate(doc, "diff")
    assert set(doc["gradient"]) == set(spec["grad"]) or spec["output"]


@pytest.mark.parametrize("args", [
    ["(x-1)^2 + 10*(y-x^2)^2", "x=-1", "y=2", "--lr", "0.001", "--steps", "20", "--every", "5"],
    ["(x-1)^2", "x=0", "--tol", "0.5", "--momentum", "0.9"],
    ["sum(W^2)", "W=[[1,2],[3,4]]", "--steps", "3"],
], ids=["rosenbrock", "tolerance", "matrix"])
def test_descend_documents_validate(args):
    result = run_cli(["descend", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    validate(strict_json(result.stdout), "descend")


def test_descend_over_points_validates():
    result = run_cli(["descend", "(w*x - y)^2", "w=0", "--examples", "-", "--batch", "2", "--updates", "4", "--json"],
                     input="x,y\n1,2\n2,4\n3,6\n")
    assert result.exit_code == 0, result.stderr
    validate(strict_json(result.stdout), "descend")


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_documents_with_sympy_checks_validate(path):
    spec, args = _sample_args(path)
    for command in ("eval", "jacobian"):
        result = run_cli([command, *args, "--json", "--check", "all"])
        assert result.exit_code in (0, 1), result.stderr
        validate(strict_json(result.stdout), command)


def test_error_values_validate():
    """Non-finite values and skipped checks are still valid documents."""
    nan_row = run_cli(["eval", "log(x)", "--points", "-", "--json"], input="x\n1\n-1\n")
    assert nan_row.exit_code == 3
    for line in nan_row.stdout.splitlines():
        validate(strict_json(line), "points")
    inf = run_cli(["eval", "sqrt(x)", "x=0", "--json", "--check", "fd"])
    assert inf.exit_code in (0, 1), inf.stderr
    validate(strict_json(inf.stdout), "eval")


# ---- the docs' table (docs/reference/json.md) --------------------------------------------------------------------

def _json_page() -> str:
    """docs/reference/json.md up to its generated part."""
    text = (ROOT / "docs" / "reference" / "json.md").read_text(encoding="utf-8")
    return text[: text.index("## Every key, from the schemas")]


def _docs_schema_table() -> dict[str, str]:
    """{schema file: command} from the docs' table (the site links the package's own files)."""
    section = _json_page()
    rows = re.findall(r"^\| (`gradcli [^|]*`) \| \[`([\w.]+)`\]\(\.\./(schemas/[\w.]+)\) \|", section, re.MULTILINE)
    table = {}
    for command, name, link in rows:
        assert link == f"schemas/{name}", f"the docs link {link} for {name}"
        table[name] = command
    return table


def test_docs_schema_table_names_every_schema_file():
    table = _docs_schema_table()
    assert sorted(table) == _schema_files()
    for name, command in table.items():
        assert schema(name.removesuffix(".schema.json"))["title"] == command.strip("`"), name


def test_docs_eval_key_table_matches_the_schema():
    """Every top-level key of the eval document is in the docs' key table, and back."""
    section = _json_page()
    table = section[: section.index("`gradcli jacobian --json`")]
    documented = set(re.findall(r"`(\w+)`", "\n".join(line.split("|")[1] for line in table.splitlines()
                                                         if line.startswith("| `"))))
    assert documented == set(schema("eval")["properties"])


def test_schemas_ship_in_the_package():
    names = {p.name for p in (ROOT / "gradcli" / "schemas").glob("*.schema.json")}
    assert names == set(_schema_files())
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'"gradcli\.schemas" = \["\*\.json"\]|gradcli = \[[^\]]*"schemas/\*\.json"', pyproject)
