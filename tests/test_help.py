"""Help and completion: every command's help has examples that run, usage lines name the
arguments, the group's epilog lists the exit codes, file options complete as files."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import click
import pytest

from clitools import invoke, run_cli
from gradcli.cli.commands import FileName, main

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = sorted(main.commands)
PROGRAM_COMMANDS = [name for name in COMMANDS
                    if any(isinstance(p, click.Argument) and p.name == "args" for p in main.commands[name].params)]
FILE_OPTIONS = {"-f", "--vars", "--points", "--examples", "--answers", "-o", "--out", "--plot"}


def _as_gradcli(argv: list[str], env: dict | None = None):
    """Run under the program name 'gradcli' (usage lines, the completion variable)."""
    return invoke(argv, env=env, prog_name="gradcli")


def _help(*argv: str) -> str:
    result = _as_gradcli([*argv, "--help"])
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    return result.stdout


def _examples(text: str, command: str) -> list[str]:
    return [line.strip() for line in text.splitlines()
            if line.strip() == f"gradcli {command}" or line.strip().startswith(f"gradcli {command} ")]


#: what each command's usage line says after [OPTIONS]; the rest take PROGRAM [NAME=VALUE]...
ARGUMENTS = {"plot": "PROGRAM NAME=LOW:HIGH[:POINTS]... [NAME=VALUE]..."}


@pytest.mark.parametrize("name", PROGRAM_COMMANDS)
def test_usage_line_names_the_arguments(name):
    arguments = ARGUMENTS.get(name, "PROGRAM [NAME=VALUE]...")
    assert _help(name).splitlines()[0] == f"Usage: gradcli {name} [OPTIONS] {arguments}"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_help_has_examples(name):
    assert len(_examples(_help(name), name)) >= 2, name


def _runnable(example: str, workdir: Path) -> list[str] | None:
    """The example's arguments, run in `workdir`; None when it needs a file we lack."""
    argv = shlex.split(example.split(" > ")[0])[1:]
    for flag in ("-f", "--vars", "--points", "--examples", "--answers"):
        if flag in argv:
            name = argv[argv.index(flag) + 1]
            if not (workdir / name).exists():
                return None
    return argv


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in ("plot", "descend") else n
                                  for n in COMMANDS])  # matplotlib pictures: seconds
def test_help_examples_run(name, tmp_path, monkeypatch):
    """Every example in --help runs (exit 0, or 1 where it is an example of a wrong answer)."""
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    (tmp_path / "points.csv").write_text("a,b\n3,2\n0.5,-1\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    ran = 0
    for example in _examples(_help(name), name):
        argv = _runnable(example, tmp_path)
        if argv is None or (("svg" in argv or "png" in argv) and shutil.which("dot") is None):
            continue
        result = run_cli(argv)
        assert result.exit_code in (0, 1), (example, result.stderr)
        assert result.stdout or "wrote" in result.stderr, example
        ran += 1
    assert ran >= 1, f"no example of {name} could run"


def test_group_epilog_lists_every_exit_code_and_the_functions_command():
    text = _help()
    epilog = text[text.index("Exit codes:"):]
    page = (ROOT / "docs" / "reference" / "exit-codes.md").read_text(encoding="utf-8")
    codes = re.findall(r"^\| (\d) \|", page, re.M)
    assert codes == ["0", "1", "2", "3", "4"]
    for code in codes:
        assert re.search(rf"^ +{code}  \S", epilog, re.M), code
    assert "gradcli functions" in epilog


@pytest.mark.parametrize("name", COMMANDS)
def test_file_options_complete_as_files(name):
    command = main.commands[name]
    ctx = click.Context(command, info_name=name)
    for param in command.params:
        if FILE_OPTIONS & set(getattr(param, "opts", [])):
            assert isinstance(param.type, FileName), (name, param.opts)
            assert isinstance(param.type, click.Path)
            items = param.type.shell_complete(ctx, param, "sam")
            assert [item.type for item in items] == ["file"]
            assert param.type.convert("-", param, ctx) == "-"  # stdin or stdout, as before
            assert param.type.convert("x\x00y", param, ctx) == "x\x00y"  # the command judges it


def test_every_file_option_is_a_file_name():
    seen = {opt for name in COMMANDS for p in main.commands[name].params if isinstance(p.type, FileName)
            for opt in p.opts}
    assert FILE_OPTIONS <= seen


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o nosort -F"), ("zsh", "#compdef gradcli"),
                                           ("fish", "complete --no-files --command gradcli")])
def test_completion_scripts_for_every_shell_in_the_readme(shell, marker):
    """The set-up lines of the docs produce a script for each shell (click's completion)."""
    result = _as_gradcli([], env={"_GRADCLI_COMPLETE": f"{shell}_source"})
    assert result.exit_code == 0 and marker in result.stdout, result.stdout[:300]
    reference = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    assert f"_GRADCLI_COMPLETE={shell}_source gradcli" in reference


def test_completion_offers_file_names_after_file_options():
    result = _as_gradcli([], env={"_GRADCLI_COMPLETE": "bash_complete", "COMP_WORDS": "gradcli eval -f ",
                              "COMP_CWORD": "3"})
    assert result.exit_code == 0 and result.stdout.strip() == "file,"
