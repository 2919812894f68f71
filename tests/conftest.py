"""Hypothesis runs derandomized: every property test draws the same examples on every
run, so CI on a fresh machine passes or fails on the code, not on the draw.  To explore
new examples, set GRADCLI_FUZZ_RANDOM=1 (Hypothesis prints the seed of any failure)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("gradcli", derandomize=os.environ.get("GRADCLI_FUZZ_RANDOM") != "1", database=None)
settings.load_profile("gradcli")
