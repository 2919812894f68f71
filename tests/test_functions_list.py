"""`gradcli functions` lists the op table itself, and the docs' language reference is that list."""

from __future__ import annotations

import json
import re
from pathlib import Path

from clitools import run_cli as run

from gradcli.core.ops import FUNCTIONS, OPS, catalogue
from gradcli.output.documents import functions_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_every_callable_function_and_operator_is_listed():
    names = {row["name"] for row in catalogue()}
    assert set(FUNCTIONS) <= names
    assert {op.infix for op in OPS.values() if op.infix} <= names
    for row in catalogue():
        assert row["usage"] and row["meaning"], row


def test_every_op_with_a_kink_test_states_its_convention():
    for row in catalogue():
        name = row["name"]
        op = FUNCTIONS.get(name) or next((o for o in OPS.values() if o.infix == name), OPS["neg"])
        if op.kink is not None:
            assert row["kink"], f"{name} has a kink test but no convention"


def test_docs_reference_is_the_op_table():
    text = (ROOT / "docs" / "reference" / "language.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- generated: functions -->\n(.*?)\n<!-- end generated -->", text, flags=re.S)
    assert found, "docs/reference/language.md has no generated functions table"
    assert found.group(1) == functions_markdown(catalogue()), (
        "the docs' table differs from the op table: run `python tools/docs_examples.py --update`"
    )


def test_functions_command_json_and_table():
    result = run(["functions", "--json"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    doc = json.loads(result.stdout)
    assert [r["name"] for r in doc["functions"]][: len(catalogue())] == [r["name"] for r in catalogue()]
    table = run(["functions"])
    assert table.exit_code == 0 and table.stderr == ""
    for name in ("where(c, a, b)", "logdet(X)", "x <= y", "hstack(a, b, ...)"):
        assert name in table.stdout
    md = run(["functions", "--format", "markdown"])
    assert md.exit_code == 0 and md.stdout.startswith("| operation |")


def test_functions_command_refuses_conflicting_formats():
    result = run(["functions", "--json", "--format", "markdown"])
    assert result.exit_code == 2
    assert "disagree" in result.stderr and result.stdout == ""
