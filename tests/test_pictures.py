"""Graph pictures (gradcli.teach.pictures): edge partials, text, DOT, Mermaid, SVG, PNG."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
import unicodedata

import pytest

from gradcli.teach import pictures
from gradcli.run.bindings import parse_argument
from gradcli.core.errors import UsageError
from gradcli.run.evaluate import prepare, run
from gradcli.teach.pictures import Edge, edge_partials, render

LECTURE = "(a+b)*(b+1)"
MAX_EXAMPLE = "(x+y)*max(y,z)"
TENSOR = "s = dot(u, sigmoid(W@x + b))"
TENSOR_BINDINGS = ("u=[0.3,-0.2,0.5]", "W=[[0.1,0.2],[-0.3,0.4],[0.5,-0.6]]", "x=[1,2]", "b=[0,0.1,-0.1]")
HAVE_DOT = shutil.which("dot") is not None


def evaluate(source: str, *bindings: str):
    bound = {b.name: b for b in map(parse_argument, bindings)}
    return run(prepare(source, bound))


@pytest.fixture(scope="module")
def lecture():
    return evaluate(LECTURE, "a=3", "b=2")


@pytest.fixture(scope="module")
def tensor():
    return evaluate(TENSOR, *TENSOR_BINDINGS)


def nfc(text: str) -> str:
    """Adjoint bars may be precomposed (ē) or combining (c̄): compare in one form."""
    return unicodedata.normalize("NFC", text)


def picture(ev, fmt: str) -> str:
    return nfc(render(ev, fmt))


def by_pair(ev) -> dict[tuple[str, str], Edge]:
    return {(e.source_label, e.target_label): e for e in edge_partials(ev)}


def line_of(text: str, needle: str) -> str:
    found = [line for line in text.splitlines() if needle in line]
    assert len(found) == 1, (needle, found)
    return found[0]


# ---- edge partials --------------------------------------------------------------------
def test_lecture_edges(lecture):
    edges = edge_partials(lecture)
    got = [(e.source_label, e.target_label, e.symbolic, e.value, e.kind) for e in edges]
    assert got == [
        ("a", "c", "1", 1.0, "scalar"),
        ("b", "c", "1", 1.0, "scalar"),
        ("b", "d", "1", 1.0, "scalar"),
        ("c", "e", "d", 3.0, "scalar"),
        ("d", "e", "c", 5.0, "scalar"),
    ]
    g = lecture.graph
    for e in edges:
        assert g.label(e.source) == e.source_label and g.label(e.target) == e.target_label
        assert e.source in g.nodes[e.target].args
    assert by_pair(lecture)[("c", "e")].label() == "∂e/∂c = d = 3"
    assert by_pair(lecture)[("a", "c")].label() == "∂c/∂a = 1"


def test_max_edges():
    ev = evaluate(MAX_EXAMPLE, "x=1", "y=2", "z=0")
    edges = by_pair(ev)
    m = ev.graph.nodes[ev.graph.output].args[1]  # the max node
    assert ev.graph.definition(m) == "max(y, z)"
    m = ev.graph.label(m)
    # the rule, as diff writes it (not its value at the point), and the value
    assert (edges[("y", m)].symbolic, edges[("y", m)].value) == ("(y > z) + 0.5*(y == z)", 1.0)
    assert (edges[("z", m)].symbolic, edges[("z", m)].value) == ("(z > y) + 0.5*(z == y)", 0.0)
    assert ev.gradient == {"x": 2.0, "y": 5.0, "z": 0.0}


def test_max_tie_splits_the_partial():
    ev = evaluate("max(y, z)", "y=2", "z=2")
    assert sorted((e.source_label, e.value) for e in edge_partials(ev)) == [("y", 0.5), ("z", 0.5)]


@pytest.mark.parametrize(
    "source, text, value",
    [
        ("sin(a)", "cos(a)", math.cos(0.5)),
        ("cos(a)", "-sin(a)", -math.sin(0.5)),
        ("exp(a)", "exp(a)", math.exp(0.5)),
        ("log(a)", "1/a", 2.0),
        ("sigmoid(a)", "b*(1 - b)", (1 / (1 + math.exp(-0.5))) * (1 - 1 / (1 + math.exp(-0.5)))),
        ("tanh(a)", "1 - b^2", 1 - math.tanh(0.5) ** 2),
        ("a*a", "2*a", 1.0),
        ("a^3", "3*a^2", 0.75),
        ("-a", "-1", -1.0),
        ("2 - a", "-1", -1.0),
        ("a/2", "0.5", 0.5),
        ("sqrt(a)", "0.5/b", 0.5 / math.sqrt(0.5)),
        ("relu(a)", "(a > 0)", 1.0),  # in the language's spelling: there is no step()
        ("pi*a", "pi", math.pi),
        ("atan(a)", "1/(1 + a^2)", 0.8),
    ],
)
def test_symbolic_and_numeric_partials(source, text, value):
    ev = evaluate(source, "a=0.5")
    (edge,) = [e for e in edge_partials(ev) if e.source_label == "a"]
    assert edge.symbolic == text
    assert edge.value == pytest.approx(value, rel=1e-12)


def test_two_argument_partials_in_labels():
    ev = evaluate("q = x / y", "x=3", "y=2")
    edges = by_pair(ev)
    assert edges[("x", "q")].label() == "∂q/∂x = 1/y = 0.5"
    assert edges[("y", "q")].label() == "∂q/∂y = -q/y = -0.75"
    ev = evaluate("p = x ^ y", "x=3", "y=2")
    edges = by_pair(ev)
    assert edges[("x", "p")].symbolic == "y*x^(y - 1)"
    assert edges[("y", "p")].symbolic == "p*log(x)"
    assert edges[("y", "p")].value == pytest.approx(9 * math.log(3))


def test_edges_obey_the_chain_rule():
    """adjoint[arg] = Σ over the arg's outgoing edges of adjoint[target] · ∂target/∂arg."""
    ev = evaluate("u = x*y + sin(x) - y/x; v = exp(u) * tanh(x - y); w = u*v + max(x, y, 1)", "x=0.7", "y=-1.3")
    total = [0.0] * len(ev.graph)
    for e in edge_partials(ev):
        assert e.value is not None
        total[e.source] += ev.adjoints[e.target] * e.value
    for node in ev.graph.nodes:
        if node.id != ev.graph.output and ev.tape.live[node.id]:
            assert total[node.id] == pytest.approx(ev.adjoints[node.id], rel=1e-12, abs=1e-15)


def test_infinite_partial_is_reported_not_raised():
    ev = evaluate("sqrt(x)", "x=0")
    (edge,) = edge_partials(ev)
    assert edge.value == math.inf
    assert "= inf" in picture(ev, "text")


def test_tensor_edges_carry_their_rules(tensor):
    edges = by_pair(tensor)
    assert len(edges) == 7
    for pair in [("W", "a"), ("x", "a"), ("u", "s"), ("d", "s")]:
        assert edges[pair].kind == "structural" and edges[pair].value is None
    assert edges[("W", "a")].label() == "W̄ += ā xᵀ  (3×1 · 1×2 → 3×2)"
    assert edges[("x", "a")].label() == "x̄ += Wᵀ ā  (2×3 · 3×1 → 2)"
    assert edges[("u", "s")].label() == "ū += s̄ · d  (scalar · 3 → 3)"
    assert (edges[("W", "a")].symbolic, edges[("x", "a")].symbolic) == ("I ⊗ xᵀ", "W")
    sig = edges[("c", "d")]
    assert (sig.kind, sig.value, sig.symbolic) == ("elementwise", None, "diag(σ'(c))")
    assert sig.label() == "c̄ += d̄ ∘ σ'(c)  (3 ∘ 3 → 3)"
    assert sig.tensor.note == "σ'(c) = d ∘ (1 - d)"


# ---- text -------------------------------------------------------------------------------
def test_lecture_text(lecture):
    text = picture(lecture, "text")
    assert isinstance(text, str)
    for node in ["c = a + b = 5", "d = b + 1 = 3", "e = c * d = 15"]:
        assert node in text
    for adjoint in ["ē = 1", "c̄ = 3", "d̄ = 5", "ā = 3", "b̄ = 8"]:
        assert adjoint in text
    for edge in ["∂e/∂c = d = 3", "∂e/∂d = c = 5", "∂c/∂a = 1", "∂c/∂b = 1", "∂d/∂b = 1"]:
        assert edge in text
    # b is drawn once, with two outgoing edges
    b_line = line_of(text, "b = 2")
    assert b_line.split()[0] == "input" and b_line.rstrip().endswith("→ c, d")
    assert len(re.findall(r"← b\s+∂", text)) == 2
    assert line_of(text, "a = 3").split()[0] == "input"
    assert line_of(text, "e = c * d = 15").split()[0] == "output"
    assert line_of(text, "c = a + b").split()[0] == "c"  # no tag on inner nodes
    # incoming edges are listed beneath their node
    lines = text.splitlines()
    e_at = lines.index(line_of(text, "e = c * d = 15"))
    assert "← c" in lines[e_at + 1] and "∂e/∂c = d = 3" in lines[e_at + 1]
    assert "← d" in lines[e_at + 2] and "∂e/∂d = c = 5" in lines[e_at + 2]
    assert re.search(r"← 1\s+constant", text)


def test_max_text():
    text = picture(evaluate(MAX_EXAMPLE, "x=1", "y=2", "z=0"), "text")
    assert "b = max(y, z) = 2" in text
    assert re.search(r"← y\s+∂b/∂y = \(y > z\) \+ 0\.5\*\(y == z\) = 1$", text, re.M)
    assert re.search(r"← z\s+∂b/∂z = \(z > y\) \+ 0\.5\*\(z == y\) = 0$", text, re.M)
    assert "∂c/∂b = a = 3" in text and "ȳ = 5" in text


def test_tensor_text(tensor):
    text = picture(tensor, "text")
    assert "W̄ += ā xᵀ  (3×1 · 1×2 → 3×2)" in text and "x̄ += Wᵀ ā  (2×3 · 3×1 → 2)" in text
    assert "a = W @ x = [0.5, 0.5, -0.7]  (shape 3)" in text
    assert "(shape 3×2)" in text
    assert line_of(text, "s = dot(u, d)").split()[0] == "output"


def test_non_scalar_output_without_seed():
    ev = evaluate("softmax(z)", "z=[1,2]")
    text = picture(ev, "text")
    assert "no adjoints" in text and "z̄ += a ∘ (ā − ⟨ā, a⟩)  (2 ∘ 2 → 2)" in text
    assert "digraph" in picture(ev, "dot")


def test_output_that_is_an_input():
    text = picture(evaluate("x", "x=4"), "text")
    assert re.search(r"input output\s+x = 4\s+x̄ = 1", text)


# ---- DOT ---------------------------------------------------------------------------------
def test_lecture_dot(lecture):
    dot = picture(lecture, "dot")
    assert dot.startswith("digraph gradcli {") and dot.rstrip().endswith("}")
    assert "rankdir=LR" in dot
    edges = re.findall(r"^\s*n(\d+) -> n(\d+) \[(.*)\];$", dot, re.M)
    assert len(edges) == dot.count("->") == 6  # 5 derivative edges and the constant's
    labelled = {(int(s), int(t)): attrs for s, t, attrs in edges if "label=" in attrs}
    assert labelled[(2, 5)] == 'label="∂e/∂c = d = 3"'
    assert labelled[(4, 5)] == 'label="∂e/∂d = c = 5"'
    assert labelled[(0, 2)] == 'label="∂c/∂a = 1"'
    assert labelled[(1, 4)] == 'label="∂d/∂b = 1"'
    assert [s for s, t, _ in edges].count("1") == 2  # b: two outgoing edges
    nodes = dict(re.findall(r"^\s*n(\d+) \[label=(\"(?:[^\"\\]|\\.)*\")", dot, re.M))
    assert len(nodes) == 6  # each node once
    assert nodes["1"] == '"b (input)\\nvalue 2\\nb̄ = 8"'
    assert nodes["2"] == '"c = a + b\\nvalue 5\\nc̄ = 3"'
    assert nodes["5"] == '"e = c * d (output)\\nvalue 15\\nē = 1"'
    assert "peripheries=2" in line_of(dot, "  n5 [label") and "#dbeafe" in line_of(dot, "  n0 [label")
    assert "dashed" in line_of(dot, "  n3 [label")


def test_dot_quoting():
    assert pictures._dot_quote('say "hi"\\now\nnext') == '"say \\"hi\\"\\\\now\\nnext"'


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz (dot) is not installed")
def test_dot_is_accepted_by_graphviz(lecture, tensor):
    for ev in (lecture, tensor):
        done = subprocess.run(["dot", "-Tcanon"], input=picture(ev, "dot").encode(), capture_output=True)
        assert done.returncode == 0, done.stderr


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz (dot) is not installed")
def test_svg_and_png(lecture, tensor):
    svg = picture(lecture, "svg")
    assert isinstance(svg, str) and "<svg" in svg
    for label in ["c = a + b", "∂e/∂c = d = 3", "∂e/∂d = c = 5", "c̄ = 3", "b̄ = 8", "value 15"]:
        assert label in svg
    png = render(lecture, "png")
    assert isinstance(png, bytes) and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert "W̄ += ā xᵀ" in picture(tensor, "svg")


def test_images_need_graphviz(lecture, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    for fmt in ("svg", "png"):
        with pytest.raises(UsageError) as err:
            render(lecture, fmt)
        assert "apt-get install graphviz" in err.value.message
        assert "brew install graphviz" in err.value.message and "--format dot" in err.value.message


def test_unknown_format(lecture):
    with pytest.raises(UsageError, match="unknown picture format"):
        render(lecture, "jpeg")


# ---- Mermaid -----------------------------------------------------------------------------
def test_lecture_mermaid(lecture):
    mer = picture(lecture, "mermaid")
    lines = mer.splitlines()
    assert lines[0] == "flowchart LR"
    for edge in ['n2 -->|"∂e/∂c = d = 3"| n5', 'n4 -->|"∂e/∂d = c = 5"| n5', 'n0 -->|"∂c/∂a = 1"| n2',
                 'n1 -->|"∂c/∂b = 1"| n2', 'n1 -->|"∂d/∂b = 1"| n4', "n3 -.-> n4"]:
        assert f"  {edge}" in lines
    assert '  n1(["b (input)<br/>value 2<br/>b̄ = 8"])' in lines
    assert '  n5[["e = c * d (output)<br/>value 15<br/>ē = 1"]]' in lines
    assert "  class n0,n1 input" in lines and "  class n5 output" in lines
    assert sum(1 for line in lines if re.match(r"\s*n1[\[(]", line)) == 1


def test_mermaid_escapes_and_tensor(tensor):
    assert pictures._mermaid_text('a "b" <c> #d') == "a #quot;b#quot; #lt;c#gt; #35;d"
    mer = picture(tensor, "mermaid")
    assert 'n1 -.->|"W̄ += ā xᵀ  (3×1 · 1×2 → 3×2)"| n3' in mer
    assert 'n5 -->|"c̄ += d̄ ∘ σ\'(c)  (3 ∘ 3 → 3)"| n6' in mer


# ---- scale and imports -----------------------------------------------------------------------
@pytest.mark.slow
def test_large_graphs_need_no_recursion():
    deep = "sin(" * 3000 + "x" + ")" * 3000
    ev = evaluate(deep, "x=0.1")
    assert len(ev.graph) == 3001
    for fmt in ("text", "dot", "mermaid"):
        drawn = render(ev, fmt)
        assert "3001 nodes" in drawn  # the note on large pictures
    assert picture(ev, "dot").count("->") == 3000
    wide = evaluate("+".join(f"x*{k}" for k in range(1, 301)), "x=2")
    text = picture(wide, "text")
    assert "more)" in line_of(text, "input   x = 2")  # the fan-out of x is cut short


def test_import_is_light():
    code = ("import sys, gradcli.teach.pictures; "
            "print(sorted(m for m in ('numpy', 'sympy', 'rich', 'click') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
