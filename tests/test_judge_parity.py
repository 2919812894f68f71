"""One judge: every `gradcli check` example of the README and the docs, run through the
command line and through `gradcli.judge`, gives the same verdicts, rules and notes.

The examples are read from the pages themselves (console blocks, ``$ gradcli check …``),
so a new example is covered as soon as it is written.  Class gradebooks (``--answers``)
are left out: they have no one-call API twin.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

import gradcli
from clitools import run_cli, strict_json
from gradcli.run.bindings import program_point

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _commands() -> list[tuple[str, list[str]]]:
    found = []
    for page in PAGES:
        if not page.is_file():
            continue
        lines = page.read_text(encoding="utf-8").splitlines()
        k = 0
        while k < len(lines):
            line = lines[k].strip()
            k += 1
            if not line.startswith("$ gradcli check "):
                continue
            text = line[2:]
            while text.endswith("\\") and k < len(lines):
                text = text[:-1] + " " + lines[k].strip()
                k += 1
            argv = shlex.split(text, comments=True)
            if any(a in ("--answers", "|", ";", "&&", ">") or a.startswith(">") for a in argv):
                continue
            found.append((f"{page.relative_to(ROOT)}:{k}", argv[1:]))
    return found


COMMANDS = _commands()

_VALUE_OPTIONS = {"-f", "--file", "--vars", "--expect", "--expect-value", "--expect-formula", "--rtol", "--atol",
                  "--min-digits", "--data", "--wrt", "--output", "--sympy-timeout"}


def _api_call(folder: Path, argv: list[str]) -> dict:
    """The same request as keyword arguments of `gradcli.judge`."""
    kwargs: dict = {"expect": {}, "expect_formula": {}, "expect_value": {}, "data": []}
    values: dict = {}
    program = None
    k = 1  # argv[0] is "check"
    while k < len(argv):
        a = argv[k]
        if a in _VALUE_OPTIONS:
            v = argv[k + 1]
            k += 2
            if a in ("-f", "--file"):
                source = (folder / v).read_text(encoding="utf-8")
                program = source
                point, output, _ = program_point(source, str((folder / v).parent))
                for name, b in point.items():
                    values.setdefault(name, b.text)
                if output:
                    kwargs["output"] = output
            elif a == "--vars":
                for name, raw in json.loads((folder / v).read_text(encoding="utf-8")).items():
                    values[name] = raw
            elif a == "--expect":
                name, _, text = v.partition("=")
                kwargs["expect"][name.strip()] = text
            elif a == "--expect-formula":
                name, _, text = v.partition("=")
                kwargs["expect_formula"][name.strip()] = text
            elif a == "--expect-value":
                name, eq, text = v.partition("=")
                if eq and name.strip().isidentifier():
                    kwargs["expect_value"][name.strip()] = text
                else:
                    kwargs["expect_value"][None] = v
            elif a in ("--rtol", "--atol"):
                kwargs[a[2:]] = float(v)
            elif a == "--min-digits":
                kwargs["min_digits"] = int(v)
            elif a == "--data":
                kwargs["data"].append(v)
            elif a == "--wrt":
                kwargs["wrt"] = v
            elif a == "--output":
                kwargs["output"] = v
            elif a == "--sympy-timeout":
                kwargs["sympy_timeout"] = float(v)
        elif a.startswith("--"):
            kwargs[a[2:].replace("-", "_")] = True
            k += 1
        elif program is None:
            program = a
            k += 1
        else:
            name, _, text = a.partition("=")
            values[name] = text
            k += 1
    kwargs["reveal"] = kwargs.get("reveal", False)
    return {"program": program, "values": values,
            "kwargs": {key: v for key, v in kwargs.items() if v not in ({}, [])}}


def test_the_pages_have_check_examples():
    assert len(COMMANDS) >= 3, [c[0] for c in COMMANDS]


@pytest.mark.parametrize("where, argv", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_check_example_gives_the_same_verdicts_through_the_api(where, argv, tmp_path, monkeypatch):
    # the folder the pages' commands run in (tools/docs_examples.py): the samples and the docs' examples
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    (tmp_path / "examples").symlink_to(ROOT / "docs" / "examples")
    folder = tmp_path
    monkeypatch.chdir(folder)
    argv = [a for a in argv if a != "--json"]
    cli = run_cli([*argv, "--json"], env={"COLUMNS": "200"})
    assert cli.exit_code in (0, 1), (where, cli.stderr)
    doc = strict_json(cli.stdout)
    call = _api_call(folder, argv)
    reveal = call["kwargs"].pop("reveal", False)
    judgement = gradcli.judge(call["program"], call["values"], reveal=reveal, **call["kwargs"])
    assert strict_json(judgement.to_json(reveal=reveal)) == doc, where
    assert judgement.ok == doc["ok"] and cli.exit_code == (0 if doc["ok"] else 1)
    assert [(v.question, v.ok, v.rule, v.mistake) for v in judgement.verdicts] == [
        (v["question"], v["ok"], v.get("rule", ""), v.get("diagnosis", {}).get("kind")) for v in doc["verdicts"]]
