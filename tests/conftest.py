"""Shared fixtures, and the Hypothesis profile.

`cli` runs gradcli in-process in one fixed environment (`clitools.run_cli`); the helpers it
shares with the tests that are not fixtures (`invoke`, `assert_golden`, `examples`) live in
tests/clitools.py.

Hypothesis runs derandomized: every property test draws the same examples on every
run, so CI on a fresh machine passes or fails on the code, not on the draw.  To explore
new examples, set GRADCLI_FUZZ_RANDOM=1 (Hypothesis prints the seed of any failure).
CI draws a quarter of each test's examples (`clitools.examples`); GRADCLI_FUZZ_FULL=1 all."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from clitools import examples, run_cli

settings.register_profile("gradcli", derandomize=os.environ.get("GRADCLI_FUZZ_RANDOM") != "1", database=None,
                          max_examples=examples(100))  # 100: Hypothesis's own default
settings.load_profile("gradcli")


@pytest.fixture
def cli():
    """Run ``gradcli ARGV`` in-process (`clitools.run_cli`): cli(argv, input=..., columns=...)."""
    return run_cli
