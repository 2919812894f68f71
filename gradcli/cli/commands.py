"""The whole command line as one click group: ``gradcli.cli.commands:main``.

Tools that read click commands (click-man, sphinx-click, the tests) import `main` from
here.  The group itself lives in `gradcli.cli.group`; each command in its own module,
which registers it on the group when imported -- so this module imports them all, in the
order ``gradcli --help`` lists them.
"""

from __future__ import annotations

from . import check, descend, diff, eval, export, functions, graph, jacobian, plot  # noqa: F401 (registration)
from .group import main, run_cli
from .paramtypes import FileName

__all__ = ["FileName", "main", "run_cli"]
