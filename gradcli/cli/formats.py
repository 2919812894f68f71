"""The ``--format`` values of each command, and the options the click-free fast path takes.

Part of the option declarations (`gradcli.cli.options` re-exports both), kept in a module
of their own so that a plain ``gradcli eval … --json`` (`gradcli.cli.main`) reads them
without building every `gradcli.cli.options.Option`.
"""

from __future__ import annotations

#: the ``--format`` values of each command, the first being what a plain run prints
FORMATS: dict[str, tuple[str, ...]] = {
    "eval": ("table", "json", "csv", "tsv"),
    "jacobian": ("table", "json", "csv", "tsv"),
    "hessian": ("table", "json", "csv", "tsv"),
    "check": ("text", "gradescope"),
    "graph": ("text", "dot", "mermaid", "svg", "png", "html"),
    "plot": ("text", "png", "svg", "csv"),
    "descend": ("table", "json", "csv"),
    "functions": ("table", "json", "markdown"),
}

#: the spellings a plain ``gradcli eval`` line may use on the click-free fast path
#: (`gradcli.cli.main`), each with the key of the option it spells; ``--format`` takes
#: the values FORMATS["eval"] lists, the keys of FAST_PATH_VALUES one value each
FAST_PATH: dict[str, str] = {"--json": "json", "--format": "format", "--no-nodes": "nodes",
                             "--points": "points", "--output": "output", "--wrt": "wrt",
                             "--steps": "steps", "--paths": "paths", "--mode": "mode",
                             "-f": "file", "--file": "file"}

#: the fast path's options that take one value (a file name, a step name, a list of
#: names), each with the parameter it sets: the option's ``dest`` (tested against
#: `gradcli.cli.options.OPTIONS`)
FAST_PATH_VALUES: dict[str, str] = {"points": "points_file", "output": "output", "wrt": "wrt", "mode": "mode"}

#: the fast path's flags, each with the parameter it sets to True
FAST_PATH_FLAGS: dict[str, str] = {"steps": "steps", "paths": "paths"}

#: the values a valued option of the fast path may take, where the declaration restricts them
FAST_PATH_CHOICES: dict[str, tuple[str, ...]] = {"mode": ("reverse", "forward")}
