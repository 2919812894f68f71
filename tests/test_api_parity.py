"""One pipeline: every command-line example of the README and the docs for eval, jacobian,
hessian, export, descend, diff and plot, run through the command line and through the API
(`gradcli.evaluate`, `.jacobian`, `.hessian`, `.export`, `.descend`, `.diff`, `.plot`),
gives the same result.

The examples are read from the pages themselves (console and sh blocks, and the commands'
``--help`` examples in docs/reference/commands.md), so a new example is covered as soon as
it is written.  Each example runs with ``--json`` (the command's JSON document, or the
script export prints) and the same request is made through the API; the documents must be
equal: values, adjoints, gradients, tangents, passes, checks with their tolerances and
verdicts, warnings, descent records.  An example that fails must fail alike: the API
raises the error whose exit status and message the command line prints.

What the API leaves to the command line is left out: explanations (--steps, --paths,
--edges, --exact, --latex: the documents are compared without them), rendering options
(--format, --digits, --full, --no-nodes), pictures (--plot, -o of export: the script is
compared on stdout), and --points (a vectorized batch with no one-call twin).  diff's
``shapes_from`` names where the shapes came from (the command line, a file, Python), so
it is left out of the comparison; plot is compared by its sampled data (``--format csv``),
not its pictures.  ``check`` examples are compared by tests/test_judge_parity.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

import gradcli
from clitools import run_cli, strict_json
from gradcli.cli import options
from gradcli.run.bindings import program_point

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
COMMANDS = ("eval", "jacobian", "hessian", "export", "descend", "diff", "plot")
_LINE = re.compile(r"^\s*(?:\$ )?gradcli (" + "|".join(COMMANDS) + r") ")
#: the explanations eval adds to its document, which the API's Result does not compute
EXPLANATIONS = ("steps", "paths", "edges", "exact", "latex", "latex_steps", "forward_steps")
#: options that only change how a result is shown, or where it is written
DROPPED = {"--format", "--digits", "--full", "--no-nodes", "--nodes", "--json", "--plot", "-o", "--out"}


def _examples() -> list[tuple[str, list[str]]]:
    found: dict[str, tuple[str, list[str]]] = {}
    for page in PAGES:
        if not page.is_file():
            continue
        lines = page.read_text(encoding="utf-8").splitlines()
        for k, line in enumerate(lines, 1):
            if not _LINE.match(line):
                continue
            text = line.strip().removeprefix("$ ")
            try:
                argv = shlex.split(text, comments=True)
            except ValueError:
                continue
            if any(a in ("|", ";", "&&", "-") or a.startswith(">") for a in argv) or "--points" in argv:
                continue
            found.setdefault(" ".join(argv), (f"{page.relative_to(ROOT)}:{k}", argv[1:]))
    return sorted(found.values())


EXAMPLES = _examples()


def _takes_value(command: str) -> dict[str, tuple[str, bool]]:
    """Each spelling of the command's options that takes a value: (dest, multiple)."""
    found = {}
    for option, _ in options.uses(command):
        if not option.is_flag:
            for spelling in option.spellings():
                found[spelling] = (option.dest, bool(option.settings.get("multiple")))
    return found


def _flags(command: str) -> set[str]:
    return {s for option, _ in options.uses(command) if option.is_flag for s in option.spellings()}


def _parse(argv: list[str]) -> tuple[str, list[str], dict, set[str]]:
    """The command, its positional arguments, its options with values (by dest), its flags."""
    command, rest = argv[0], argv[1:]
    valued = _takes_value(command)
    args: list[str] = []
    params: dict = {}
    flags: set[str] = set()
    k = 0
    while k < len(rest):
        a = rest[k]
        if a in valued:
            dest, multiple = valued[a]
            if multiple:
                params.setdefault(dest, []).append(rest[k + 1])
            else:
                params[dest] = rest[k + 1]
            k += 2
            continue
        if a in _flags(command):
            flags.add(a)
        elif a != "--":
            args.append(a)
        k += 1
    return command, args, params, flags


def _point(folder: Path, args: list[str], params: dict) -> tuple[str, dict, dict]:
    """The program, the values and the API's output/wrt keywords, as the command line reads them."""
    values: dict = {}
    keywords: dict = {}
    if "program_file" in params:
        source = (folder / params["program_file"]).read_text(encoding="utf-8")
        point, output, _ = program_point(source, str((folder / params["program_file"]).parent))
        values.update({name: b.text for name, b in point.items()})
        if output:
            keywords["output"] = output
        bindings = args
    else:
        source, bindings = args[0], args[1:]
    for path in params.get("vars_files", []):
        values.update(json.loads((folder / path).read_text(encoding="utf-8")))
    for a in bindings:
        name, _, text = a.partition("=")
        values[name] = text
    for key in ("output", "wrt"):
        if key in params:
            keywords[key] = params[key]
    return source, values, keywords


def _checked(result, params: dict):
    if params.get("check"):
        result.check(*params["check"], rtol=_float(params.get("rtol")), atol=_float(params.get("atol")),
                     sympy_timeout=float(params.get("sympy_timeout", 10.0)))
    return result


def _float(text):
    return None if text is None else float(text)


def _api(command: str, folder: Path, args: list[str], params: dict, flags: set[str]):
    """The same request through the API: what it returns, printed as the command line prints it."""
    source, values, keywords = _point(folder, args, params)
    if command == "eval":
        seed = params.get("seed_input")
        mode = params.get("mode") or ("forward" if seed else "reverse")
        r = gradcli.evaluate(source, values, mode=mode, seed=seed, seed_output=params.get("seed_output"),
                             **keywords)
        return _checked(r, params).to_json()
    if command in ("jacobian", "hessian"):
        mode = {"mode": params.get("mode", "reverse")} if command == "jacobian" else {}
        matrix = getattr(gradcli, command)(source, values, **mode, **keywords)
        return _checked(matrix, params).to_json()
    if command == "diff":
        for text in params.get("shapes", []):
            name, _, dims = text.partition("=")
            values[name] = np.zeros(tuple(int(d) for d in dims.split("x")))
        asked = {key: key in flags for key in ("steps", "expand", "latex")}
        return gradcli.diff(source, values or None, sympy_timeout=float(params.get("sympy_timeout", 10.0)),
                            **asked, **keywords).to_json()
    if command == "plot":
        spans = {a.partition("=")[0]: a.partition("=")[2] for a in args[1:] if re.fullmatch(r"\w+=[^:]+:.+", a)}
        for name in spans:
            values.pop(name, None)
        return gradcli.plot(source, values, ranges=spans, check=params.get("check"), **keywords).to_csv()
    if command == "export":
        return gradcli.export(source, values, to=params.get("target", "numpy"), **keywords)
    numbers = {key: float(params[key]) for key in ("lr", "momentum", "tol") if key in params}
    counts = {key: int(params[key]) for key in ("updates", "every", "batch", "shuffle_seed") if key in params}
    if "examples_file" in params:
        rows = list(csv.DictReader(io.StringIO((folder / params["examples_file"]).read_text(encoding="utf-8"))))
        keywords["examples"] = {name: [float(row[name]) for row in rows] for name in rows[0]}
    return gradcli.descend(source, values, **numbers, **counts, **keywords).to_json()


def _cli_argv(argv: list[str]) -> list[str]:
    """The example as run for comparison: its JSON document, nothing shown or written elsewhere."""
    command, kept, k = argv[0], [argv[0]], 1
    valued = _takes_value(command)
    while k < len(argv):
        a = argv[k]
        if a in DROPPED:
            k += 2 if a in valued else 1
            continue
        kept.append(a)
        k += 1
    return kept + {"export": [], "plot": ["--format", "csv"]}.get(command, ["--json"])


def test_the_pages_have_examples_of_every_command():
    counts = {command: sum(1 for _, argv in EXAMPLES if argv[0] == command) for command in COMMANDS}
    assert counts["eval"] >= 20 and all(counts.values()), counts


@pytest.mark.parametrize("where, argv", EXAMPLES, ids=[f"{w} {' '.join(a)[:60]}" for w, a in EXAMPLES])
def test_every_example_gives_the_same_result_through_the_api(where, argv, tmp_path, monkeypatch):
    # the folder the pages' commands run in (tools/docs_examples.py): the samples and the docs' examples
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    (tmp_path / "examples").symlink_to(ROOT / "docs" / "examples")
    # descend's --help example trains on data.csv (x, y columns): 16 rows, so --batch 8 shuffles
    (tmp_path / "data.csv").write_text("x,y\n" + "".join(f"{k / 4},{0.5 * k - 1}\n" for k in range(16)),
                                       encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    command, args, params, flags = _parse(argv)
    for key in ("program_file", "vars_files", "examples_file"):
        for path in [params[key]] if isinstance(params.get(key), str) else params.get(key, []):
            if not (tmp_path / path).exists():
                pytest.skip(f"{where}: {path} is an example's own file")
    cli = run_cli(_cli_argv(argv), env={"COLUMNS": "200"})
    try:
        api = _api(command, tmp_path, args, params, {f.lstrip("-") for f in flags})
    except gradcli.GradcliError as exc:  # a failure: the same status and the same message
        assert cli.exit_code == int(exc.exit_status), (where, cli.stderr)
        assert cli.stderr.startswith(exc.render().splitlines()[0]), (where, cli.stderr, exc.render())
        return
    assert cli.exit_code in (0, 1), (where, cli.stderr)
    if command in ("export", "plot"):
        assert cli.stdout.rstrip("\n") == api.rstrip("\n"), where
        return
    doc, twin = strict_json(cli.stdout), strict_json(api)
    for key in EXPLANATIONS if command == "eval" else ("shapes_from",) if command == "diff" else ():
        doc.pop(key, None)
        twin.pop(key, None)
    assert twin == doc, where
    if command in ("eval", "jacobian", "hessian"):
        assert cli.exit_code == (0 if doc["ok"] else 1), where
