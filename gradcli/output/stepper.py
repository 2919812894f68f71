"""An interactive backprop page: one self-contained HTML file that steps through the
forward pass and then the reverse sweep, one node at a time.

`gradcli graph … --format html -o page.html` writes it; `Result.stepper()` shows it
in a notebook.  The page holds everything inline (no network, no CDN):

* the graph, drawn by Graphviz as SVG when it is installed (structure and the
  symbolic local derivatives only, so the numbers appear as they are computed);
* the node table, whose value and adjoint cells fill in step by step;
* the step's sentence (``c̄ += ē · ∂e/∂c = 1 · d = 1 · 3 = 3``), with running sums
  where a node feeds several others;
* controls: back / next / first / last buttons, a slider, the arrow keys, Home/End,
  a light/dark switch; labels for screen readers and a live status line.

The steps are data (`stepper_steps`), built from the same explanation the
``--steps`` text comes from (`gradcli.teach.explain.steps`) and the engine's values;
the script only shows them.
"""

from __future__ import annotations

import json
from html import escape
from typing import Optional

from ..core.fmt import number
from ..core.graph import CONST, INPUT
from ..run.evaluate import Evaluation
from ..teach.edges import _bar, edge_partials, is_number
from ..teach.explain import steps as backward_steps


def _num(x: object, digits: int) -> str:
    return number(x, digits)


def _cell(key: str, x: object, digits: int) -> dict:
    """A table cell's texts: a number as it is; an array compactly (its shape and a few
    elements, so the adjoint column stays on screen), with the whole array one row a line
    under ``<key>_full`` for the page to show on demand."""
    from ..core.fmt import array

    cell: dict = {key: _num(x, digits), f"{key}_number": _scalar(x)}
    shape = tuple(getattr(x, "shape", ()))
    if shape:
        import numpy as np

        a = np.asarray(x)
        first = array(a[0], min(digits, 4), edge=1) if a.ndim >= 2 else ""  # a matrix: its first row, then …
        compact = f"[{first}, …]" if a.ndim >= 2 and a.shape[0] > 1 else array(a, min(digits, 4), edge=1)
        cell[key] = "×".join(map(str, shape)) + ": " + compact
        full = array(a, digits, full=True)
        if a.ndim == 2:
            full = full.replace("], [", "],\n [")
        cell[f"{key}_full"] = full
    return cell


def _scalar(x: object) -> Optional[float]:
    return float(x) if isinstance(x, float) or (hasattr(x, "shape") and x.shape == ()) else None  # type: ignore


def stepper_steps(ev: Evaluation, digits: int = 6) -> list[dict]:
    """Every step of the page: the forward pass in evaluation order, the seed, then each
    contribution of the reverse sweep.  Each step says which node it computes, which
    edge it uses, its sentence, and the table cells it sets (``value``/``adjoint``
    text plus ``number``, the plain number for scalars)."""
    graph, values, live = ev.graph, ev.values, ev.tape.live
    out: list[dict] = []
    for node in graph.nodes:
        i = node.id
        if node.op in (INPUT, CONST):
            continue
        label = graph.label(i)
        # the values of the arguments that are not constants already (not "1 = 1")
        args = ", ".join(f"{graph.label(a)} = {_num(values[a], digits)}" for a in dict.fromkeys(node.args)
                         if graph.nodes[a].op != CONST)
        out.append({
            "phase": "forward", "node": i, "edges": [[a, i] for a in dict.fromkeys(node.args)],
            "text": f"{label} = {graph.definition(i)} = {_num(values[i], digits)}" + (f"   (with {args})" if args else ""),
            "set": {str(i): _cell("value", values[i], digits)},
        })
    if not ev.adjoints:
        return out
    o = graph.output
    seed = ev.adjoints[o]
    out.append({
        "phase": "backward", "node": o, "edges": [],
        "text": f"Start the backward pass at the output: {_bar(graph.label(o))} = ∂{graph.label(o)}/∂"
                f"{graph.label(o)} = {_num(seed, digits)}",
        "set": {str(o): _cell("adjoint", seed, digits)},
    })
    index = {graph.label(n.id): n.id for n in graph.nodes if live[n.id]}
    received: dict[int, list[str]] = {}
    sums: dict[int, float] = {}
    remaining: dict[int, int] = {}
    data = backward_steps(ev)
    for step in data:
        for c in step["contributions"]:
            remaining[index[c["to"]]] = remaining.get(index[c["to"]], 0) + 1
    for step in data:
        target = step["id"]
        for c in step["contributions"]:
            src = index[c["to"]]
            down, up = _bar(c["to"]), _bar(c["from"])
            name = f"∂{c['from']}/∂{c['to']}"
            if "rule" in c:  # an array edge: its matrix rule, shapes and value (gradcli.core.rules)
                lhs = f"δ = {c['lhs']} =" if c.get("delta") else f"{c['lhs']} +="
                text = f"{lhs} {c['rule']}  ({c['shapes']}) = {_num(c['product'], digits)}"
                part = "…"
            elif c["product"] is None:
                text = f"{down} += {up} ∘ {name} = {up} ∘ ({c['partial']})  (elementwise)"
                part = "…"
            else:
                upstream, value, product = (_num(c[k], digits) for k in ("upstream", "partial_value", "product"))
                symbolic = c["partial"]
                middle = "" if symbolic == value or is_number(symbolic) else f" = {upstream} · {symbolic}"
                text = f"{down} += {up} · {name}{middle} = {upstream} · {value} = {product}"
                part = product
            received.setdefault(src, []).append(part)
            remaining[src] -= 1
            parts = received[src]
            cell: dict = {}
            total = ev.adjoints[src]
            if remaining[src] == 0:  # the last contribution: the engine's adjoint
                shown = _num(total, digits)
                if len(parts) > 1 and "…" not in parts:
                    # in evaluation order, as the text steps and the paths write the same sum
                    shown = f"{_sum_text(list(reversed(parts)))} = {shown}"
                    text += f";  all of {down}'s contributions are in: {down} = {shown}"
                cell = _cell("adjoint", total, digits)
                if len(parts) > 1 and "…" not in parts:  # a scalar sum, shown added up
                    cell["adjoint"] = shown
            elif "…" not in parts:  # a running sum of scalars
                running = sums[src] = sums.get(src, 0.0) + float(parts[-1])  # one addition a step
                joined = _sum_text(parts)
                shown = joined if len(parts) == 1 else f"{joined} = {_num(running, digits)}"
                cell = {"adjoint": f"{shown} (so far)", "adjoint_number": running}
            else:
                cell = {"adjoint": "… (so far)", "adjoint_number": None}
            out.append({"phase": "backward", "node": src, "edges": [[src, target]], "text": text,
                        "set": {str(src): cell}})
    return out


#: a running sum shows its first terms and its last, so a node feeding n others costs O(n) text, not O(n²)
SUM_TERMS = 4
#: the most nodes a page steps through (README, "Files and limits"); larger programs: --format dot
MAX_PAGE_NODES = 30_000


def _sum_text(parts: list[str]) -> str:
    """``a + b + c``, or ``a + b + c + … + z (26 terms)`` for a long sum."""
    shown = parts if len(parts) <= SUM_TERMS + 1 else parts[:SUM_TERMS] + ["…", parts[-1]]
    text = " + ".join(p if not p.startswith("-") else f"({p})" for p in shown)
    return text if len(parts) <= SUM_TERMS + 1 else f"{text} ({len(parts)} terms)"


def _dot(ev: Evaluation) -> str:
    """The graph's structure for the page: definitions and symbolic partials, no numbers."""
    graph = ev.graph

    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = ["digraph stepper {", "  graph [rankdir=LR, bgcolor=transparent];",
             '  node [fontname=Helvetica, fontsize=12, shape=box, style="rounded,filled", fillcolor=white];',
             "  edge [fontname=Helvetica, fontsize=11];"]
    for node in graph.nodes:
        i = node.id
        if node.op == INPUT:
            label = f"{graph.label(i)}\ninput"
        elif node.op == CONST:
            label = graph.label(i)
        else:
            label = f"{graph.label(i)} = {graph.definition(i)}"
        lines.append(f'  n{i} [id="node-{i}", label={quote(label)}];')
    for e in edge_partials(ev):
        partial = e.label() if e.tensor is not None else f"{e.name} = {e.symbolic}"
        lines.append(f'  n{e.source} -> n{e.target} [id="edge-{e.source}-{e.target}", label={quote(partial)}];')
    for node in graph.nodes:  # edges no input reaches (constants) are drawn faint
        for a in dict.fromkeys(node.args):
            if graph.nodes[a].op == CONST:
                lines.append(f'  n{a} -> n{node.id} [id="edge-{a}-{node.id}", color="#9ca3af", style=dashed];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _svg(ev: Evaluation) -> Optional[str]:
    from ..teach.pictures import draw, graphviz

    if graphviz() is None or len(ev.graph.nodes) > 400:
        return None
    picture = draw(_dot(ev), "svg", len(ev.graph.nodes))
    text = picture if isinstance(picture, str) else picture.decode("utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else None


_CSS = """
:root{--bg:#ffffff;--fg:#111827;--muted:#4b5563;--line:#d1d5db;--hl:#dc2626;--done:#e0f2fe;--now:#fef3c7;--btn:#1d4ed8}
:root[data-theme=dark]{--bg:#0b1020;--fg:#f3f4f6;--muted:#9ca3af;--line:#374151;--hl:#f87171;--done:#1e3a5f;--now:#5b4400;--btn:#93c5fd}
@media (prefers-color-scheme: dark){:root:not([data-theme=light]){--bg:#0b1020;--fg:#f3f4f6;--muted:#9ca3af;--line:#374151;--hl:#f87171;--done:#1e3a5f;--now:#5b4400;--btn:#93c5fd}}
html{background:var(--bg);color:var(--fg);font:18px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
body{margin:1.2rem auto;max-width:1200px;padding:0 1rem}
h1{font-size:1.5rem;margin:.2rem 0}code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace}
.controls{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.8rem 0}
button{font:inherit;padding:.35rem .9rem;border:2px solid var(--btn);border-radius:.4rem;background:transparent;color:var(--fg);cursor:pointer}
button:focus-visible,input:focus-visible{outline:3px solid var(--hl);outline-offset:2px}
input[type=range]{flex:1;min-width:12rem}
#sentence{font-size:1.3rem;min-height:3.2rem;padding:.5rem .8rem;border-left:6px solid var(--hl);background:var(--now);white-space:pre-wrap}
#phase{color:var(--muted)}
table{border-collapse:collapse;margin:.8rem 0;width:100%}
th,td{padding:.25rem .6rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
td.num{text-align:right;font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre}
tr.now{background:var(--now)}tr.done td.num.filled{background:var(--done)}
#graph{overflow:auto;max-height:62vh;border:1px solid var(--line);border-radius:.4rem;resize:vertical}
#graph svg{max-width:none;height:auto;display:block}#graph svg text{fill:var(--fg)}
.zoom{display:flex;gap:.4rem;align-items:center;margin:.4rem 0}.zoom button{padding:.1rem .6rem}
pre.program{margin:.3rem 0;padding:.4rem .7rem;background:var(--done);border-radius:.4rem;white-space:pre-wrap;font-size:.8rem;max-height:6.5rem;overflow:auto;resize:vertical}
td.more{cursor:pointer;text-decoration:underline dotted}td.more.open{text-decoration:none}
td.num{font-size:.85rem}
#graph svg .node polygon,#graph svg .node path,#graph svg .node ellipse{fill:var(--bg);stroke:var(--muted)}
#graph svg .edge path,#graph svg .edge polygon{stroke:var(--muted)}#graph svg .edge polygon{fill:var(--muted)}
#graph svg g.hl polygon,#graph svg g.hl path,#graph svg g.hl ellipse{stroke:var(--hl);stroke-width:3}
#graph svg g.hl text{font-weight:bold}
.sr{position:absolute;left:-9999px}
"""

_JS = r"""
(function(){
  "use strict";
  var data = JSON.parse(document.getElementById("gradcli-steps").textContent);
  var steps = data.steps, k = 0;
  var slider = document.getElementById("slider"), sentence = document.getElementById("sentence");
  var phase = document.getElementById("phase"), status = document.getElementById("status");
  function cell(node, key){ return document.getElementById(key + "-" + node); }
  function mark(id, on){ var g = document.getElementById(id); if (g) g.classList.toggle("hl", on); }
  function show(n){
    k = Math.max(0, Math.min(steps.length, n));
    var state = {};
    data.initial.forEach(function(c){ state[c.node] = Object.assign({}, c); });
    for (var i = 0; i < k; i++){
      var set = steps[i].set;
      Object.keys(set).forEach(function(node){ state[node] = Object.assign(state[node] || {}, set[node]); });
    }
    data.nodes.forEach(function(node){
      var s = state[node] || {};
      ["value", "adjoint"].forEach(function(key){
        var td = cell(node, key);
        var full = s[key + "_full"];
        td.textContent = s[key] === undefined ? "" : (full && td.classList.contains("open") ? full : s[key]);
        td.classList.toggle("more", !!full);
        td.setAttribute("data-short", s[key] === undefined ? "" : s[key]);
        td.setAttribute("data-full", full || "");
        if (full) { td.title = "click to show the whole array"; td.tabIndex = 0; }
        else { td.removeAttribute("title"); td.removeAttribute("tabindex"); td.classList.remove("open"); }
        var num = s[key + "_number"];
        td.setAttribute("data-number", num === undefined || num === null ? "" : String(num));
        td.classList.toggle("filled", s[key] !== undefined);
      });
      var row = document.getElementById("row-" + node);
      row.classList.remove("now");
      row.classList.toggle("done", !!state[node]);
    });
    document.querySelectorAll("#graph .hl").forEach(function(g){ g.classList.remove("hl"); });
    var step = k > 0 ? steps[k - 1] : null;
    if (step){
      document.getElementById("row-" + step.node).classList.add("now");
      mark("node-" + step.node, true);
      step.edges.forEach(function(e){ mark("edge-" + e[0] + "-" + e[1], true); mark("node-" + e[0], true); });
      sentence.textContent = step.text;
      phase.textContent = (step.phase === "forward" ? "Forward pass" : "Backward pass") +
        " — step " + k + " of " + steps.length;
    } else {
      sentence.textContent = data.start;
      phase.textContent = "Step 0 of " + steps.length + ": the inputs are given";
    }
    slider.value = k;
    slider.setAttribute("aria-valuetext", phase.textContent);
    status.textContent = phase.textContent + ". " + sentence.textContent;
    document.body.setAttribute("data-step", String(k));
  }
  function toggle(td){  // a compact array cell shows the whole array, one row a line, and back
    if (!td || !td.classList.contains("more")) return;
    var open = td.classList.toggle("open");
    td.textContent = td.getAttribute(open ? "data-full" : "data-short");
  }
  document.querySelector("table").addEventListener("click", function(ev){ toggle(ev.target.closest("td.more")); });
  document.querySelector("table").addEventListener("keydown", function(ev){
    if (ev.key === "Enter" && ev.target.matches && ev.target.matches("td.more")) { toggle(ev.target); ev.preventDefault(); }
  });
  var svg = document.querySelector("#graph svg"), zoom = 1, natural = 0;
  function setZoom(z){  // the graph at its own size (it scrolls), larger, smaller, or fitted to the width
    if (!svg) return;
    if (!natural) { var vb = svg.viewBox && svg.viewBox.baseVal; natural = vb && vb.width ? vb.width * 4 / 3 : svg.getBoundingClientRect().width; }
    zoom = z === "fit" ? document.getElementById("graph").clientWidth / natural : Math.max(0.2, Math.min(5, z));
    svg.style.width = Math.round(natural * zoom) + "px";
    svg.style.height = "auto";
    document.getElementById("zoom-level").textContent = Math.round(zoom * 100) + "%";
  }
  if (svg) {
    document.getElementById("zoom-in").addEventListener("click", function(){ setZoom(zoom * 1.25); });
    document.getElementById("zoom-out").addEventListener("click", function(){ setZoom(zoom / 1.25); });
    document.getElementById("zoom-fit").addEventListener("click", function(){ setZoom("fit"); });
    setZoom(1);
  }
  document.getElementById("next").addEventListener("click", function(){ show(k + 1); });
  document.getElementById("back").addEventListener("click", function(){ show(k - 1); });
  document.getElementById("first").addEventListener("click", function(){ show(0); });
  document.getElementById("last").addEventListener("click", function(){ show(steps.length); });
  slider.addEventListener("input", function(){ show(parseInt(slider.value, 10)); });
  document.getElementById("theme").addEventListener("click", function(){
    var root = document.documentElement;
    var dark = root.getAttribute("data-theme") === "dark" ||
      (!root.getAttribute("data-theme") && window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches);
    root.setAttribute("data-theme", dark ? "light" : "dark");
  });
  document.addEventListener("keydown", function(ev){
    if (ev.target === slider) return;
    if (ev.key === "ArrowRight" || ev.key === " " && ev.target.tagName !== "BUTTON") { show(k + 1); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft") { show(k - 1); ev.preventDefault(); }
    else if (ev.key === "Home") { show(0); ev.preventDefault(); }
    else if (ev.key === "End") { show(steps.length); ev.preventDefault(); }
  });
  show(0);
})();
"""


def page(ev: Evaluation, digits: int = 6, steps_text: Optional[str] = None) -> str:
    """The whole page as one HTML document."""
    graph, values = ev.graph, ev.values
    if len(graph.nodes) > MAX_PAGE_NODES:
        from ..core.errors import UsageError

        raise UsageError(f"the html page steps through programs of up to {MAX_PAGE_NODES:,} nodes; this one has "
                         f"{len(graph.nodes):,} (use --format dot or text)")
    steps = stepper_steps(ev, digits)
    initial = []
    for node in graph.nodes:
        if node.op in (INPUT, CONST):
            initial.append({"node": node.id, **_cell("value", values[node.id], digits)})
    out = graph.label(graph.output)
    data = {
        "nodes": [n.id for n in graph.nodes],
        "initial": initial,
        "steps": steps,
        "start": "The inputs are given. Press “next” (or →) to compute the nodes one at a time.",
    }
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    rows = []
    for node in graph.nodes:
        i = node.id
        label = escape(graph.label(i))
        definition = "input" if node.op == INPUT else ("constant" if node.op == CONST else graph.definition(i))
        shape = "×".join(map(str, node.shape)) if node.shape else "scalar"
        rows.append(
            f'<tr id="row-{i}"><td class="num">{i}</td><th scope="row">{label}</th>'
            f"<td class=mono>{escape(definition)}</td><td>{escape(shape)}</td>"
            f'<td class="num" id="value-{i}" aria-label="value of {label}"></td>'
            f'<td class="num" id="adjoint-{i}" aria-label="adjoint of {label}"></td></tr>'
        )
    svg = _svg(ev)
    picture = svg if svg else (
        '<p class="note">The graph picture needs Graphviz (its <code>dot</code> program) when the page is '
        "made; the table and the steps below work without it.</p>")
    zoom = ('<div class="zoom" role="group" aria-label="graph zoom"><button id="zoom-out" type="button" '
            'aria-label="zoom out">−</button><span id="zoom-level">100%</span><button id="zoom-in" type="button" '
            'aria-label="zoom in">+</button><button id="zoom-fit" type="button">fit to width</button></div>'
            if svg else "")
    explanation = f"<details><summary>The whole backward sweep as text (--steps)</summary><pre>" \
                  f"{escape(steps_text)}</pre></details>" if steps_text else ""
    title = f"Backprop, step by step: {ev.source.strip()[:80]}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="gradcli">
<title>{escape(title)}</title>
<style>{_CSS}</style>
</head>
<body data-step="0">
<header>
<h1>Backprop, step by step</h1>
<p>Output <b>{escape(out)}</b> of the program</p>
<pre class="program"><code>{escape(ev.source.strip())}</code></pre>
</header>
<main>
<div class="controls" role="group" aria-label="step controls">
<button id="first" type="button" aria-label="first step">« first</button>
<button id="back" type="button" aria-label="previous step">◀ back</button>
<button id="next" type="button" aria-label="next step">next ▶</button>
<button id="last" type="button" aria-label="last step">last »</button>
<label class="sr" for="slider">step</label>
<input id="slider" type="range" min="0" max="{len(steps)}" value="0" step="1" aria-label="jump to step">
<button id="theme" type="button" aria-label="switch between light and dark theme">◐ theme</button>
</div>
<p id="phase"></p>
<p id="sentence" aria-hidden="true"></p>
<p id="status" class="sr" role="status" aria-live="polite"></p>
{zoom}<section id="graph" aria-label="the computational graph">{picture}</section>
<table aria-label="nodes in evaluation order">
<thead><tr><th scope="col">id</th><th scope="col">node</th><th scope="col">definition</th>
<th scope="col">shape</th><th scope="col">value</th><th scope="col">adjoint ∂{escape(out)}/∂node</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
{explanation}
</main>
<script type="application/json" id="gradcli-steps">{payload}</script>
<script>{_JS}</script>
</body>
</html>
"""
