"""The prelude: common losses written in gradcli's own language, as ``def`` lines.

Every program may call these functions; only the ones a program calls are parsed and
inlined, and a program's own ``def`` of the same name replaces the prelude's.  Their
names are not reserved: a step or input called ``l2`` is fine (calling ``l2(...)``
then is an error that names both meanings).  `PRELUDE` is the source text (each
definition preceded by a ``#`` line saying what it computes), for ``gradcli
functions``; `definitions` gives it as data.
"""

from __future__ import annotations

from typing import NamedTuple

PRELUDE = """\
# mean squared error over all elements (PyTorch's MSELoss): mean((yhat - y)^2)
def mse(yhat, y) = mean((yhat - y)^2)
# binary cross-entropy of probabilities p against targets y in [0, 1], averaged over elements
def bce(p, y) = -mean(y*log(p) + (1 - y)*log(1 - p))
# softmax of the scores z, then the negative log-likelihood of class k (an integer, counting from 0)
def cross_entropy(z, k) = -log_softmax(z)[k]
# the squared L2 norm (weight decay): the sum of the squares of every element of w
def l2(w) = sum(w^2)
# training-mode batch normalisation of x (N, D) over the batch (axis 0), population variance; eps defaults to 1e-5
def batchnorm(x, gamma, beta, eps) = gamma * (x - mean(x, 0)) / sqrt(var(x, 0) + eps) + beta
# layer normalisation of each row of x over its last axis (population variance); eps defaults to 1e-5
def layernorm(x, gamma, beta, eps) = gamma * ((x.T - mean(x.T, 0)) / sqrt(var(x.T, 0) + eps)).T + beta
# multiclass SVM loss of scores S (N, C), labels y (N,): mean over rows of the sum over j != y of max(0, S[i,j] - S[i,y] + 1)
def svm_loss(S, y) = mean(sum(relu(S.T - pick(S, y) + 1), 0)) - 1
# softmax loss of scores S (N, C), labels y (N,): mean over rows of -log softmax(S[i])[y[i]]
def softmax_loss(S, y) = -mean(pick(log_softmax(S), y))
"""

#: a prelude function's optional last parameter: its default (source text)
DEFAULTS = {"batchnorm": "1e-5", "layernorm": "1e-5"}


class PreludeFunction(NamedTuple):
    """One prelude definition: ``def name(params) = body``, and what it computes."""

    name: str
    params: tuple[str, ...]
    body: str
    doc: str
    line: str


def definitions() -> list[PreludeFunction]:
    """The prelude's functions in order, read from `PRELUDE` (its own text, no parser needed)."""
    out = []
    doc = ""
    for line in PRELUDE.splitlines():
        if line.startswith("#"):
            doc = line[1:].strip()
            continue
        head, _, body = line[len("def ") :].partition(" = ")
        name, _, params = head.partition("(")
        names = tuple(p.strip() for p in params.rstrip(")").split(",") if p.strip())
        out.append(PreludeFunction(name, names, body, doc, line))
    return out


#: the names the prelude defines
NAMES = frozenset(f.name for f in definitions())
