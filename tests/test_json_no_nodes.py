"""``--json --no-nodes``: the same document with an empty ``nodes`` list."""

from __future__ import annotations

import pytest

from clitools import run_cli, strict_json


@pytest.mark.parametrize("argv", [
    ["c = a + b; d = b + 1; e = c * d", "a=3", "b=2"],
    ["s = dot(u, sigmoid(W@x + b))", "u=[0.3,-0.2,0.5]", "W=[[0.1,0.2],[-0.3,0.4],[0.5,-0.6]]", "x=[1,2]",
     "b=[0,0.1,-0.1]"],
])
def test_no_nodes_json_is_the_document_without_nodes(argv):
    full = run_cli(["eval", *argv, "--json"])
    bare = run_cli(["eval", *argv, "--json", "--no-nodes"])
    assert full.exit_code == bare.exit_code == 0
    assert full.stderr == bare.stderr == ""
    whole, lean = strict_json(full.stdout), strict_json(bare.stdout)
    assert whole["nodes"] and lean["nodes"] == []
    whole["nodes"] = []
    assert whole == lean
