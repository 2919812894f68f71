"""Automatic names never look like the user's (issue 22): an automatic ``b`` beside ``b1``
and ``b2`` reads as a bias, and ``db = dz2`` as its gradient."""

from __future__ import annotations

import re

import pytest

from gradcli.language.lower import lower
from gradcli.language.parser import parse
from test_samples import FILES

_FAMILY = re.compile(r"([A-Za-z])[0-9_]")


def _auto_and_user_names(source: str) -> tuple[set[str], set[str]]:
    graph = lower(parse(source))
    user = set(graph.names)  # the inputs and the steps the program names
    auto = {n.name for n in graph.nodes if n.name is not None and n.op != "const"} - user
    return auto, user


def _clashes(auto: set[str], user: set[str]) -> list[tuple[str, str]]:
    family = {m.group(1).lower(): name for name in user if (m := _FAMILY.match(name))}
    return [(a, family[a[0].lower()]) for a in auto if len(a) == 1 and a.lower() in family]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_sample_gets_an_automatic_name_from_a_family_of_user_names(path):
    auto, user = _auto_and_user_names(path.read_text(encoding="utf-8"))
    assert not _clashes(auto, user)


@pytest.mark.parametrize("source", [
    "z2 = W2 @ h + b2; L = sum(z2^2) + sum(b1)",
    "L = (w_1*x + b_out)^2",
    "a1 = w11*x1 + b1; L = a1^2 + 1/2*(a1 - 1)^2",
])
def test_family_letters_are_skipped(source):
    auto, user = _auto_and_user_names(source)
    assert auto, "the program should have unnamed steps"
    assert not _clashes(auto, user), (auto, user)
