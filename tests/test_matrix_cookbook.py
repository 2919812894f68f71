"""Identities of the Matrix Cookbook (Petersen & Pedersen, 2012), through gradcli.

Each identity is a gradcli program and its derivative's closed form, written here in
NumPy from the Cookbook's formula (section and equation numbers of the 2012 edition
are given where the Cookbook states the identity).  gradcli's gradient must equal the
closed form at several random, well-conditioned points (square matrices are
3I + noise, so inverses and log-determinants are tame).  gradcli's convention is the
Cookbook's: ∂f/∂X has X's shape, entry (i, j) being ∂f/∂X_ij.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_tensors import evaluate

inv = np.linalg.inv
det = np.linalg.det
N = 3
SEEDS = range(5)


def _point(seed: int) -> dict:
    rng = np.random.default_rng(1000 + seed)

    def square():
        return 3.0 * np.eye(N) + rng.uniform(-0.7, 0.7, (N, N))

    S = rng.uniform(-0.5, 0.5, (N, N))
    return {
        "X": square(), "A": square(), "B": square(), "D": rng.uniform(-1, 1, (N, N)),
        "a": rng.uniform(-1, 1, N), "b": rng.uniform(-1, 1, N), "c": rng.uniform(-1, 1, N),
        "x": rng.uniform(-1, 1, N), "mu": rng.uniform(-1, 1, N),
        "S": S @ S.T + 2.0 * np.eye(N),  # a covariance: symmetric positive definite
    }


# (id, program, the input differentiated, closed form of the derivative, inputs used)
IDENTITIES = [
    # 2.5 derivatives of traces
    ("tr(AX) -> A^T (eq. 100)", "trace(A @ X)", "X", lambda p: p["A"].T, "AX"),
    ("tr(X^T A) -> A (eq. 101)", "trace(X.T @ A)", "X", lambda p: p["A"], "XA"),
    ("tr(AXB) -> A^T B^T (eq. 102)", "trace(A @ X @ B)", "X", lambda p: p["A"].T @ p["B"].T, "AXB"),
    ("tr(X^T A X) -> (A + A^T) X (eq. 107)", "trace(X.T @ A @ X)", "X", lambda p: (p["A"] + p["A"].T) @ p["X"],
     "XA"),
    ("tr(X^2) -> 2 X^T (eq. 105)", "trace(X @ X)", "X", lambda p: 2 * p["X"].T, "X"),
    ("tr(X X^T) -> 2X (eq. 103)", "trace(X @ X.T)", "X", lambda p: 2 * p["X"], "X"),
    ("tr(A X^-1 B) -> -(X^-1 B A X^-1)^T (eq. 124)", "trace(A @ inv(X) @ B)", "X",
     lambda p: -(inv(p["X"]) @ p["B"] @ p["A"] @ inv(p["X"])).T, "AXB"),
    ("tr(X^-1) -> -(X^-2)^T", "trace(inv(X))", "X", lambda p: -(inv(p["X"]) @ inv(p["X"])).T, "X"),
    ("||X||_F^2 -> 2X (eq. 113)", "norm(X)^2", "X", lambda p: 2 * p["X"], "X"),
    # 2.1.1 determinants
    ("det X -> det(X) X^-T (eq. 49)", "det(X)", "X", lambda p: det(p["X"]) * inv(p["X"]).T, "X"),
    ("det(AXB) -> det(AXB) X^-T (eq. 51)", "det(A @ X @ B)", "X",
     lambda p: det(p["A"] @ p["X"] @ p["B"]) * inv(p["X"]).T, "AXB"),
    ("log det X -> X^-T (eq. 57)", "logdet(X)", "X", lambda p: inv(p["X"]).T, "X"),
    ("log det(X^T X) -> 2 X^-T (eq. 55)", "logdet(X.T @ X)", "X", lambda p: 2 * inv(p["X"]).T, "X"),
    # 2.2 inverses
    ("a^T X^-1 b -> -X^-T a b^T X^-T (eq. 61)", "a @ inv(X) @ b", "X",
     lambda p: -inv(p["X"]).T @ np.outer(p["a"], p["b"]) @ inv(p["X"]).T, "aXb"),
    ("a^T solve(X, b) -> -X^-T a b^T X^-T (eq. 61, by solve)", "a @ solve(X, b)", "X",
     lambda p: -inv(p["X"]).T @ np.outer(p["a"], p["b"]) @ inv(p["X"]).T, "aXb"),
    ("a^T solve(X, b) -> X^-T a (in b)", "a @ solve(X, b)", "b", lambda p: inv(p["X"]).T @ p["a"], "aXb"),
    # 2.4 first-order and 2.4.2 second-order
    ("a^T x -> a (eq. 69)", "dot(a, x)", "x", lambda p: p["a"], "ax"),
    ("a^T X b -> a b^T (eq. 70)", "a @ X @ b", "X", lambda p: np.outer(p["a"], p["b"]), "aXb"),
    ("a^T X^T b -> b a^T (eq. 71)", "a @ X.T @ b", "X", lambda p: np.outer(p["b"], p["a"]), "aXb"),
    ("x^T x = ||x||^2 -> 2x (eq. 131)", "dot(x, x)", "x", lambda p: 2 * p["x"], "x"),
    ("x^T A x -> (A + A^T) x (eq. 81)", "x @ A @ x", "x", lambda p: (p["A"] + p["A"].T) @ p["x"], "xA"),
    ("b^T X^T D X c -> D^T X b c^T + D X c b^T (eq. 82)", "b @ X.T @ D @ X @ c", "X",
     lambda p: p["D"].T @ p["X"] @ np.outer(p["b"], p["c"]) + p["D"] @ p["X"] @ np.outer(p["c"], p["b"]), "bXDc"),
    ("(Xb + c)^T D (Xb + c) -> (D + D^T)(Xb + c) b^T (eq. 83)", "(X @ b + c) @ D @ (X @ b + c)", "X",
     lambda p: (p["D"] + p["D"].T) @ np.outer(p["X"] @ p["b"] + p["c"], p["b"]), "XbcD"),
    ("||Ax - b||^2 -> 2 A^T (Ax - b) (eq. 84 family)", "sum((A @ x - b)^2)", "x",
     lambda p: 2 * p["A"].T @ (p["A"] @ p["x"] - p["b"]), "Axb"),
    ("tr(diag(x) A) -> diag(A)", "trace(diag(x) @ A)", "x", lambda p: np.diag(p["A"]), "xA"),
]

# 8.1 the Gaussian: l = -1/2 log det S - 1/2 (x - mu)^T S^-1 (x - mu) - n/2 log 2 pi
GAUSSIAN = "d = x - mu; l = -0.5 * logdet(S) - 0.5 * d @ solve(S, d) - 1.5 * log(2 * pi)"


def _gaussian_sigma(p):
    Si = inv(p["S"])
    d = p["x"] - p["mu"]
    return -0.5 * Si.T + 0.5 * Si.T @ np.outer(d, d) @ Si.T


IDENTITIES += [
    ("Gaussian log-likelihood in mu: S^-1 (x - mu) (8.1)", GAUSSIAN, "mu",
     lambda p: inv(p["S"]) @ (p["x"] - p["mu"]), "xmuS"),
    ("Gaussian log-likelihood in x: -S^-1 (x - mu) (8.1)", GAUSSIAN, "x",
     lambda p: -inv(p["S"]) @ (p["x"] - p["mu"]), "xmuS"),
    ("Gaussian log-likelihood in S: -1/2 (S^-T - S^-T d d^T S^-T) (eqs. 57, 61)", GAUSSIAN, "S", _gaussian_sigma,
     "xmuS"),
]


def _used(p: dict, letters: str) -> dict:
    names = ["mu"] if "mu" in letters else []
    names += [ch for ch in letters.replace("mu", "")]
    return {name: p[name] for name in names}


def test_there_are_at_least_15_identities():
    assert len(IDENTITIES) >= 15
    assert len({i[0] for i in IDENTITIES}) == len(IDENTITIES)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("identity", IDENTITIES, ids=[i[0] for i in IDENTITIES])
def test_identity(identity, seed):
    _, program, wrt, closed_form, letters = identity
    p = _point(seed)
    ev = evaluate(program, **_used(p, letters))
    want = closed_form(p)
    got = ev.gradient[wrt]
    assert np.shape(got) == np.shape(want) == np.shape(p[wrt])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


def test_the_gaussian_value_is_the_density():
    p = _point(0)
    ev = evaluate(GAUSSIAN, x=p["x"], mu=p["mu"], S=p["S"])
    d = p["x"] - p["mu"]
    density = np.exp(-0.5 * d @ inv(p["S"]) @ d) / np.sqrt((2 * np.pi) ** N * det(p["S"]))
    assert ev.value == pytest.approx(np.log(density), rel=1e-12)
