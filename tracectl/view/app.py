"""The view's pages, rendered on the server with Flask and Jinja: no JavaScript, nothing fetched.

Routes: `/` the trace list (filters `?errors=1`, `?function=NAME`), `/traces/<id>` one trace as X-Ray
and Jaeger show it (an X-Ray id or 32 hex digits; 404 for an id no source holds), `/map.svg` the
service map of every trace, `/traces/<id>/map.svg` of one.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask, Response, abort, render_template, request

from tracectl.traces import service_map
from tracectl.traces.compare import Difference
from tracectl.traces.trace_model import SourceError, Trace
from tracectl.traces.xray_conversion import xray_id
from tracectl.view.catalog import Catalog, delivery_waits
from tracectl.view.timeline import Axis, jaeger_rows, xray_rows

_XRAY_ID = re.compile(r"1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})")
_HEX_ID = re.compile(r"[0-9a-fA-F]{32}")


@dataclass(frozen=True)
class Links:
    """Where the real UIs are, for a link from each side."""

    jaeger_ui: str | None
    xray_region: str | None
    """None where X-Ray is the emulator's (no console to link to)."""

    def jaeger(self, trace_id: str) -> str | None:
        return f"{self.jaeger_ui.rstrip('/')}/trace/{trace_id}" if self.jaeger_ui else None

    def xray(self, trace_id: str) -> str | None:
        if not self.xray_region:
            return None
        region = self.xray_region
        return (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#xray:traces/{xray_id(trace_id)}"
        )


def hex_trace_id(text: str) -> str | None:
    """32 lower-case hex digits for an X-Ray or hex trace id; None for anything else."""
    match = _XRAY_ID.fullmatch(text)
    if match:
        return (match[1] + match[2]).lower()
    return text.lower() if _HEX_ID.fullmatch(text) else None


def create_app(catalog: Catalog, links: Links) -> Flask:
    app = Flask(__name__)
    maps: dict[str, str] = {}

    def picture(trace_id: str | None, traces: dict[str, Trace], of: str) -> str:
        """X-Ray's own service graph where the source has one, else tracectl's from the spans.
        Kept until the traces it was drawn from change."""
        key = f"{trace_id or 'all'}:{len(traces)}:{max((t.start_ns for t in traces.values()), default=0)}"
        if key in maps:
            return maps[key]
        graph = catalog.xray_graph(trace_id)
        if graph:
            edges, resources = service_map.from_xray_graph(graph)
            dot = service_map.dot_source(edges, title=f"X-Ray's service graph of {of}", resources=resources)
        else:
            title = f"Service map of {of}, from the spans ({catalog.without_xray_graph})"
            dot = service_map.dot_source(service_map.edges(traces), title=title)
        try:
            maps[key] = service_map.render_svg(dot)
        except RuntimeError as error:
            text = f'<text x="8" y="24">{html.escape(str(error))}</text>'
            return f'<svg xmlns="http://www.w3.org/2000/svg" width="900" height="40">{text}</svg>'
        return maps[key]

    @app.errorhandler(SourceError)
    def unreadable(error: SourceError) -> tuple[str, int]:
        return render_template("problem.html", catalog=catalog, problem=str(error)), 502

    @app.get("/")
    def trace_list() -> str:
        only_errors = request.args.get("errors") == "1"
        function = request.args.get("function", "")
        every = sorted(catalog.listing(), key=lambda t: t.start_ns, reverse=True)
        shown = [t for t in every if (not only_errors or t.errors) and (not function or function in t.functions)]
        return render_template(
            "list.html",
            catalog=catalog,
            traces=shown,
            total=len(every),
            functions=sorted({f for t in every for f in t.functions}),
            only_errors=only_errors,
            function=function,
            started=lambda ns: datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        )

    @app.get("/favicon.ico")
    def no_icon() -> Response:
        return Response(status=204)  # browsers ask on every page, the SVG ones too

    @app.get("/map.svg")
    def whole_map() -> Response:
        svg = picture(None, catalog.traces(), f"every trace ({catalog.description})")
        return Response(svg, mimetype="image/svg+xml")

    @app.get("/traces/<trace_id>")
    def trace_page(trace_id: str) -> str:
        wanted = hex_trace_id(trace_id)
        sides = catalog.sides(wanted) if wanted else None
        if wanted is None or sides is None:
            abort(404, f"no trace {trace_id} in {catalog.description}")
        comparison = sides.comparison
        by_span: dict[str, list[Difference]] = defaultdict(list)
        for difference in comparison.differences if comparison else []:
            by_span[difference.span_id].append(difference)
        times = [(s.start_ns, s.end_ns) for side in (sides.xray, sides.jaeger) if side for s in side.spans]
        axis = Axis.spanning(times)
        xray_waits = delivery_waits(sides.xray) if sides.xray and catalog.local else {}
        jaeger_waits = delivery_waits(sides.jaeger) if sides.jaeger and catalog.local else {}
        return render_template(
            "trace.html",
            catalog=catalog,
            trace_id=wanted,
            xray_trace_id=xray_id(wanted),
            sides=sides,
            comparison=comparison,
            axis=axis,
            xray=xray_rows(sides.xray_documents, axis, by_span, xray_waits) if sides.xray_documents else None,
            jaeger=jaeger_rows(sides.jaeger, axis, by_span, jaeger_waits) if sides.jaeger else None,
            xray_link=links.xray(wanted),
            jaeger_link=links.jaeger(wanted),
        )

    @app.get("/traces/<trace_id>/map.svg")
    def trace_map(trace_id: str) -> Response:
        wanted = hex_trace_id(trace_id)
        sides = catalog.sides(wanted) if wanted else None
        trace = (sides.jaeger or sides.xray) if sides else None
        if wanted is None or trace is None:
            abort(404)
        svg = picture(wanted, {wanted: trace}, f"trace {wanted}")
        return Response(svg, mimetype="image/svg+xml")

    return app
