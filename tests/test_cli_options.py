"""Options declared once (gradcli/cli/options.py): the commands, their ``--format`` choices and
the fast path's allow-list all come from the same declarations, and option values are read
by their click parameter types (NAME=VALUE, --shape, --expect, --seed)."""

from __future__ import annotations

import click
import pytest

from clitools import invoke
from gradcli.cli import options
from gradcli.cli.commands import main
from gradcli.cli.main import fast_eval_args


def _declared_spellings(command: str) -> set[str]:
    """The command's options, and the released spellings it keeps as deprecated aliases."""
    return {s for option, _ in options.uses(command) for s in option.spellings()} | set(
        options.DEPRECATED.get(command, {}))


def _click_spellings(command: str) -> set[str]:
    params = main.commands[command].params
    return {o for p in params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("command", sorted(options.COMMANDS))
def test_every_command_takes_exactly_its_declared_options(command):
    assert _click_spellings(command) == _declared_spellings(command)


def test_every_command_is_declared_and_every_declaration_is_used():
    assert set(options.COMMANDS) == set(main.commands)
    used = {use if isinstance(use, str) else use[0] for row in options.COMMANDS.values() for use in row}
    assert used == set(options.OPTIONS)


@pytest.mark.parametrize("command", sorted(options.FORMATS))
def test_format_choices_come_from_one_place(command):
    (fmt,) = [p for p in main.commands[command].params if "--format" in getattr(p, "opts", ())]
    assert tuple(fmt.type.choices) == options.FORMATS[command]


def test_every_command_with_format_has_its_formats_declared():
    with_format = {name for name in options.COMMANDS if "--format" in _declared_spellings(name)}
    assert with_format == set(options.FORMATS)


def _fast_path_takes(argv_tail: list[str]) -> bool:
    return fast_eval_args(["eval", "x", "x=1", *argv_tail]) is not None


def test_the_fast_path_allow_list_is_derived_from_the_declarations():
    """Every spelling the fast path takes spells a declared option of eval; every other
    option of eval (derived from the declarations, not listed here) goes to click."""
    eval_options = {key if isinstance(key, str) else key[0] for key in options.COMMANDS["eval"]}
    for spelling, key in options.FAST_PATH.items():
        assert key in eval_options and spelling in options.OPTIONS[key].spellings()
    allowed = set()
    for option, _ in options.uses("eval"):
        for spelling in option.spellings():
            values = list(options.FORMATS["eval"]) + list(option.type if isinstance(option.type, tuple) else ())
            tails = [[spelling]] if option.is_flag else [[spelling, v] for v in values]
            if option.dest == "fmt":
                tails += [[f"{spelling}={v}"] for v in options.FORMATS["eval"]]
            first = fast_eval_args(["eval", spelling, "prog.grad", "x=1"]) is not None  # -f FILE comes first
            if any(_fast_path_takes(tail) for tail in tails) or first:
                allowed.add(spelling)
    assert allowed == set(options.FAST_PATH)
    for value in options.FORMATS["eval"]:  # every eval format, and nothing else
        assert fast_eval_args(["eval", "x", "x=1", "--format", value])["fmt"] == value
    assert not _fast_path_takes(["--format", "markdown"])


def test_the_allow_list_check_can_fail(monkeypatch):
    monkeypatch.setitem(options.FAST_PATH, "--full", "full")
    with pytest.raises(AssertionError):
        test_the_fast_path_allow_list_is_derived_from_the_declarations()


def test_options_module_imports_no_click():
    import subprocess
    import sys

    code = "import sys, gradcli.cli.options, gradcli.cli.main; print('click' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("argv, message", [
    (["check", "x^2", "x=3", "--expect", "b"], "gradcli: error: --expect 'b': write NAME=VALUE, e.g. --expect b=8"),
    (["check", "x^2", "x=3", "--expect-formula", "x="],
     "gradcli: error: --expect-formula 'x=': write NAME=EXPRESSION, e.g. x=2*x"),
    (["diff", "sum(W@x)", "--shape", "W=3y2"],
     "gradcli: error: --shape W=3y2: write NAME=ROWSxCOLS or NAME=LENGTH (up to 4 sizes), e.g. W=3x2, x=2 or X=2x3x4x4"),
    (["diff", "sum(W@x)", "--shape", "W=0x2"], "gradcli: error: --shape W=0x2: sizes start at 1"),
    (["eval", "x*y", "x=1", "y=2", "--seed", "x[0"],
     "gradcli: error: --seed x[0: write an input's name, or one element of it such as W[0,1]"),
])
def test_parameter_types_refuse_malformed_values_in_one_line(argv, message):
    result = invoke(argv)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip() == message


def test_parameter_types_read_pairs():
    assert options.OPTIONS["expect"].type == "expect"
    from gradcli.cli.paramtypes import NameValue, Shape, type_of

    expect = type_of("expect")
    assert isinstance(expect, NameValue) and expect.convert("b = 8", None, None) == ("b", " 8")
    assert type_of("expect-value").convert("12", None, None) == (None, "12")
    assert type_of("expect-value").convert("c=1/3", None, None) == ("c", "1/3")
    assert type_of("expect-formula").convert(" x = 2*x ", None, None) == ("x", "2*x")
    assert isinstance(type_of("shape"), Shape)
    assert type_of("shape").convert("W=3x2", None, None) == ("W", (3, 2), "3x2")
    assert type_of("seed").convert("W[0,1]", None, None) == "W[0,1]"
    with pytest.raises(KeyError):
        type_of("no-such-type")
