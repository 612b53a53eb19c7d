"""A service map from spans: functions and the AWS resources between them, with call statistics.

Nodes are functions (span `service`), the API in front of them, and what their client spans
touched (SNS topics, SQS queues, the EventBridge bus, the DynamoDB table, external hosts). An edge is a call: a
function's client/producer span to a resource, a consumer span from the resource it read, or the
API calling its function. Each edge has a call count, error % and p50/p95 of the spans' durations.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from rich.table import Table

from tracectl.stats import percentile
from tracectl.traces.trace_model import Span, Trace

API = "API Gateway"
_RESOURCE_KINDS = ("SNS", "SQS", "DynamoDB", "HTTP", "S3", "Kinesis", "Kafka")
_CONSUMED_FROM = {"aws.sns": "SNS", "aws_sqs": "SQS", "aws.kinesis": "Kinesis", "kafka": "Kafka"}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    calls: int
    errors: int
    p50_ms: float
    p95_ms: float

    @property
    def error_pct(self) -> float:
        return 100.0 * self.errors / self.calls if self.calls else 0.0


def resource_of(span: Span) -> str | None:
    """The AWS resource or host a client/producer/consumer span talks to, e.g. `SNS ingest`."""
    a = span.attributes
    service = a.get("rpc.service")
    if service == "DynamoDB":
        tables = a.get("aws.dynamodb.table_names") or []
        return f"DynamoDB {tables[0]}" if tables else "DynamoDB"
    if a.get("aws.s3.bucket") and span.kind == "producer":  # the demo's uploader
        return f"S3 {a['aws.s3.bucket']}"
    if service == "EventBridge" or "aws.eventbridge.detail_type" in a:
        return "EventBridge"  # an event carries its source, not its bus: one node for the bus
    if service in ("SNS", "SQS"):
        destination = a.get("messaging.destination.name") or a.get("messaging.destination") or a.get("aws.queue_url")
        return f"{service} {_short_name(destination)}" if destination else service
    if span.kind == "consumer":
        if a.get("faas.document.collection"):  # a DynamoDB stream batch
            return f"DynamoDB {a['faas.document.collection']}"
        system = _CONSUMED_FROM.get(str(a.get("messaging.system", "")), "SQS")
        destination = a.get("messaging.destination.name")
        return f"{system} {_short_name(destination)}" if destination else None
    url = a.get("http.url") or a.get("url.full")
    if span.kind == "client" and url:
        return f"HTTP {urlparse(str(url)).netloc}"
    return None


def is_resource(node: str) -> bool:
    """An AWS resource or external host (what `resource_of` names), not a function or a client."""
    return node in (API, "EventBridge") or node.split(" ")[0] in _RESOURCE_KINDS


def edges(traces: dict[str, Trace]) -> list[Edge]:
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    errors: dict[tuple[str, str], int] = defaultdict(int)

    def add(source: str, target: str, span: Span) -> None:
        durations[(source, target)].append(span.duration_ms)
        errors[(source, target)] += span.error

    for trace in traces.values():
        by_id = {s.span_id: s for s in trace.spans}
        for span in trace.spans:
            parent = by_id.get(span.parent_id or "")
            if span.kind in ("client", "producer"):
                resource = resource_of(span)
                if resource:
                    add(span.service, resource, span)
            elif span.kind == "server" and span.attributes.get("faas.trigger") == "http":
                add(API, span.service, span)
            elif span.kind == "server" and span.attributes.get("faas.document.collection"):  # S3 → function
                add(f"S3 {span.attributes['faas.document.collection']}", span.service, span)
            elif span.kind == "consumer" and "faas.trigger" in span.attributes:
                resource = resource_of(span)
                if resource and (parent is None or parent.service != span.service):
                    add(resource, span.service, span)
    return [
        Edge(s, t, len(d), errors[(s, t)], percentile(d, 50), percentile(d, 95))
        for (s, t), d in sorted(durations.items())
    ]


def _short_name(destination: object) -> str:
    """`ingest` for a topic ARN, `work` for a queue URL, the value itself otherwise."""
    text = str(destination)
    if text.startswith("arn:"):
        return text.rsplit(":", 1)[-1]
    return text.rstrip("/").rsplit("/", 1)[-1]


def from_xray_graph(services: list[dict]) -> tuple[list[Edge], set[str]]:
    """X-Ray's own service graph (GetServiceGraph / GetTraceGraph `Services`) as edges, and which nodes
    are resources rather than functions. A node is `name (type)`: Lambda's service and function nodes
    share a name."""
    by_reference = {s["ReferenceId"]: s for s in services}

    def node(service: dict) -> str:
        kind = service.get("Type") or ""
        return f"{service.get('Name', '?')} ({kind})" if kind else str(service.get("Name", "?"))

    found, resources = [], set()
    for service in services:
        if not str(service.get("Type") or "").startswith("AWS::Lambda") and service.get("Type"):
            resources.add(node(service))
        for edge in service.get("Edges") or []:
            target = by_reference.get(edge.get("ReferenceId"))
            if target is None:
                continue
            stats = edge.get("SummaryStatistics") or {}
            errors = (stats.get("ErrorStatistics") or {}).get("TotalCount", 0)
            faults = (stats.get("FaultStatistics") or {}).get("TotalCount", 0)
            times = [
                float(h["Value"]) * 1000
                for h in edge.get("ResponseTimeHistogram") or []
                for _ in range(int(h.get("Count", 0)))
            ]
            found.append(
                Edge(
                    node(service),
                    node(target),
                    int(stats.get("TotalCount", len(times))),
                    int(errors) + int(faults),
                    percentile(times, 50) if times else 0.0,
                    percentile(times, 95) if times else 0.0,
                )
            )
    return found, resources


def table(map_edges: list[Edge]) -> Table:
    t = Table(title="service map", title_justify="left")
    for column in ("from", "to", "calls", "errors", "p50 ms", "p95 ms"):
        t.add_column(column, justify="right" if column in ("calls", "errors", "p50 ms", "p95 ms") else "left")
    for e in map_edges:
        errors = f"{e.error_pct:.0f}%" if e.errors else "0%"
        t.add_row(
            e.source,
            e.target,
            str(e.calls),
            errors,
            f"{e.p50_ms:.1f}",
            f"{e.p95_ms:.1f}",
            style="red" if e.errors else None,
        )
    return t


RENDERER = Path(__file__).with_name("render_dot.mjs")
"""Graphviz compiled to WebAssembly (npm @viz-js/viz, installed by `npm ci`), run by Node."""


def dot_source(map_edges: list[Edge], *, title: str = "", resources: set[str] | None = None) -> str:
    """The map in Graphviz's DOT language: left to right, hop by hop.

    Graphviz's `dot` layout is what keeps it readable: boxes sized to their names, edge labels placed
    as nodes of their own (so no label lies over another), edges routed around the boxes.
    """
    import graphviz

    graph = graphviz.Digraph(
        graph_attr={
            "rankdir": "LR",
            "ranksep": "0.9",
            "nodesep": "0.35",
            "fontname": "Helvetica",
            "fontsize": "12",
            "label": title,
            "labelloc": "t",
            "labeljust": "l",
        },
        node_attr={
            "fontname": "Helvetica",
            "fontsize": "11",
            "shape": "box",
            "style": "rounded,filled",
            "margin": "0.15,0.06",
        },
        edge_attr={"fontname": "Helvetica", "fontsize": "9", "arrowsize": "0.7"},
    )
    # Node ids are numbers, names only labels: DOT reads `host:port` in an edge as a node and a port.
    ids = {
        name: f"n{i}" for i, name in enumerate(sorted({e.source for e in map_edges} | {e.target for e in map_edges}))
    }
    for name, node_id in ids.items():
        resource = name in resources if resources is not None else is_resource(name)
        graph.node(
            node_id,
            label=name,
            fillcolor="#fbe3d0" if resource else "#dbe9f6",
            color="#b26b2f" if resource else "#2f6aa1",
        )
    for e in map_edges:
        colour = "#c00000" if e.errors else "#505050"
        label = f"{e.calls} calls · {e.error_pct:.0f}% err\\np50 {e.p50_ms:.0f} ms"
        graph.edge(ids[e.source], ids[e.target], label=label, color=colour, fontcolor=colour)
    return graph.source


def render_svg(dot: str) -> str:
    """SVG for DOT text, laid out by Graphviz's `dot`. RuntimeError with the fix when Node's part is missing."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        raise RuntimeError("drawing the service map needs Node.js (the one `npx cdk` uses)")
    result = subprocess.run([node, str(RENDERER)], input=dot, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"Graphviz (npm @viz-js/viz) failed: {detail[0]}; run `npm ci` (make setup) first")
    return result.stdout


def draw(map_edges: list[Edge], path: Path) -> None:
    """Write the map as an SVG picture."""
    if path.suffix.lower() != ".svg":
        raise ValueError(f"{path}: the service map is drawn as SVG; name the file .svg")
    svg = render_svg(
        dot_source(
            map_edges, title="Service map: functions in blue, AWS resources and hosts in orange, red edges had errors"
        )
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(svg)
