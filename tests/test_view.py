"""`tracectl view` in a real browser: headless Chromium (Debian's package) driven by Playwright.

The demo writes a trace file; `tracectl view` serves it as a user starts it; the tests open the list,
follow a trace and check what a reader sees against the trace file itself (read here independently:
ids, parent links, which spans AWS wrote), not against the view's own code. Screenshots are saved
(under the test's tmp dir; with TRACECTL_SCREENSHOTS=DIR there, e.g. docs/images for the README).
Without Chromium the tests skip with one line; in CI (TRACECTL_REQUIRE_BROWSER=1) that fails instead
(the browser fixtures: tests/browser.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import urllib3

from tests.conftest import ROOT
from tests.test_demo import run_demo
from tracectl.traces.trace_model import Span, Trace, load_jsonl

API_STAGE = "AWS::ApiGateway::Stage"


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory, lambda_emulator: None) -> Path:
    _, out, _ = run_demo(tmp_path_factory.mktemp("view-demo"))
    return out


@pytest.fixture(scope="module")
def traces(demo_file: Path) -> dict[str, Trace]:
    return load_jsonl(demo_file)


@contextmanager
def tracectl_view(*source: str) -> Iterator[str]:
    """`tracectl view SOURCE…` as a user starts it, on a free port, without a browser of its own: its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tracectl.cli", "view", *source, "--port", "0", "--no-browser"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("tracectl view: http://127.0.0.1:"), line
        yield line.split()[2]
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def view_url(demo_file: Path) -> Iterator[str]:
    with tracectl_view("--trace-file", str(demo_file)) as url:
        yield url


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("TRACECTL_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def depths(spans: list[Span]) -> dict[str, int]:
    """Each span's depth in its tree: 0 where the parent is not among `spans`."""
    by_id = {s.span_id: s for s in spans}

    def depth(span: Span) -> int:
        parent = by_id.get(span.parent_id or "")
        return 0 if parent is None else 1 + depth(parent)

    return {s.span_id: depth(s) for s in spans}


def rows(page, side: str) -> dict[str, int]:
    """{span id: depth} of every row on one side, as rendered."""
    found = page.eval_on_selector_all(
        f".side.{side} details.row", "rows => rows.map(r => [r.dataset.span, Number(r.dataset.depth)])"
    )
    assert len(found) == len({span_id for span_id, _ in found})  # no span twice
    return dict(found)


def a_faulted_request(traces: dict[str, Trace]) -> Trace:
    return next(t for t in traces.values() if t.roots()[0].attributes.get("origin") == API_STAGE and t.has_error)


def test_the_list_shows_every_trace_newest_first_and_filters(page, view_url: str, traces, screenshots) -> None:
    page.goto(view_url)
    listed = page.eval_on_selector_all("table.traces tbody tr[data-trace]", "rows => rows.map(r => r.dataset.trace)")
    assert listed == sorted(traces, key=lambda t: traces[t].start_ns, reverse=True)
    page.screenshot(path=str(screenshots / "view-list.png"), full_page=True)

    page.check("input[name=errors]")
    page.click("button[type=submit]")
    with_errors = page.eval_on_selector_all("tbody tr[data-trace]", "rows => rows.map(r => r.dataset.trace)")
    assert set(with_errors) == {t for t, trace in traces.items() if trace.has_error} != set()

    page.goto(view_url)
    page.select_option("select[name=function]", "upload")
    page.click("button[type=submit]")
    uploads = page.eval_on_selector_all("tbody tr[data-trace]", "rows => rows.map(r => r.dataset.trace)")
    assert set(uploads) == {t for t, trace in traces.items() if any(s.service == "upload" for s in trace.spans)}


def test_a_trace_shows_every_span_in_both_views_nested_as_each_backend_nests_it(
    page, view_url: str, traces, screenshots
) -> None:
    trace = a_faulted_request(traces)
    page.goto(view_url)
    page.click(f"a.trace-link[href$='{trace.trace_id}']")
    page.wait_for_url(f"**/traces/{trace.trace_id}")
    # X-Ray: every span, AWS's own segments included, one root (API Gateway's segment)
    xray = rows(page, "xray")
    assert xray == depths(trace.spans)
    assert [s for s, d in xray.items() if d == 0] == [trace.roots()[0].span_id]
    # Jaeger: the OTel spans only, nested by their own parents
    otel = [s for s in trace.spans if not s.aws_created]
    assert rows(page, "jaeger") == depths(otel)
    page.screenshot(path=str(screenshots / "view-trace.png"), full_page=True)


def test_differences_are_marked_on_both_sides_and_a_click_shows_a_spans_details(
    page, view_url: str, traces, screenshots
) -> None:
    trace = a_faulted_request(traces)
    page.goto(f"{view_url}traces/{trace.trace_id}")
    marked = page.eval_on_selector_all(".side.xray details.row.expected", "rows => rows.map(r => r.dataset.span)")
    # what only X-Ray has (the segments AWS wrote) is an expected difference, marked there
    assert {s.span_id for s in trace.spans if s.aws_created} <= set(marked)
    # the handler's span is named after the service in X-Ray: marked on both sides
    [handler] = [s for s in trace.spans if s.kind == "server" and s.service == "ingest" and not s.aws_created]
    for side in ("xray", "jaeger"):
        assert "expected" in page.get_attribute(f".side.{side} details.row[data-span='{handler.span_id}']", "class")
    assert page.locator(".verdict").inner_text().startswith("expected differences only")
    # the deliberate fault: click it, read what X-Ray and Jaeger say about it
    fault = next(s for s in trace.spans if s.service == "http" and s.error and not s.aws_created)
    xray_row = page.locator(f".side.xray details.row[data-span='{fault.span_id}']")
    assert not xray_row.locator(".details").is_visible()
    xray_row.locator("summary").click()
    details = xray_row.locator(".details")
    assert details.is_visible()
    assert "fault" in details.inner_text() and "CERTIFICATE_VERIFY_FAILED" in details.inner_text()
    jaeger_row = page.locator(f".side.jaeger details.row[data-span='{fault.span_id}']")
    jaeger_row.locator("summary").click()
    text = jaeger_row.locator(".details").inner_text()
    assert "ERROR" in text and "exception" in text and "fault_injected" in text
    page.screenshot(path=str(screenshots / "view-span-details.png"), full_page=True)


def test_an_unknown_or_malformed_id_is_a_404(view_url: str, traces) -> None:
    http = urllib3.PoolManager(retries=False)
    known = next(iter(traces))
    assert http.request("GET", f"{view_url}traces/1-{known[:8]}-{known[8:]}").status == 200  # the X-Ray form too
    assert http.request("GET", f"{view_url}traces/{'0' * 32}").status == 404
    assert http.request("GET", f"{view_url}traces/not-an-id").status == 404


# Geometry of a Graphviz SVG, measured by the browser that draws it: every node's name inside its box,
# no label over another label or a node, no edge through a node it does not start or end at.
MEASURE_MAP = """() => {
  const box = e => { const b = e.getBBox(); return {x: b.x, y: b.y, w: b.width, h: b.height}; };
  const nodes = [...document.querySelectorAll('g.node')].map(g => ({
    id: g.querySelector('title').textContent, shape: box(g.querySelector('path, polygon, ellipse')),
    texts: [...g.querySelectorAll('text')].map(box)}));
  const edges = [...document.querySelectorAll('g.edge')].map(g => {
    const [from, to] = g.querySelector('title').textContent.split('->');
    const path = g.querySelector('path'); const points = [];
    for (let at = 0; at <= path.getTotalLength(); at += 2) {
      const p = path.getPointAtLength(at); points.push([p.x, p.y]);
    }
    return {from, to, points, labels: [...g.querySelectorAll('text')].map(box)};
  });
  return {nodes, edges};
}"""


def inside(point: tuple[float, float], b: dict, margin: float = 0.0) -> bool:
    x, y = point
    return b["x"] + margin < x < b["x"] + b["w"] - margin and b["y"] + margin < y < b["y"] + b["h"] - margin


def overlap(a: dict, b: dict) -> bool:
    across = a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
    return across and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def assert_readable(geometry: dict) -> None:
    nodes, edges = geometry["nodes"], geometry["edges"]
    assert nodes and edges
    for node in nodes:
        for text in node["texts"]:  # the name fits its box
            assert text["x"] >= node["shape"]["x"] and text["x"] + text["w"] <= node["shape"]["x"] + node["shape"]["w"]
    labels = [label for edge in edges for label in edge["labels"]]
    for i, a in enumerate(labels):
        assert not any(overlap(a, b) for b in labels[i + 1 :]), "two edge labels overlap"
        assert not any(overlap(a, n["shape"]) for n in nodes), "an edge label lies over a node"
    for edge in edges:
        others = [n["shape"] for n in nodes if n["id"] not in (edge["from"], edge["to"])]
        assert not any(inside(p, shape, margin=1.0) for p in edge["points"] for shape in others), (
            f"edge {edge['from']}->{edge['to']} runs through a node"
        )


def test_the_service_maps_are_readable(page, view_url: str, demo_file: Path, traces, screenshots) -> None:
    page.goto(f"{view_url}map.svg")
    assert_readable(page.evaluate(MEASURE_MAP))
    assert "from the spans (a trace file was never sent to X-Ray)" in page.content()  # whose map, and why
    page.screenshot(path=str(screenshots / "view-map.png"))
    page.goto((demo_file.parent / "map.svg").as_uri())  # the picture `tracectl demo` writes
    assert_readable(page.evaluate(MEASURE_MAP))
    names = set(page.eval_on_selector_all("g.node text", "texts => texts.map(t => t.textContent)"))
    assert {"API Gateway", "ingest", "SNS ingest", "S3 uploads", "DynamoDB hits"} <= names


def test_demo_view_serves_the_run_it_just_made(tmp_path: Path, lambda_emulator: None) -> None:
    """`tracectl demo --view`: the run, then the view of its trace file, until Ctrl-C."""
    import signal

    out = tmp_path / "traces.jsonl"
    files = ["--out", str(out), "--map", str(tmp_path / "map.svg")]
    process = subprocess.Popen(
        [sys.executable, "-m", "tracectl.cli", "demo", "-n", "1", "--uploads", "0", "--view", *files],
        cwd=ROOT,
        env={**os.environ, "BROWSER": "true"},  # the `true` command: no browser opens during the test
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = next(line for line in process.stderr if line.startswith("tracectl view: "))
        listed = urllib3.request("GET", line.split()[2], retries=False).data.decode()
        assert all(trace_id in listed for trace_id in load_jsonl(out))
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0
