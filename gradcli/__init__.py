"""gradcli: a command-line gradient calculator.

Programs are read by `gradcli.language` (text -> DAG), evaluated and differentiated
by `gradcli.core` on a backend of `gradcli.backends`, run with bindings by
`gradcli.run`, checked by `gradcli.oracles`, explained and graded by
`gradcli.teach`, rendered by `gradcli.output`, and driven by the command line in
`gradcli.cli`.
"""

from ._version import __version__

__all__ = ["__version__"]
