"""Automatic names read like the notes and never collide with, or look like, a user's names."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from clitools import examples, run_cli
from gradcli.core.graph import _look_alikes
from gradcli.language.lower import lower
from gradcli.language.parser import parse


def names(program: str, *bindings: str) -> dict[str, str]:
    """expr -> name of every computed node, from the JSON document."""
    result = run_cli(["eval", program, *bindings, "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    return {n["expr"]: n["name"] for n in doc["nodes"] if n["op"] not in ("input", "const")}


def test_the_lecture_letters_continue_after_the_inputs():
    assert names("(a+b)*(b+1)", "a=3", "b=2") == {"a + b": "c", "b + 1": "d", "c * d": "e"}


def test_a_named_output_does_not_move_the_letters():
    # the notes: f = (x+y)·max(y,z) with a = x + y, b = max(y, z)
    assert names("f = (x+y)*max(y,z)", "x=1", "y=2", "z=0") == {"x + y": "a", "max(y, z)": "b", "a * b": "f"}


def test_no_letter_beside_its_other_case_or_a_look_alike():
    got = names("s = sum(W@x + A@x)", "W=[[1,2],[3,4]]", "A=[[1,0],[0,1]]", "x=[1,2]")
    auto = set(got.values()) - {"s"}
    assert auto and not auto & {"a", "v", "w", "x", "y", "z", "s"}
    assert got["W @ x"] == "b"  # a is taken by A's look-alike, b is next


def test_the_layer_product_is_not_named_like_w():
    got = names("z = W@x + b; h = sigmoid(z); s = dot(u, h)",
                "W=[[0.1,0.2],[-0.3,0.4],[0.5,-0.6]]", "x=[1,2]", "b=[0,0.1,-0.1]", "u=[0.3,-0.2,0.5]")
    assert got["W @ x"] == "a"


def test_user_steps_are_never_reused():
    got = names("c = a*b; d = c + 1; e = d*(a - b)", "a=1", "b=2")
    assert got["a - b"] == "f"


def test_past_w_come_numbered_names():
    program = " + ".join(f"sin(p{k})" for k in range(30))
    bindings = [f"p{k}=0.{k}" for k in range(30)]
    got = names(program, *bindings)
    assert "t1" in got.values() and len(set(got.values())) == len(got)


def test_look_alikes():
    assert _look_alikes({"A"}) >= {"A", "a"}
    assert _look_alikes({"W"}) >= {"W", "w", "v"}
    assert _look_alikes({"v"}) >= {"v", "w"}
    assert "b" not in _look_alikes({"A", "W", "cell"})


_LETTER = st.sampled_from("abcdefghijkmnpqrsuvwABCDEFGHKMNPQRSUVWxyz")


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(_LETTER, min_size=1, max_size=6, unique=True), st.data())
def test_automatic_names_never_look_like_user_names(inputs, data):
    """Random programs over random input letters and a few named steps."""
    terms = [f"sin({n})" if k % 2 else f"({n}*{n} + 1)" for k, n in enumerate(inputs)]
    steps = []
    user = set(inputs)
    for k in range(data.draw(st.integers(0, 2))):
        name = data.draw(st.sampled_from("abcdefghkmnpqrsuvwFGHKMN").filter(lambda c: c not in user))
        user.add(name)
        steps.append(f"{name} = {terms[k % len(terms)]} * 2")
    program = "; ".join([*steps, " + ".join(terms) + (" + " + " + ".join(s.split(" = ")[0] for s in steps)
                                                      if steps else "")])
    graph = lower(parse(program))
    auto = {n.name for n in graph.nodes if n.op not in ("input", "const")} - user
    assert auto, program
    assert not auto & _look_alikes(user), program
    assert not auto & {"x", "y", "z"}
    labels = [n.name for n in graph.nodes if n.name is not None]
    assert len(labels) == len(set(labels)), program
