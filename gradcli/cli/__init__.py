"""The command line, and the only place that prints or exits.

* `main` -- the console entry point: a click-free fast path for plain
  ``gradcli eval PROGRAM NAME=VALUE [--json]``, click for everything else.
* `commands` -- the whole click group, ``gradcli.cli.commands:main``, with every command.
* `group` -- the click group itself: one-line usage errors, programs that start with '-'.
* `options` -- every option, declared once (plain data); `formats` -- its part the fast path
  reads: each command's ``--format`` values and the fast path's allow-list;
  `paramtypes` -- the click parameter types they use (NAME=VALUE, --shape, --seed, numbers).
* One module per command: `eval` (its click-free body is `evaluation`, which the fast path
  calls), `check`, `graph`, `diff`, `jacobian` (and hessian), `export`, `plot`, `descend`,
  `functions`.
* `conflicts` -- the flags that refuse each other: one table, with its messages, checked in one place.
* `program` -- reading the program and its bindings (argument, file, stdin; size limit).
* `printing` -- stdout and stderr, the console, warnings, CSV and JSON text.
* Each command receives its options as one record (`EvalOptions`, `CheckOptions`, ...; a
  `gradcli.run.requests.Record`), one field per option, and reads it into the typed request
  the API builds too (`gradcli.run.requests`).
* `failures` -- failures, signals and exit codes: every ending becomes one line and a status.
* `files` -- the files gradcli writes: atomically, never onto one of its inputs.

This package's ``__init__`` imports nothing, so the fast path stays fast.
"""
