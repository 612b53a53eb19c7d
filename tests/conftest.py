"""Shared fixtures. Servers started here bind to 127.0.0.1 and stop at the end of the session."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.trace_documents import TRACE

pytest_plugins = ["tests.probe_environment", "tests.browser"]

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# The propagators the bootstrap reads, as the jaeger profile sets them (no Lambda env fallback).
# Read once when opentelemetry.propagate is first imported, so set before any test imports it.
os.environ.setdefault("OTEL_PROPAGATORS", "tracecontext,baggage,xray")
os.environ.setdefault("OTEL_SERVICE_NAME", "tests")
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")  # as the stack sets it (infra/exporter_profile.py)
# Functions under the emulator get a whole core in tests that do not test time or CPU (quicker; still
# frozen between invocations): tests/test_lambda_as_billed.py gives them their memory's share.
os.environ.setdefault("TRACECTL_UNTHROTTLED", "1")
ROOT = Path(__file__).resolve().parent.parent
JAEGER = "https://jaeger.example.com:4318"
# cdk.json's context: the feature flags every synth runs with, the CLI's and the tests' alike.
CDK_FEATURE_FLAGS = json.loads((ROOT / "cdk.json").read_text())["context"]


def require_tools(*names: str, needed_for: str) -> None:
    """Skip (with the one reason) unless `make tools` built `names`; fail instead in CI (TRACECTL_REQUIRE_E2E=1)."""
    import shutil

    from tracectl import tools

    if tools.installed(*names):
        return
    if shutil.which("go") is None:
        reason = f"{needed_for} needs Go (its parts are built from their Go modules): not installed"
    else:
        reason = f"{needed_for} needs `make tools` (builds {', '.join(names)} into .tools/bin) first"
    if os.environ.get("TRACECTL_REQUIRE_E2E") == "1":
        pytest.fail(reason + " — and TRACECTL_REQUIRE_E2E=1 makes it required")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def lambda_emulator() -> None:
    """The local run executes every function under AWS's Lambda Runtime Interface Emulator."""
    from tracectl import tools

    require_tools(tools.RIE, needed_for="running functions as Lambda does")


@pytest.fixture(scope="session")
def synth_stacks(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., dict[str, dict]]:
    """synth_stacks(exporter, **context) -> {stack name: template}, cdk-nag and tracing guard applied.

    Bundling is skipped (the asset is the source tree); tests/test_cdk_cli.py bundles for real.
    Results are cached per context, so each context is synthesized once per session. A Jaeger
    exporter gets the test endpoint unless the context deploys one (-c deployJaeger=true).
    """
    from aws_cdk import App

    from infra.app import build

    cache: dict[str, tuple[dict[str, dict], Path]] = {}

    def _assembly(exporter: str, context: dict[str, str]) -> tuple[dict[str, dict], Path]:
        needs_endpoint = exporter != "xray" and "deployJaeger" not in context
        context = {"exporter": exporter, **({"jaegerEndpoint": JAEGER} if needs_endpoint else {}), **context}
        key = json.dumps(context, sort_keys=True)
        if key not in cache:
            outdir = tmp_path_factory.mktemp("cdk.out")
            app = App(outdir=str(outdir), context={**CDK_FEATURE_FLAGS, "aws:cdk:bundling-stacks": [], **context})
            build(app)
            app.synth()
            templates = {
                path.name.removesuffix(".template.json"): json.loads(path.read_text())
                for path in outdir.glob("*.template.json")
            }
            cache[key] = (templates, outdir)
        return cache[key]

    def _synth(exporter: str = "xray", **context: str) -> dict[str, dict]:
        return _assembly(exporter, context)[0]

    _synth.outdir = lambda exporter="xray", **context: _assembly(exporter, context)[1]  # type: ignore[attr-defined]
    return _synth


@pytest.fixture(scope="session")
def synth(synth_stacks) -> Callable[..., dict]:
    """synth(exporter, **context) -> the app stack's synthesized template (see synth_stacks)."""
    from infra.app import STACK_NAME

    def _synth(exporter: str = "xray", **context: str) -> dict:
        return synth_stacks(exporter, **context)[STACK_NAME]

    return _synth


@pytest.fixture(scope="session")
def acknowledgements(synth_stacks) -> Callable[..., dict[str, dict[str, str]]]:
    """acknowledgements(exporter, stack=…, **context) -> {construct path: {rule id: reason}} as recorded."""
    from infra.app import STACK_NAME

    def _acks(exporter: str, stack: str = STACK_NAME, **context: str) -> dict[str, dict[str, str]]:
        outdir = synth_stacks.outdir(exporter, **context)
        metadata = json.loads((outdir / f"{stack}.metadata.json").read_text())
        found: dict[str, dict[str, str]] = {}
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    found.setdefault(path, {}).update(entry["data"])
        return found

    return _acks


@pytest.fixture(scope="session")
def local_aws():
    """moto server on 127.0.0.1 with the app's resources; boto3 in this process points at it."""
    from tracectl.emulation.local_aws import LocalAws

    saved = dict(os.environ)
    with LocalAws() as local:
        os.environ.update(local.environment())
        yield local
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session", autouse=True)
def span_exporter():
    """The in-memory exporter behind the bootstrap's provider for every in-process test.

    Autouse: set up before any test imports a handler (which sets the provider up at import), so
    no test depends on which one ran first."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import functions.tracing as tracing

    exporter = InMemorySpanExporter()
    provider = tracing.setup(exporter=exporter)
    assert tracing.setup() is provider
    return exporter


@pytest.fixture
def spans(span_exporter):
    """spans() -> the finished spans since the test began (flushed)."""
    import functions.tracing as tracing

    tracing.flush()
    span_exporter.clear()

    def _spans():
        tracing.flush()
        return list(span_exporter.get_finished_spans())

    return _spans


@pytest.fixture
def handler(local_aws, span_exporter, monkeypatch):
    """handler(name) -> the real handler function, with the env the stack would give it.

    Every queue starts empty, so no test sees another's messages.
    """
    import importlib

    from infra import topology

    local_aws.drain()

    def _load(name: str):
        spec = topology.function(name)
        for key, value in local_aws.function_environment(spec).items():
            monkeypatch.setenv(key, value)
        return importlib.import_module(f"functions.{name}.handler").handler

    return _load


@pytest.fixture
def external_endpoint():
    """The local stand-in for the external HTTPS endpoint that tracectl's runner uses (no internet here)."""
    from tracectl.emulation.local_run import ExternalEndpoint

    endpoint = ExternalEndpoint()
    yield endpoint.url
    endpoint.stop()


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Recorder:
    """A local HTTP server that records every request and answers with `respond(recorded)`."""

    def __init__(self, respond: Callable[[Recorded], tuple[int, object]]) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorded = Recorded(self.command, self.path, dict(self.headers.items()), body)
                outer.requests.append(recorded)
                status, document = respond(recorded)
                payload = json.dumps(document).encode() if document is not None else b""
                self.send_response(status)
                if document is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = _any  # noqa: N815 - http.server's method names

            def log_message(self, *_args: object) -> None:
                pass

        self.requests: list[Recorded] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class FakeJaeger(Recorder):
    """Serves the query API: /api/v3/traces/{id} and/or the legacy /api/traces/{id}."""

    def __init__(self, *, v3: dict | None, legacy: dict | None, status: int = 200, trace: str = TRACE) -> None:
        def respond(request: Recorded) -> tuple[int, object]:
            if status != 200:
                return status, None
            if request.path == f"/api/v3/traces/{trace}" and v3 is not None:
                return 200, v3
            if request.path == f"/api/traces/{trace}" and legacy is not None:
                return 200, legacy
            return 404, {}

        super().__init__(respond)

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    @property
    def headers(self) -> list[dict[str, str]]:
        return [r.headers for r in self.requests]


@pytest.fixture
def jaeger() -> Iterator:
    """jaeger(v3=…, legacy=…, status=…, trace=…) → a local stand-in for Jaeger's query API."""
    servers: list[FakeJaeger] = []

    def start(**kwargs) -> FakeJaeger:
        servers.append(FakeJaeger(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def recorder() -> Iterator[Callable[..., Recorder]]:
    """recorder(respond=…) → a local HTTP server that records requests (answers 200 {} by default)."""
    servers: list[Recorder] = []

    def start(respond: Callable[[Recorded], tuple[int, object]] = lambda _r: (200, {})) -> Recorder:
        servers.append(Recorder(respond))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
