"""The command line, and the only place that prints or exits.

* `main` -- the console entry point: a click-free fast path for plain
  ``gradcli eval PROGRAM NAME=VALUE [--json]``, click for everything else.
* `commands` -- the click group and its commands (argument parsing only).
* `app` -- the command bodies: run the pipeline, render, print, map failures to
  exit statuses.
* `files` -- the files gradcli writes: atomically, never onto one of its inputs.

This package's ``__init__`` imports nothing, so the fast path stays fast.
"""
