"""The library's misuse calls raise the documented `GradcliError` subclasses, never a bare
TypeError, ValueError or AttributeError from inside gradcli (issue 22)."""

from __future__ import annotations

import pytest

import gradcli
from gradcli.core.errors import UsageError

MISUSE = {
    "bindings not a mapping": lambda: gradcli.evaluate("x", 5),
    "a binding name not a string": lambda: gradcli.evaluate("x", {1: 2}),
    "wrt a number": lambda: gradcli.evaluate("x", x=1, wrt=3),
    "wrt a list of numbers": lambda: gradcli.evaluate("x", x=1, wrt=[1]),
    "seed a number": lambda: gradcli.evaluate("x", x=1, mode="forward", seed=3),
    "check rtol a string": lambda: gradcli.evaluate("x", x=1).check("fd", rtol="a"),
    "check rtol negative": lambda: gradcli.evaluate("x", x=1).check("fd", rtol=-1),
    "check timeout a string": lambda: gradcli.evaluate("x", x=1).check("sympy", sympy_timeout="a"),
    "svg digits a string": lambda: gradcli.evaluate("x", x=1).svg(digits="a"),
    "stepper digits negative": lambda: gradcli.evaluate("x", x=1).stepper(digits=-1),
    "matrix entry unknown": lambda: gradcli.jacobian("[x, 2*x]", x=1)["zz", "x"],
    "matrix entry by an int": lambda: gradcli.jacobian("[x, 2*x]", x=1)[0],
    "judge expect a list": lambda: gradcli.judge("x", x=1, expect=[1]),
    "judge formula not text": lambda: gradcli.judge("x", x=1, expect_formula={"x": 1}),
    "judge formulas a list": lambda: gradcli.judge("x", x=1, expect_formula=["x"]),
    "judge rtol a string": lambda: gradcli.judge("x", x=1, expect={"x": 1}, rtol="a"),
    "judge timeout a string": lambda: gradcli.judge("x", x=1, expect_formula={"x": "1"}, sympy_timeout="a"),
    "judge timeout negative": lambda: gradcli.judge("x", x=1, expect_formula={"x": "1"}, sympy_timeout=-1),
    # regression (the input/output hunt): these were float()'s bare ValueError or TypeError
    "descend lr a string": lambda: gradcli.descend("(x-3)^2", x=0, lr="x"),
    "descend momentum None": lambda: gradcli.descend("(x-3)^2", x=0, momentum=None),
    "descend tol a list": lambda: gradcli.descend("(x-3)^2", x=0, tol=[0]),
    "descend examples a string column": lambda: gradcli.descend("(w-y)^2", w=0, examples={"y": "12"}),
    "descend examples a word": lambda: gradcli.descend("(w-y)^2", w=0, examples={"y": [1, "x"]}),
    "descend examples nested": lambda: gradcli.descend("(w-y)^2", w=0, examples={"y": [[1], [2]]}),
}


@pytest.mark.parametrize("call", MISUSE.values(), ids=list(MISUSE))
def test_misuse_raises_a_usage_error(call):
    with pytest.raises(UsageError) as info:
        call()
    assert info.value.message
    assert "\n" not in info.value.message


def test_descend_takes_numbers_of_any_real_type():
    import numpy as np

    run = gradcli.descend("(w-y)^2", w=0, lr=np.float32(0.25), updates=2, examples={"y": np.array([2.0, 4.0])})
    assert run.final["w"] == pytest.approx(2.25)


def test_matrix_entries_by_label_still_work():
    j = gradcli.jacobian("[x, 2*x]", x=1)
    assert j[j.rows[1], "x"] == 2.0
