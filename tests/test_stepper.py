"""The interactive backprop page (`gradcli graph … --format html`).

The step data is checked against the engine without a browser; then a real headless
Chromium (Debian's chromium + chromium-driver, driven by selenium) loads the page for
the lecture example, the max example and the layer example, presses "next" through
every step, and reads the table from the DOM at each step.  The browser tests skip
(with the reason) where Chromium is not installed; CI installs it (.ci/run).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import gradcli
from clitools import run_cli
from gradcli.output.stepper import stepper_steps

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
# a browser per test: seconds each, so the quick loop (`pytest -m "not slow"`) leaves them out
pytestmark = pytest.mark.slow
LECTURE = ("(a+b)*(b+1)", ["a=3", "b=2"], {"a": 3, "b": 2})
MAX = ("f = (x+y)*max(y,z)", ["x=1", "y=2", "z=0"], {"x": 1, "y": 2, "z": 0})
LAYER_POINT = json.loads((SAMPLES / "layer.json").read_text())
LAYER = ((SAMPLES / "layer.grad").read_text(), ["--vars", str(SAMPLES / "layer.json")], LAYER_POINT)
CASES = {"lecture": LECTURE, "max": MAX, "layer": LAYER}


def _page(tmp_path: Path, case: str) -> Path:
    program, args, _ = CASES[case]
    src = tmp_path / f"{case}.grad"
    src.write_text(program, encoding="utf-8")
    out = tmp_path / f"{case}.html"
    result = run_cli(["graph", "-f", str(src), *args, "--format", "html", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    return out


def _embedded_steps(page: str) -> dict:
    blob = re.search(r'<script type="application/json" id="gradcli-steps">(.*?)</script>', page, re.S).group(1)
    return json.loads(blob.replace("<\\/", "</"))


# ---- the data, against the engine ----------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_steps_end_with_the_engine_s_values_and_adjoints(case, tmp_path):
    program, _, point = CASES[case]
    r = gradcli.evaluate(program, point)
    data = _embedded_steps(_page(tmp_path, case).read_text(encoding="utf-8"))
    state: dict[str, dict] = {str(c["node"]): dict(c) for c in data["initial"]}
    for step in data["steps"]:
        for node, cell in step["set"].items():
            state.setdefault(node, {}).update(cell)
    for n in r.nodes:
        s = state.get(str(n.id), {})
        assert "value" in s, f"node {n.id} ({n.name}) is never computed"
        if np.ndim(n.value) == 0:
            assert s["value_number"] == pytest.approx(n.value, rel=1e-15, abs=0)
        if n.adjoint is not None and n.op != "const":
            assert "adjoint" in s, f"node {n.id} ({n.name}) never gets its adjoint"
            if np.ndim(n.adjoint) == 0:
                assert s["adjoint_number"] == pytest.approx(n.adjoint, rel=1e-12, abs=1e-300)


def test_the_lecture_steps_read_like_the_notes(tmp_path):
    page = _page(tmp_path, "lecture").read_text(encoding="utf-8")
    texts = [s["text"] for s in _embedded_steps(page)["steps"]]
    assert texts[0] == "c = a + b = 5   (with a = 3, b = 2)"
    assert texts[2] == "e = c * d = 15   (with c = 5, d = 3)"
    assert texts[3] == "Start the backward pass at the output: ē = ∂e/∂e = 1"
    assert "c̄ += ē · ∂e/∂c = 1 · d = 1 · 3 = 3" in texts
    # b feeds c and d: its contributions are summed, visibly, when the last one arrives
    # the whole sum in evaluation order, as the text steps and the paths write it
    assert any(t.endswith("all of b̄'s contributions are in: b̄ = 3 + 5 = 8") for t in texts)
    assert any("b̄ += d̄ · ∂d/∂b = 5 · 1 = 5" in t for t in texts)


def test_running_sums_at_fan_out_are_exact(tmp_path):
    page = _page(tmp_path, "lecture").read_text(encoding="utf-8")
    steps = _embedded_steps(page)["steps"]
    b_cells = [s["set"]["1"] for s in steps if "1" in s["set"]]
    assert [c["adjoint"] for c in b_cells] == ["5 (so far)", "3 + 5 = 8"]
    assert [c["adjoint_number"] for c in b_cells] == [5.0, 8.0]


def test_the_page_is_self_contained_and_escapes_user_text(tmp_path):
    src = tmp_path / "evil.grad"
    src.write_text("y = x*2 # </script><script>alert(1)</script>\n", encoding="utf-8")
    out = tmp_path / "evil.html"
    assert run_cli(["graph", "-f", str(src), "x=1", "--format", "html", "-o", str(out)]).exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the page must not load anything"
    assert page.count("<script") == 2  # the data and the stepper, both inline
    for label in ("next step", "previous step", "jump to step", 'role="status"'):
        assert label in page


def test_scalar_output_without_gradient_still_steps_forward(tmp_path):
    out = tmp_path / "v.html"
    result = run_cli(["graph", "W@x", "W=[[1,2],[3,4]]", "x=[1,1]", "--format", "html", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    steps = _embedded_steps(out.read_text(encoding="utf-8"))["steps"]
    assert [s["phase"] for s in steps] == ["forward"]


def test_a_stepper_for_a_python_result():
    r = gradcli.evaluate("(a+b)*(b+1)", a=3, b=2)
    html = r.stepper()
    assert html.startswith("<!DOCTYPE html>") and "gradcli-steps" in html
    assert len(stepper_steps(r._ev)) == 3 + 1 + 5  # 3 nodes, the seed, 5 edges an input reaches


# ---- a real browser ------------------------------------------------------------------------
def _driver(tmp_path: Path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        pytest.skip("Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-quic", "--window-size=1280,1000", f"--user-data-dir={tmp_path / 'chrome'}"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=chromedriver), options=opts)


@pytest.fixture
def browser(tmp_path):
    driver = _driver(tmp_path)
    try:
        yield driver
    finally:
        driver.quit()


def _cells(driver, nodes: list[int]) -> dict[int, tuple[str, str, str, str]]:
    script = """
      return arguments[0].map(function(i){
        var v = document.getElementById('value-' + i), a = document.getElementById('adjoint-' + i);
        return [v.textContent, v.getAttribute('data-number'), a.textContent, a.getAttribute('data-number')];
      });"""
    return dict(zip(nodes, map(tuple, driver.execute_script(script, nodes))))


@pytest.mark.parametrize("case", CASES)
def test_pressing_next_through_every_step(case, browser, tmp_path):
    from selenium.webdriver.common.by import By

    program, _, point = CASES[case]
    r = gradcli.evaluate(program, point)
    path = _page(tmp_path, case)
    steps = _embedded_steps(path.read_text(encoding="utf-8"))["steps"]
    browser.get(path.as_uri())
    ids = [n.id for n in r.nodes]
    computed = {n.id for n in r.nodes if n.op in ("input", "const")}
    before = _cells(browser, ids)
    for n in r.nodes:  # nothing is given away before it is computed
        assert (before[n.id][0] != "") == (n.id in computed)
        assert before[n.id][2] == ""
    contributions: dict[int, int] = {}
    for s in steps:
        if s["phase"] == "backward" and s["edges"]:
            contributions[s["node"]] = contributions.get(s["node"], 0) + 1
    seen: dict[int, int] = {}
    button = browser.find_element(By.ID, "next")
    for k, step in enumerate(steps, 1):
        button.click()
        assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-step") == str(k)
        assert browser.find_element(By.ID, "sentence").text == step["text"]
        node = r.nodes[step["node"]]
        value_text, value_number, adjoint_text, adjoint_number = _cells(browser, [node.id])[node.id]
        if step["phase"] == "forward":
            assert value_text != ""
            if np.ndim(node.value) == 0:
                assert float(value_number) == node.value
        elif step["edges"]:
            seen[node.id] = seen.get(node.id, 0) + 1
            if seen[node.id] == contributions[node.id]:  # the last contribution: the engine's adjoint
                assert "(so far)" not in adjoint_text
                if np.ndim(node.adjoint) == 0:
                    assert float(adjoint_number) == pytest.approx(node.adjoint, rel=1e-12)
            else:
                assert adjoint_text.endswith("(so far)")
        else:  # the seed
            assert float(adjoint_number) == 1.0
        row = browser.find_element(By.ID, f"row-{node.id}")
        assert "now" in row.get_attribute("class").split()
        highlighted = browser.execute_script("return document.querySelectorAll('#graph .hl').length")
        if shutil.which("dot"):
            assert highlighted >= 1
    final = _cells(browser, ids)
    for n in r.nodes:
        if n.adjoint is not None and n.op != "const" and np.ndim(n.adjoint) == 0:
            assert float(final[n.id][3]) == pytest.approx(n.adjoint, rel=1e-12)


def test_keyboard_slider_and_back(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    path = _page(tmp_path, "lecture")
    browser.get(path.as_uri())
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.ARROW_RIGHT)
    body.send_keys(Keys.ARROW_RIGHT)
    assert body.get_attribute("data-step") == "2"
    body.send_keys(Keys.ARROW_LEFT)
    assert body.get_attribute("data-step") == "1"
    body.send_keys(Keys.END)
    total = int(browser.find_element(By.ID, "slider").get_attribute("max"))
    assert body.get_attribute("data-step") == str(total)
    assert _cells(browser, [1])[1][3] == "8"  # b̄
    slider = browser.find_element(By.ID, "slider")
    slider.send_keys(Keys.HOME)
    assert body.get_attribute("data-step") == "0"
    assert _cells(browser, [2])[2][0] == ""  # c not computed yet
    browser.find_element(By.ID, "back").click()  # stays at 0
    assert body.get_attribute("data-step") == "0"
    status = browser.find_element(By.ID, "status")
    assert status.get_attribute("aria-live") == "polite"
    browser.find_element(By.ID, "theme").click()
    assert browser.execute_script("return document.documentElement.getAttribute('data-theme')") in ("dark", "light")


def test_the_page_renders_non_blank(browser, tmp_path):
    Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed")
    import io

    from selenium.webdriver.common.by import By

    browser.get(_page(tmp_path, "layer").as_uri())
    browser.find_element(By.ID, "last").click()
    png = browser.get_screenshot_as_png()
    image = Image.open(io.BytesIO(png)).convert("L")
    lo, hi = image.getextrema()
    assert hi - lo > 100, "the screenshot is blank"
    histogram = image.histogram()
    assert max(histogram) < 0.98 * sum(histogram), "the screenshot is one colour"


# ---- array programs at 1200×800 (issue 22) ------------------------------------------------------
def _mlp_page(tmp_path: Path) -> Path:
    out = tmp_path / "mlp.html"
    result = run_cli(["graph", "-f", str(SAMPLES / "mlp.grad"), "--vars", str(SAMPLES / "mlp.json"),
                      "--format", "html", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    return out


def test_array_page_keeps_the_program_s_lines_and_shows_arrays_compactly(tmp_path):
    page = _mlp_page(tmp_path).read_text(encoding="utf-8")
    program = re.search(r'<pre class="program"><code>(.*?)</code></pre>', page, re.S).group(1)
    assert program.count("\n") >= 5  # the program's newlines are kept
    cells = [cell for step in _embedded_steps(page)["steps"] for cell in step["set"].values()]
    arrays = [c for c in cells if "value_full" in c]
    assert arrays and all(c["value"].split(": ", 1)[0] in ("3×2", "2", "3") for c in arrays)
    matrix = next(c for c in arrays if c["value"].startswith("3×2"))
    assert len(matrix["value"]) < 30 and matrix["value_full"].count("\n") == 2  # full: one row a line


def test_array_page_fits_1200_by_800_and_zooms(browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.set_window_size(1200, 800)
    browser.get(_mlp_page(tmp_path).as_uri())
    browser.find_element(By.ID, "last").click()
    width = browser.execute_script("return document.documentElement.clientWidth")
    table = browser.execute_script("return document.querySelector('table').getBoundingClientRect().right")
    assert table <= width, (table, width)  # the adjoint column is on screen
    cell = browser.find_element(By.ID, "adjoint-0")  # W's adjoint, a 3×2 array
    short = cell.text
    cell.click()
    assert cell.text.count("\n") == 2 and cell.text != short
    svg_width = "return document.querySelector('#graph svg').getBoundingClientRect().width"
    before = browser.execute_script(svg_width)
    browser.find_element(By.ID, "zoom-in").click()
    assert browser.execute_script(svg_width) > before * 1.2
    browser.find_element(By.ID, "zoom-fit").click()
    assert browser.execute_script(svg_width) <= browser.execute_script(
        "return document.getElementById('graph').clientWidth") + 1
