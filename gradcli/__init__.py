"""gradcli: a command-line gradient calculator.

Programs are parsed (`gradcli.parser`), lowered to a DAG of primitives
(`gradcli.lower`, `gradcli.graph`, `gradcli.ops`), evaluated and differentiated in
reverse mode (`gradcli.engine`), checked against finite differences
(`gradcli.checks`) and SymPy (`gradcli.symbolic`), and shown as tables or JSON
(`gradcli.render`, `gradcli.report`) by the command line (`gradcli.cli`).
"""

__version__ = "0.1.0"
