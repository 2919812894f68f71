"""The ground floor: what a program *is* and how it is differentiated.

* `ops` -- the closed set of primitives, one rule row each (forward, partials or
  matrix rule with its VJP/JVP, shape rule, kink test, domain message).  Data; imports
  only `rules` and `windows`.
* `windows` -- the shape rules of convolution and pooling (pure Python; the tensor kernels
  in `gradcli.backends` check their arguments with them too).
* `errors` -- the typed errors, each carrying its exit status.
* `fmt` -- how gradcli writes a number (shared by error messages, explanations and
  tables, so a value reads the same everywhere).
* `elements` -- naming and walking the elements of an array value.
* `graph` -- the DAG: an ordered list of single-assignment nodes.
* `shapes` -- shape inference over the graph.
* `formula` -- the one expression tree of formulas: it renders as lecture text, LaTeX,
  gradcli syntax and Python source, and evaluates on a backend (NumPy, dual numbers).
* `rules` -- the matrix rules of the structural ops (formulas), as the explanations print them.
* `engine` -- `Tape`: the forward loop and the reverse walk that accumulates adjoints,
  on any backend from `gradcli.backends`.

Nothing here imports from a higher floor.
"""
