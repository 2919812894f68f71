"""Flag conflicts: which options refuse each other, and the one line that says why.

`CONFLICTS` is the whole table.  Each row names the commands it applies to, the tests that
must all hold for the command line to be refused, and the message.  A test is the name of a
parameter (as the command receives it, `gradcli.cli.options`): ``points_file`` holds when
the option is given, ``!answers`` when it is not, ``mode=forward`` and ``fmt!=text`` compare
its value; alternatives are joined by ``|`` (any one holds).  The first row that holds is
the error; `refuse_conflicts` checks the table for every command, in one place
(`gradcli.cli.group.GradcliCommand`), before the command reads its program.

What depends on the program rather than on the flags (a vector output has no gradient to
check; --exact needs a scalar output) is checked where the program is known.  The fast
path (`gradcli.cli.main`) takes no two options that can conflict.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

from ..core.errors import UsageError
from ..run.requests import REVERSE_ONLY


class Conflict(NamedTuple):
    commands: tuple[str, ...]
    when: tuple[str, ...]
    message: str



_TABLES = ("eval", "jacobian", "hessian", "functions")

CONFLICTS: list[Conflict] = [
    Conflict(_TABLES, ("as_json", "fmt", "fmt!=json"), "--json and --format {fmt} disagree: choose one"),
    Conflict(("descend",), ("as_json", "fmt!=table", "fmt!=json"), "--json and --format {fmt} disagree: choose one"),
    # eval
    Conflict(("eval",), ("points_file", "check|mode=forward|seed_output|seed_input"),
             "--points runs plain reverse mode: leave out --check, --mode, --seed and --seed-output"),
    Conflict(("eval",), ("points_file", "steps|paths|edges|jacobians|exact|latex"),
             "--points prints values and gradients only: leave out --steps, --paths, --edges, --exact and --latex"),
    Conflict(("eval",), ("seed_input", "mode=reverse"),
             "--seed NAME starts a forward-mode tangent pass: it conflicts with --mode reverse "
             "(for reverse mode with a chosen cotangent use --seed-output)"),
    Conflict(("eval",), ("seed_output", "mode=forward|seed_input"),
             "--seed-output is for reverse mode; forward mode seeds an input with --seed NAME"),
    Conflict(("eval",), ("paths|edges|jacobians", "mode=forward|seed_input"), REVERSE_ONLY),
    # check
    Conflict(("check",), ("out_file", "!answers"), "--out writes the gradebook of --answers: give --answers FILE.csv too"),
    Conflict(("check",), ("out_file=-", "as_json"), "--out - and --json would both write to stdout: choose one"),
    Conflict(("check",), ("prove", "answers"),
             "--prove asks SymPy about one student's formulas: leave it out with --answers"),
    Conflict(("check",), ("answers", "expects|formulas|expect_values"),
             "--answers grades a whole class: leave out --expect, --expect-value and --expect-formula"),
    Conflict(("check",), ("!answers", "out_file|strict|fmt!=text"),
             "--out, --strict and --format go with --answers (a class's gradebook)"),
    Conflict(("check",), ("fmt=gradescope", "as_json"),
             "--format gradescope writes Gradescope's JSON already: leave out --json"),
    # descend
    Conflict(("descend",), ("batch", "!examples_file"), "--batch takes minibatches of --examples data"),
]


def _given(value: Any) -> bool:
    return value is not None and value is not False and value != () and value != ""


def holds(test: str, params: Mapping[str, Any]) -> bool:
    """Whether one test of a row holds for the command's `params` (see the module's docstring)."""
    if "|" in test:
        return any(holds(alternative, params) for alternative in test.split("|"))
    if test.startswith("!"):
        return not holds(test[1:], params)
    if "!=" in test:
        name, value = test.split("!=")
        return params.get(name) != value
    if "=" in test:
        name, value = test.split("=")
        return params.get(name) == value
    return _given(params.get(test))


def refuse_conflicts(command: str, params: Mapping[str, Any]) -> None:
    """A UsageError with the first row of `CONFLICTS` that holds for `command`'s `params`."""
    for conflict in CONFLICTS:
        if command in conflict.commands and all(holds(test, params) for test in conflict.when):
            raise UsageError(conflict.message.format_map(params))
