"""Formulas as the lecture writes them: Unicode text (``W̄ += v̄ xᵀ``) and LaTeX."""

from __future__ import annotations

from typing import Callable

from .tree import ATOM, PROD, SUM, UNARY, Node

_SUBSCRIPT = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")


class Render:
    """Renders a formula as Unicode text or LaTeX; `names` maps leaf keys (and a few
    fixed words: ``axes``, ``k``, ``select``) to labels."""

    def __init__(self, names: dict, latex: bool) -> None:
        self.names, self.latex = names, latex

    def show(self, e: Node) -> str:
        rule = _TEXT.get(e.kind)
        if rule is None:
            raise ValueError(f"no text for rule node {e.kind}")
        return rule(self, e, *e.args)

    def wrap(self, e: Node, below: int) -> str:
        t = self.show(e)
        return (r"\left(" + t + r"\right)" if self.latex else f"({t})") if e.prec < below else t

    def pick(self, text: str, tex: str) -> str:
        return tex if self.latex else text

    def fn(self, name: str, *args: Node) -> str:
        head = rf"\operatorname{{{name}}}" if self.latex else name
        return head + "(" + ", ".join(self.show(a) for a in args) + ")"

    def infix(self, a: Node, b: Node, text: str, tex: str, level: int) -> str:
        return self.wrap(a, level) + self.pick(text, tex) + self.wrap(b, level + 1)


def _rsum_text(r: Render, e: Node, a: Node) -> str:  # Σ ẋ, Σ₀ ẋ: over all elements or along one axis
    axis = "" if e.data is None else str(e.data)
    if r.latex:
        return (rf"\textstyle\sum_{{{axis}}} " if axis else r"\textstyle\sum ") + r.wrap(a, UNARY)
    return f"Σ{axis.translate(_SUBSCRIPT)} " + r.wrap(a, UNARY)


def _call_text(r: Render, e: Node, *a: Node) -> str:  # tr(Ẋ), hstack(ȧ, ḃ), cumsum(ẋ, 0)
    extra: str = e.data[1]  # type: ignore[index]
    numbers = extra.replace(",", " ").replace("-", " ").split()
    if r.latex and extra and not all(n.isdigit() for n in numbers):  # full_corr(ȳ, flip(w), \text{stride 2, pad 1})
        extra = rf"\text{{{extra}}}"
    inside = ", ".join([r.show(x) for x in a] + ([extra] if extra else []))
    tex_key = e.key.replace("_", "\\_")
    return r.pick(e.key, rf"\operatorname{{{tex_key}}}") + f"({inside})"


def _sumto_text(r: Render, e: Node, a: Node) -> str:
    axes = r.names.get("axes", "")
    return r.pick(f"Σ{axes} ", rf"\textstyle\sum_{{{axes}}} ") + r.wrap(a, UNARY)


def _others_text(r: Render, e: Node, a: Node) -> str:  # ∏ⱼ≠ᵢ xⱼ
    x = r.show(a)
    return rf"\textstyle\prod_{{j \ne i}} {{{x}}}_j" if r.latex else f"∏ⱼ≠ᵢ {x}ⱼ"


def _rcumsum_text(r: Render, e: Node, a: Node) -> str:
    inside = r.show(a)
    if r.latex:
        return rf"\operatorname{{flip}}(\operatorname{{cumsum}}(\operatorname{{flip}}({inside})))"
    return f"flip(cumsum(flip({inside})))"


def _reshape_text(r: Render, e: Node, a: Node) -> str:
    shape = e.key.replace("×", r"\times ") if r.latex else e.key
    return r.pick("reshape", r"\operatorname{reshape}") + f"({r.show(a)}, {shape})"


def _inverse_text(r: Render, e: Node, a: Node) -> str:
    sup = {("inv", False): "⁻¹", ("invT", False): "⁻ᵀ", ("inv", True): "^{-1}", ("invT", True): r"^{-\top}"}
    return r.wrap(a, ATOM) + sup[e.kind, r.latex]


def _list_text(r: Render, e: Node, *a: Node) -> str:  # [ȧ, ḃ, ċ]
    inside = ", ".join(r.show(x) for x in a)
    return rf"\left[{inside}\right]" if r.latex else f"[{inside}]"


def _transposed(r: Render, e: Node, a: Node) -> str:
    return r.wrap(a, ATOM) + r.pick("ᵀ", r"^\top")


_TEXT: dict[str, Callable[..., str]] = {
    "leaf": lambda r, e: r.names[e.key],
    "T": _transposed,
    "row": _transposed,
    "mm": lambda r, e, a, b: r.infix(a, b, " ", r"\,", PROD),
    "had": lambda r, e, a, b: r.infix(a, b, " ∘ ", r" \circ ", PROD),
    "scale": lambda r, e, a, b: r.infix(a, b, " · ", r" \cdot ", PROD),
    "kron": lambda r, e, a, b: r.infix(a, b, " ⊗ ", r" \otimes ", PROD),
    "div": lambda r, e, a, b: r.infix(a, b, " / ", " / ", PROD),
    "sub": lambda r, e, a, b: r.infix(a, b, " − ", " - ", SUM),
    "add": lambda r, e, a, b: r.infix(a, b, " + ", " + ", SUM),
    "neg": lambda r, e, a: r.pick("−", "-") + r.wrap(a, UNARY),
    "rsum": _rsum_text,
    "call": _call_text,
    "list": _list_text,
    "zero": lambda r, e: "0",
    "inner": lambda r, e, a, b: r.pick(f"⟨{r.show(a)}, {r.show(b)}⟩", rf"\langle {r.show(a)}, {r.show(b)} \rangle"),
    "total": lambda r, e, a: r.pick("Σ ", r"\textstyle\sum ") + r.wrap(a, UNARY),
    "sumto": _sumto_text,
    "func": lambda r, e, a: r.pick(e.key, rf"\{e.key}") + "(" + r.show(a) + ")",
    "diag": lambda r, e, a: r.fn("diag", a) if r.latex else f"diag({r.show(a)})",
    "diagof": lambda r, e, a: r.fn("diag", a) if r.latex else f"diag({r.show(a)})",
    "mean": lambda r, e, a: r.fn("mean", a) if r.latex else f"mean({r.show(a)})",
    "ones": lambda r, e: r.pick("𝟏", r"\mathbf{1}"),
    "eye": lambda r, e: "I",
    "eq": lambda r, e, a, b: f"[{r.show(a)} = {r.show(b)}]",
    "pick": lambda r, e, a: r.wrap(a, ATOM) + f"[{r.names['k']}]",
    "col": lambda r, e, a: r.show(a),
    "scatter": lambda r, e, a: r.show(a),
    "perm": lambda r, e: "P",
    "select": lambda r, e: r.names.get("select", r"I_{[\cdot]}" if r.latex else "I[·]"),  # the rows of I picked
    "inv": _inverse_text,
    "invT": _inverse_text,
    "part": lambda r, e, a: r.wrap(a, ATOM) + e.key,  # ȳ[:, 2:5]
    "embed": lambda r, e: e.key,
    "num": lambda r, e: e.key,
    "vec": lambda r, e, a: rf"\operatorname{{vec}}({r.show(a)})^\top" if r.latex else f"vec({r.show(a)})ᵀ",
    "others": _others_text,
    "rcumsum": _rcumsum_text,
    "reshape": _reshape_text,
}
