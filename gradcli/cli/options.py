"""Every option of the command line, declared once, and which command takes which.

`OPTIONS` holds one `Option` per meaning: its spellings, the parameter name the command
receives, its type, its help.  `COMMANDS` lists, per command and in ``--help`` order, the
options it takes; a command's own wording of a help text (``--vars``: "Starting values
from JSON." in descend) or its own default is an override in that row, never a second
declaration.  `FORMATS` is the one place that says which ``--format`` values each command
accepts.

This module is plain data and imports nothing heavy.  `FORMATS` and the fast path's
allow-list `FAST_PATH` (keys of `OPTIONS`, tested) live in `gradcli.cli.formats`, which the
fast path (`gradcli.cli.main`) reads without building every declaration.  `declare` turns a row into click decorators, importing
click and `gradcli.cli.paramtypes` only when called.

Each spelling has one meaning in every command that takes it: ``--steps`` explains,
``--seed NAME`` seeds a forward-mode input, ``--points FILE.csv`` evaluates at every row,
``--check`` compares with an oracle.  ``gradcli descend`` once used ``--steps``, ``--seed``
and ``--points`` for other things; its spellings are now ``--updates``, ``--shuffle-seed``
and ``--examples``, and `DEPRECATED` keeps the old ones working as hidden aliases that
print a one-line warning on stderr (`resolve_aliases`).
"""

from __future__ import annotations

from typing import Any, Callable, Collection, Optional, Union

from .formats import FAST_PATH as FAST_PATH, FORMATS  # declared there: the fast path reads them without building OPTIONS

#: the usage line's name for the arguments: ``gradcli eval [OPTIONS] PROGRAM [NAME=VALUE]...``
PROGRAM_ARGUMENTS = "PROGRAM [NAME=VALUE]..."

class Option:
    """One option: its spellings (`flags`), the parameter the command receives (`dest`), its
    type (a name `gradcli.cli.paramtypes.type_of` knows, or a tuple of choices), its help, and
    click's other settings (multiple, is_flag, default, metavar, show_default)."""

    __slots__ = ("flags", "dest", "type", "help", "settings")

    def __init__(self, *flags: str, dest: Optional[str] = None, type: Union[str, tuple[str, ...], None] = None,
                 help: Optional[str] = None, **settings: Any) -> None:
        self.flags = flags
        self.dest = dest or flags[-1].lstrip("-").split("/")[0].replace("-", "_")
        self.type = type
        self.help = help
        self.settings = settings

    @property
    def is_flag(self) -> bool:
        return bool(self.settings.get("is_flag")) or "/" in self.flags[-1]

    def spellings(self) -> list[str]:
        """Every way to write it on the command line (``--nodes/--no-nodes``: both)."""
        return [s for flag in self.flags for s in flag.split("/")]


OPTIONS: dict[str, Option] = {option.dest if key is None else key: option for key, option in [
    # the program and its inputs
    ("file", Option("-f", "--file", dest="program_file", metavar="FILE", type="file",
                    help="Read the program from FILE ('-' for stdin); all arguments are then bindings.")),
    ("vars", Option("--vars", dest="vars_files", metavar="FILE.json", type="file", multiple=True,
                    help="Input values from a JSON object; NAME=VALUE arguments override them.")),
    ("output", Option("--output", dest="output", metavar="NAME",
                      help="Differentiate this named step instead of the last statement.")),
    ("wrt", Option("--wrt", metavar="A,B", help="Only these inputs (comma-separated).")),
    ("points", Option("--points", dest="points_file", metavar="FILE.csv", type="file",
                      help="Evaluate at every row of a CSV (header: input names; '-' for stdin) in one vectorized "
                           "pass; prints a CSV (or JSON lines) of values and gradients.")),
    ("shape", Option("--shape", dest="shapes", metavar="NAME=RxC", type="shape", multiple=True,
                     help="An input's shape without values: W=3x2, x=2 (inputs without a shape are scalars).")),
    # checks against independent oracles
    ("check", Option("--check", dest="check", type=("sympy", "fd", "all"), multiple=True,
                     help="Check against SymPy, finite differences, or both (exit 1 on disagreement).")),
    ("rtol", Option("--rtol", type="tolerance", help="Relative tolerance of checks (defaults: sympy 1e-9, fd 1e-6).")),
    ("atol", Option("--atol", type="tolerance", help="Absolute tolerance of checks (defaults: sympy 1e-12, fd 1e-8).")),
    ("sympy-timeout", Option("--sympy-timeout", type="seconds", default=10.0, show_default=True, metavar="SECONDS",
                             help="Time budget of the SymPy check.")),
    # what is printed, and how
    ("json", Option("--json", dest="as_json", is_flag=True, help="Same as --format json.")),
    ("format", Option("--format", dest="fmt", type="format", default=None, help="Output format (default: table).")),
    ("full", Option("--full", is_flag=True, help="Show whole arrays and every row.")),
    ("digits", Option("--digits", type="digits", default=None,
                      help="Significant digits in tables, array elements included "
                           "[default: 10; 6 for array elements].")),
    ("nodes", Option("--nodes/--no-nodes", dest="show_nodes", default=None,
                     help="Show every node (default: all up to 60, else head and tail), or none.")),
    ("out", Option("-o", "--out", dest="out_file", metavar="FILE", type="file",
                   help="Write the picture to FILE ('-' for stdout).")),
    # the derivative computed
    ("seed-output", Option("--seed-output", metavar="VALUE",
                           help="Cotangent of a non-scalar output, e.g. [1,0,0]: gives a vector-Jacobian product.")),
    ("mode", Option("--mode", type=("reverse", "forward"), default=None,
                    help="Reverse: one backward pass; forward: one tangent pass per input "
                         "[default: reverse; forward with --seed].")),
    ("matrix-mode", Option("--mode", type=("reverse", "forward", "both"), default="reverse", show_default=True,
                           help="Reverse: one backward pass per output element; forward: one tangent pass per input "
                                "element; both: compute both and compare.")),
    ("seed", Option("--seed", dest="seed_input", metavar="NAME", type="seed",
                    help="Forward mode: a single tangent pass started with 1 at input NAME (an array: one per "
                         "element; NAME[i,j] picks the pass --steps writes out).")),
    # explanations
    ("steps", Option("--steps", is_flag=True, help="Explain the backward pass step by step.")),
    ("paths", Option("--paths", is_flag=True, help="Explain each gradient as a sum over paths (small graphs).")),
    ("edges", Option("--edges", is_flag=True, help="Show the local derivative on every edge (arrays: the local "
                                                    "Jacobian's shape and structure).")),
    ("jacobians", Option("--jacobians", is_flag=True,
                         help="With arrays: also print each edge's local Jacobian matrix (up to 144 entries; "
                              "--full: all).")),
    ("exact", Option("--exact", is_flag=True,
                     help="Also compute with exact numbers (rationals, surds, π) via SymPy: a=1/3 stays 1/3.")),
    ("latex", Option("--latex", is_flag=True, help="Also print the derivatives as LaTeX.")),
    ("expand", Option("--expand", is_flag=True,
                      help="Write each derivative in the inputs only (by default a program with named steps gets "
                           "formulas in its step names, after the steps they use).")),
    # a student's answers
    ("expect", Option("--expect", dest="expects", metavar="NAME=VALUE", type="expect", multiple=True,
                      help="A student's ∂out/∂NAME, for an input or any named step (a number, a constant "
                           "expression such as 1/3, or an array).")),
    ("expect-value", Option("--expect-value", dest="expect_values", metavar="[NAME=]VALUE", type="expect-value",
                            multiple=True, help="A student's value of the output, or of the step NAME.")),
    ("expect-formula", Option("--expect-formula", dest="formulas", metavar="NAME=EXPR", type="expect-formula",
                              multiple=True,
                              help="A student's formula for ∂out/∂NAME; may use the program's step names "
                                   "and arrays.")),
    ("answers", Option("--answers", metavar="FILE.csv", type="file",
                       help="A class's answers (CSV, TSV or ;): an id column, then columns NAME or d/dNAME "
                            "(gradients), value or value:NAME (values), formula:NAME (formulas); other columns "
                            "are kept.")),
    ("gradebook", Option("--out", dest="out_file", metavar="FILE.csv", type="file",
                         help="With --answers: write the gradebook here ('-' for stdout); never onto an input "
                              "file.")),
    ("strict", Option("--strict", is_flag=True, help="With --answers: exit 1 when any answer is not right.")),
    ("reveal", Option("--reveal", is_flag=True, help="Show the right answers (with --answers: a key row).")),
    ("min-digits", Option("--min-digits", type="digits", default=None, metavar="N",
                          help="Fewest significant digits for a number to be right to the digits written "
                               "(default 3).")),
    ("data", Option("--data", dest="data", metavar="NAME", multiple=True,
                    help="An input that is data (a label, a target, a mask): formulas are never tested with it "
                         "moved off its kind. Also '#: data NAME ...' in the program.")),
    ("prove", Option("--prove", is_flag=True,
                     help="Also ask SymPy to prove each right formula equal, within --sympy-timeout (an extra: "
                          "formulas are judged by their values at chosen points).")),
    # plot
    ("overlay", Option("--check", dest="check", type=("fd",), help="Overlay finite differences (one input).")),
    # descend
    ("lr", Option("--lr", type="float", default=0.1, show_default=True, help="Learning rate.")),
    ("updates", Option("--updates", dest="updates", type="updates", default=50, show_default=True,
                       help="Most updates.")),
    ("momentum", Option("--momentum", type="float", default=0.0, show_default=True,
                        help="Momentum μ (PyTorch's SGD rule).")),
    ("tol", Option("--tol", type="float", default=0.0, show_default=True,
                   help="Stop when the gradient norm is below this.")),
    ("every", Option("--every", type="positive", default=1, show_default=True, help="Show every N-th step (at most 100,000 steps are shown).")),
    ("batch", Option("--batch", type="positive", help="Minibatch size (default: all rows).")),
    ("examples", Option("--examples", dest="examples_file", metavar="FILE.csv", type="file",
                        help="Training data: one example per row (header: input names); the loss is the mean "
                             "over a (mini)batch.")),
    ("shuffle-seed", Option("--shuffle-seed", dest="shuffle_seed", type="shuffle-seed", default=0,
                            show_default=True, help="Seed for shuffling minibatches.")),
    ("plot", Option("--plot", dest="plot_file", metavar="FILE", type="file",
                    help="Draw the loss curve (png or svg; with two scalar "
                         "parameters also the path over the contours).")),
    # export
    ("to", Option("--to", dest="target", type=("numpy", "torch", "jax"), default="numpy", show_default=True,
                  help="numpy: backprop written out by hand; torch, jax: the forward pass, autograd for the rest.")),
]}

#: a row entry: an option's key, or its key and this command's own wording or default
Use = Union[str, tuple[str, dict[str, Any]]]

_PROGRAM: list[Use] = ["file", "vars", "output", "wrt"]
_CHECKS: list[Use] = ["check", "rtol", "atol", "sympy-timeout"]
_OUTPUT: list[Use] = ["json", "format", "full", "digits"]

#: the options of each command, in ``--help`` order; every command that takes a program
#: takes it as PROGRAM [NAME=VALUE]... (plot: with ranges), the usage line's `ARGUMENTS`
COMMANDS: dict[str, list[Use]] = {
    "eval": [*_PROGRAM, *_CHECKS, *_OUTPUT, "nodes", "seed-output", "mode", "seed", "steps", "paths", "edges",
             "jacobians", "exact", "latex", "points"],
    "jacobian": [*_PROGRAM, *_CHECKS, *_OUTPUT, "matrix-mode"],
    "hessian": [*_PROGRAM, *_CHECKS, *_OUTPUT],
    "check": [*_PROGRAM, "expect", "expect-value", "expect-formula", "answers", "gradebook", "strict",
              ("format", {"default": "text", "show_default": True,
                          "help": "With --answers: the gradebook as CSV (text) or Gradescope's results.json."}),
              "reveal",
              ("rtol", {"default": None, "help": "Relative tolerance for numbers (default 1e-4). Given, the tolerance alone judges "
                                "numbers."}),
              ("atol", {"default": None, "help": "Absolute tolerance for numbers (default 1e-8)."}),
              "min-digits", "data", "prove",
              ("sympy-timeout", {"help": "Time budget for --prove and for --reveal's formulas."}),
              ("json", {"help": "Verdicts as JSON."})],
    "graph": [*_PROGRAM,
              ("format", {"help": "text draws in the terminal; dot and mermaid are text for Graphviz and Markdown; "
                                  "svg and png need Graphviz's dot program; html is a page that steps through "
                                  "backprop (up to 30,000 nodes) [default: from the -o file's extension, else "
                                  "text]."}),
              "out",
              ("seed-output", {"help": "Cotangent of a non-scalar output (for the adjoints)."}),
              ("digits", {"help": "Significant digits in the picture, array elements included [default: 6; 4 for "
                                  "array elements]."})],
    "diff": [("file", {"help": "Read the program from FILE ('-' for stdin)."}),
             ("vars", {"help": "Shapes of the inputs from a JSON object (the values are not used)."}),
             "shape",
             ("output", {"help": "Differentiate this named step instead of the last."}),
             "wrt",
             ("steps", {"help": "Show the backward sweep in symbols, step by step."}),
             "expand",
             ("latex", {"help": "Also give each derivative as LaTeX."}),
             ("json", {"help": "Print a JSON document."}),
             ("sympy-timeout", {"help": "Time budget for simplifying the formulas."})],
    "plot": [("file", {"help": "Read the program from FILE."}),
             ("vars", {"help": "Values of the other inputs."}),
             ("output", {"help": "Plot this named step instead of the last."}),
             ("format", {"help": "text (the terminal), png or svg (matplotlib), csv (the sampled data); "
                                 "default: from -o's extension, else text."}),
             "overlay",
             ("out", {"help": "Write the picture or data to FILE."})],
    "descend": [("file", {"help": "Read the program from FILE."}),
                ("vars", {"help": "Starting values from JSON."}),
                ("output", {"help": "Minimize this named step instead of the last."}),
                ("wrt", {"help": "The parameters to update (default: every input that is not data)."}),
                "lr", "updates", "momentum", "tol", "every",
                "examples", "batch", "shuffle-seed",
                ("format", {"default": "table", "show_default": True, "help": None}),
                "json", "plot"],
    "export": [*_PROGRAM, "to", ("out", {"help": "Write the script to FILE."})],
    "functions": [("format", {"help": "Output format (default: table); markdown is the README's reference "
                                      "table."}),
                  "json"],
}

#: released spellings that changed: command -> old spelling -> the key of the option it now is.
#: Each old spelling is a hidden option of that command (dest ``<dest>_deprecated``) that
#: still works, with a one-line warning on stderr (never stdout, never in --json output).
DEPRECATED: dict[str, dict[str, str]] = {
    "descend": {"--steps": "updates", "--seed": "shuffle-seed", "--points": "examples"},
}

#: the usage line's arguments of each command that takes a program
ARGUMENTS: dict[str, str] = {
    **{name: PROGRAM_ARGUMENTS for name in COMMANDS if name != "functions"},
    "plot": "PROGRAM NAME=LOW:HIGH[:POINTS]... [NAME=VALUE]...",
}


def uses(command: str) -> list[tuple[Option, dict[str, Any]]]:
    """The options of `command`, each with this command's overrides."""
    found = []
    for use in COMMANDS[command]:
        key, overrides = (use, {}) if isinstance(use, str) else use
        found.append((OPTIONS[key], overrides))
    return found


def declare(command: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Click decorators for `command`'s arguments and options, in ``--help`` order."""
    import click

    from .paramtypes import type_of

    decorators = []
    if command in ARGUMENTS:
        decorators.append(click.argument("args", nargs=-1, metavar=ARGUMENTS[command]))
    for option, overrides in uses(command):
        settings = {**option.settings, **{k: v for k, v in overrides.items() if k != "help"}}
        if option.type is not None:
            settings["type"] = type_of(option.type, FORMATS.get(command, ()))
        help_text = overrides["help"] if "help" in overrides else option.help
        if help_text is not None:
            settings["help"] = help_text
        decorators.append(click.option(*option.flags, option.dest, **settings))
    for old, key in DEPRECATED.get(command, {}).items():
        option = OPTIONS[key]
        settings = {k: v for k, v in option.settings.items() if k not in ("default", "show_default")}
        if option.type is not None:
            settings["type"] = type_of(option.type, FORMATS.get(command, ()))
        decorators.append(click.option(old, f"{option.dest}_deprecated", hidden=True, default=None, **settings))

    def apply(f: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


def resolve_aliases(command: str, params: dict[str, Any], given: Collection[str]) -> list[str]:
    """Fold each deprecated spelling given into its option, in place; the warnings to print.

    `given` names the parameters the command line set; both spellings of one option at
    once are refused (a `UsageError`)."""
    warnings = []
    for old, key in DEPRECATED.get(command, {}).items():
        option = OPTIONS[key]
        value = params.pop(f"{option.dest}_deprecated", None)
        if value is None:
            continue
        new = option.flags[-1]
        if option.dest in given:
            from ..core.errors import UsageError

            raise UsageError(f"{old} is the old spelling of {new}: give {new} once")
        params[option.dest] = value
        warnings.append(f"{command} {old} is deprecated: write {new} (same meaning)")
    return warnings
