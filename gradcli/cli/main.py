"""The ``gradcli`` entry point: a fast path for plain evaluations, click for the rest.

``gradcli eval PROGRAM NAME=VALUE ... [--json | --format F]`` is what shell loops run
thousands of times, and importing click costs more than everything else gradcli does
for a small program; ``gradcli eval PROGRAM --points FILE.csv`` is a batch whose
start-up is a good part of its time, and ``gradcli eval -f FILE … --steps`` an explanation
that rich-free writers print in less time than click takes to import.  So those forms -- a
program that does not start with '-' (or ``-f FILE`` first), bindings NAME=VALUE, and at most
the options `gradcli.cli.formats.FAST_PATH` lists (``--json``, ``--format F``, ``--no-nodes``,
``--points FILE``, ``--output NAME``, ``--wrt A,B``, ``--steps``, ``--paths``,
``--mode reverse|forward``), each at most once and none refusing another
(`gradcli.cli.conflicts`) -- are parsed here by a strict allow-list and sent to the same
`gradcli.cli.evaluation.run_eval` the click command calls.
Anything else (another option, a file, --help, a typo, an option given twice, a value
that starts with '-') goes to click unchanged, so there is one implementation and one
set of messages.
"""

from __future__ import annotations

import re
import sys
from typing import Optional

from .formats import FAST_PATH, FAST_PATH_CHOICES, FAST_PATH_FLAGS, FAST_PATH_VALUES, FORMATS

_BINDING = re.compile(r"[^\W\d]\w*=\S.*", re.DOTALL)
#: the eval formats, from the one declaration of the options (`gradcli.cli.options`)
_FORMATS = set(FORMATS["eval"])


def _plain_value(key: str, value: str) -> bool:
    """A value the fast path passes on as click would: not empty, and not starting with '-'
    (which click might read as an option), except ``--points -`` (stdin); one of the declared
    choices where the option has them (``--mode``)."""
    if key in FAST_PATH_CHOICES:
        return value in FAST_PATH_CHOICES[key]
    return bool(value) and (not value.startswith("-") or (key == "points" and value == "-"))


def fast_eval_args(argv: list[str]) -> Optional[dict]:
    """The run_eval arguments for a plain eval command line, or None to use click."""
    if len(argv) < 2 or argv[0] != "eval":
        return None
    plain: dict = {}
    if FAST_PATH.get(argv[1]) == "file":  # eval -f FILE NAME=VALUE ...: every argument a binding
        if len(argv) < 3 or not _plain_value("file", argv[2]):
            return None
        plain["program_file"], program, rest = argv[2], None, argv[3:]
    elif argv[1].startswith("-") or not argv[1].strip():
        return None
    else:
        program, rest = argv[1], argv[2:]
    fmt: Optional[str] = None
    bindings: list[str] = []
    i = 0
    while i < len(rest):
        a = rest[i]
        spelling, eq, value = a.partition("=")
        key = FAST_PATH.get(spelling)  # which declared option this spells, if the fast path takes it
        if key == "json" and not eq and fmt in (None, "json"):
            fmt = "json"
        elif key == "format" and not eq and i + 1 < len(rest) and rest[i + 1] in _FORMATS and fmt is None:
            fmt = rest[i + 1]
            i += 1
        elif key == "format" and eq and value in _FORMATS and fmt is None:
            fmt = value
        elif key == "nodes" and not eq and "show_nodes" not in plain:
            plain["show_nodes"] = False
        elif key in FAST_PATH_FLAGS and not eq and FAST_PATH_FLAGS[key] not in plain:
            plain[FAST_PATH_FLAGS[key]] = True
        elif key in FAST_PATH_VALUES and FAST_PATH_VALUES[key] not in plain:
            if not eq:
                if i + 1 >= len(rest):
                    return None
                i += 1
                value = rest[i]
            if not _plain_value(key, value):
                return None
            plain[FAST_PATH_VALUES[key]] = value
        elif _BINDING.fullmatch(a) and not a.startswith("-"):
            bindings.append(a)
        else:
            return None
        i += 1
    plain["args"] = tuple(bindings) if program is None else (program, *bindings)
    plain["fmt"] = fmt or "table"
    if plain.keys() & {"steps", "paths", "mode"}:  # options that can refuse each other: click says why
        from .conflicts import CONFLICTS, holds

        if any("eval" in c.commands and all(holds(t, plain) for t in c.when) for c in CONFLICTS):
            return None
    return plain


def silence_warnings() -> None:
    """No Python warning reaches the user's stderr, even under ``PYTHONWARNINGS=error``.

    gradcli reports what matters itself (kinks, domain errors, divergence) as one line;
    a library's RuntimeWarning is noise at best and, as an error, an exit 4.  Only the
    console script does this: an embedding program and the test suite keep their filters.
    """
    import warnings

    warnings.resetwarnings()
    warnings.simplefilter("ignore")


def run() -> None:
    """Console-script entry point."""
    import gc

    silence_warnings()
    gc.disable()  # a short-lived process building large acyclic graphs: GC only costs time
    plain = fast_eval_args(sys.argv[1:])
    if plain is None:
        from .commands import run_cli

        run_cli()
        return
    from .evaluation import EvalOptions, run_eval
    from .failures import finish, install_signal_handlers, prepare_streams, report_failure

    try:
        install_signal_handlers()
        prepare_streams()
        status = run_eval(EvalOptions(**plain))
    except BaseException as exc:  # noqa: B036 - mapped to one line and an exit status
        if isinstance(exc, SystemExit):
            raise
        status = report_failure(exc)
    status = finish(status)
    if "points_file" in plain:
        # the objects left are the modules': the collection at exit would walk them all
        # (NumPy's too) to find nothing: 5-8 ms of a 200 ms batch.  Frozen, it skips them.
        gc.freeze()
    sys.exit(status)
