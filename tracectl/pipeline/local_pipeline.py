"""The real pipeline on this machine: Jaeger v2, an AWS emulator for X-Ray, and the collector.

`LocalPipeline` starts three child processes, each bound to 127.0.0.1 on a free port:
- `jaeger` (built by `make tools`) with `collector/local/jaeger.yaml`: OTLP/HTTP in, query API out;
- moto server (`python -m moto.server`): the X-Ray API the awsxray exporter writes to;
- `otelcol-lambda` (built by `make tools`, the ADOT layer's components) running the shipped
  `collector/<exporter>.yaml` *verbatim*, with a generated overlay merged on top that changes only
  what must differ here: the OTLP receiver's port, the awsxray exporter's `endpoint`, the
  collector's own metrics port. `JAEGER_ENDPOINT` points at the local Jaeger, as the stack's
  environment variable does in Lambda.
Children get SIGTERM if this process dies (PR_SET_PDEATHSIG), so nothing outlives a run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import urllib3
import yaml

from infra.config import EXPORTERS
from infra.exporter_profile import JAEGER_AUTHORIZATION_ENV, JAEGER_ENDPOINT_ENV
from tracectl import tools
from tracectl.emulator_identity import FAKE_CREDENTIALS, REGION
from tracectl.processes import Child, free_port

ROOT = Path(__file__).resolve().parents[2]
COLLECTOR_DIR = ROOT / "collector"
JAEGER_CONFIG = COLLECTOR_DIR / "local" / "jaeger.yaml"
DEPLOYED_JAEGER_CONFIG = COLLECTOR_DIR / "jaeger-on-aws" / "config.yaml"
READY_TIMEOUT_S = 60.0
ENDPOINTS_FILE = "endpoints.json"
"""Written into the work directory while the pipeline runs (`tracectl view --stack` reads it)."""


class PipelineError(RuntimeError):
    """The stack cannot start or a part of it died; the message is one line saying why."""


@dataclass(frozen=True)
class Endpoints:
    exporter: str
    otlp_http: str
    """Where functions send OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT): the collector."""
    jaeger_query: str
    """Jaeger's query API base URL (`/api/v3/traces/{id}`); `tracectl compare --jaeger` takes it."""
    jaeger_otlp: str
    """What JAEGER_ENDPOINT is in the collector's environment."""
    aws_endpoint: str
    """The AWS emulator (X-Ray API): AWS_ENDPOINT_URL for `tracectl compare --xray`."""
    region: str
    collector_config: str
    jaeger_health: str | None = None
    """Jaeger's health check (`GET /status`) as the Jaeger stack's load balancer asks it: with
    `ingest_credentials` only (collector/local/jaeger.yaml has none)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def running_pipeline(work_dir: Path) -> Endpoints | None:
    """The endpoints of a pipeline that runs in `work_dir` (`tracectl stack`) and answers; None if none does
    (a file left by a pipeline that was killed is ignored)."""
    try:
        endpoints = Endpoints(**json.loads((work_dir / ENDPOINTS_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=2.0))
    try:
        answers = http.request("GET", f"{endpoints.jaeger_query}/api/services").status == 200
        answers = answers and http.request("POST", f"{endpoints.otlp_http}/v1/traces", body=b"").status < 500
    except urllib3.exceptions.HTTPError:
        return None
    return endpoints if answers else None


def claim_port(port: int) -> int:
    """`port` if it can be bound on 127.0.0.1 (a free one for 0); PipelineError saying why if not."""
    if port == 0:
        return free_port()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as error:
            raise PipelineError(f"cannot bind 127.0.0.1:{port}: {error.strerror}") from None
    return port


def collector_overlay(exporter: str, *, otlp_port: int, xray_endpoint: str, metrics_port: int) -> dict[str, Any]:
    """The only settings the local run changes on top of `collector/<exporter>.yaml`."""
    shipped = yaml.safe_load((COLLECTOR_DIR / f"{exporter}.yaml").read_text())
    overlay: dict[str, Any] = {
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{otlp_port}"}}}},
        "service": {
            "telemetry": {
                "metrics": {
                    "readers": [{"pull": {"exporter": {"prometheus": {"host": "127.0.0.1", "port": metrics_port}}}}]
                }
            }
        },
    }
    if "awsxray" in shipped.get("exporters", {}):
        overlay["exporters"] = {"awsxray": {"endpoint": xray_endpoint}}
    return overlay


def deployed_jaeger_config(*, otlp: int, query: int, grpc: int, health: int) -> dict[str, Any]:
    """The Jaeger stack's config (collector/jaeger-on-aws/config.yaml), runnable here.

    Verbatim but for what cannot run on this machine: spans go to memory instead of the OpenSearch
    domain (so the SigV4 extension that signs for it goes too), and every listener binds a port on
    127.0.0.1. The OTLP receiver, its basicauth, the health check and the query extension stay.
    """
    config = yaml.safe_load(DEPLOYED_JAEGER_CONFIG.read_text())
    extensions = config["extensions"]
    backends = extensions["jaeger_storage"]["backends"]
    for name, backend in list(backends.items()):
        authenticator = backend.get("opensearch", {}).get("auth", {}).get("authenticator")
        if authenticator:
            del extensions[authenticator]
            config["service"]["extensions"].remove(authenticator)
        backends[name] = {"memory": {"max_traces": 100000}}
    config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] = f"127.0.0.1:{otlp}"
    extensions["jaeger_query"]["http"]["endpoint"] = f"127.0.0.1:{query}"
    extensions["jaeger_query"]["grpc"]["endpoint"] = f"127.0.0.1:{grpc}"
    extensions["healthcheckv2"]["http"]["endpoint"] = f"127.0.0.1:{health}"
    return config


class LocalPipeline:
    """Use as a context manager; every child it starts stops on exit.

    `jaeger_otlp` / `xray_endpoint` send the collector elsewhere than the stack's own Jaeger and
    emulator (fault tests: a dead or black-holed backend); the stack still starts both.
    `ingest_credentials=(user, password)` runs Jaeger as the Jaeger stack configures it (basic auth
    on ingest, see `deployed_jaeger_config`) and has the collector send the header, as the
    deployed functions' collectors do.
    """

    def __init__(
        self,
        exporter: str,
        *,
        work_dir: Path,
        otlp_port: int = 0,
        jaeger_otlp: str | None = None,
        xray_endpoint: str | None = None,
        ingest_credentials: tuple[str, str] | None = None,
    ) -> None:
        if exporter not in EXPORTERS:
            raise PipelineError(f"--exporter {exporter} is not valid: use one of {' | '.join(EXPORTERS)}")
        self.exporter = exporter
        self.work_dir = work_dir
        self._otlp_port = otlp_port
        self._jaeger_otlp_override = jaeger_otlp
        self._xray_override = xray_endpoint
        self._credentials = ingest_credentials
        self.children: dict[str, Child] = {}
        self.endpoints: Endpoints | None = None
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(total=2.0), retries=False)

    def __enter__(self) -> LocalPipeline:
        for name in (tools.COLLECTOR, tools.JAEGER):
            if not tools.binary(name).exists():
                raise PipelineError(f"{tools.shown(tools.binary(name))} is missing: run make tools")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        otlp_port = claim_port(self._otlp_port)
        jaeger_otlp, jaeger_query, jaeger_grpc, jaeger_health, moto, metrics = (free_port() for _ in range(6))
        aws_endpoint = f"http://127.0.0.1:{moto}"
        self.endpoints = Endpoints(
            exporter=self.exporter,
            otlp_http=f"http://127.0.0.1:{otlp_port}",
            jaeger_query=f"http://127.0.0.1:{jaeger_query}",
            jaeger_otlp=self._jaeger_otlp_override or f"http://127.0.0.1:{jaeger_otlp}",
            aws_endpoint=aws_endpoint,
            region=REGION,
            collector_config=str(COLLECTOR_DIR / f"{self.exporter}.yaml"),
            jaeger_health=f"http://127.0.0.1:{jaeger_health}/status" if self._credentials else None,
        )
        overlay = self.work_dir / f"collector-overlay-{self.exporter}.yaml"
        overlay.write_text(
            "# Generated by tracectl stack: merged on top of the shipped config; only local endpoints.\n"
            + yaml.safe_dump(
                collector_overlay(
                    self.exporter,
                    otlp_port=otlp_port,
                    xray_endpoint=self._xray_override or aws_endpoint,
                    metrics_port=metrics,
                ),
                sort_keys=False,
            )
        )
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OTEL_", "JAEGER_"))}
        jaeger_config, jaeger_env, authorization = JAEGER_CONFIG, {}, ""
        if self._credentials is not None:
            jaeger_config = self.work_dir / "jaeger-as-deployed.yaml"
            jaeger_config.write_text(
                "# Generated by tracectl stack from collector/jaeger-on-aws/config.yaml: memory storage, local ports.\n"
                + yaml.safe_dump(
                    deployed_jaeger_config(
                        otlp=jaeger_otlp, query=jaeger_query, grpc=jaeger_grpc, health=jaeger_health
                    ),
                    sort_keys=False,
                )
            )
            user, password = self._credentials
            jaeger_env = {"OTLP_USERNAME": user, "OTLP_PASSWORD": password}
            authorization = urllib3.util.make_headers(basic_auth=f"{user}:{password}")["authorization"]
        else:
            jaeger_env = {
                "JAEGER_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{jaeger_otlp}",
                "JAEGER_QUERY_HTTP_ENDPOINT": f"127.0.0.1:{jaeger_query}",
                "JAEGER_QUERY_GRPC_ENDPOINT": f"127.0.0.1:{jaeger_grpc}",
            }
        try:
            self._start(
                "jaeger", [str(tools.binary(tools.JAEGER)), "--config", str(jaeger_config)], {**base_env, **jaeger_env}
            )
            self._start("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto)], base_env)
            endpoints = self.endpoints
            self._wait("jaeger", lambda: self._answers("GET", f"{endpoints.jaeger_query}/api/services"))
            self._wait("moto", lambda: self._answers("GET", f"{aws_endpoint}/moto-api/data.json"))
            self._start(
                "collector",
                [
                    str(tools.binary(tools.COLLECTOR)),
                    "--config",
                    str(COLLECTOR_DIR / f"{self.exporter}.yaml"),
                    "--config",
                    str(overlay),
                ],
                {
                    **base_env,
                    **FAKE_CREDENTIALS,  # the emulator accepts any; nothing leaves the machine
                    "AWS_REGION": REGION,  # as Lambda sets it for the layer
                    JAEGER_ENDPOINT_ENV: self.endpoints.jaeger_otlp,
                    JAEGER_AUTHORIZATION_ENV: authorization,
                },
            )
            self._wait("collector", lambda: self._answers("POST", f"{endpoints.otlp_http}/v1/traces"))
        except BaseException:
            self.__exit__()
            raise
        (self.work_dir / ENDPOINTS_FILE).write_text(self.endpoints.to_json() + "\n")
        return self

    def __exit__(self, *_exc: object) -> None:
        (self.work_dir / ENDPOINTS_FILE).unlink(missing_ok=True)
        for child in reversed(list(self.children.values())):
            child.stop()

    def check_alive(self) -> None:
        for child in self.children.values():
            if not child.alive():
                raise PipelineError(f"{child.name} exited ({child.process.returncode}): {child.last_line()}")

    def _start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.children[name] = Child(name, command, env, self.work_dir / f"{name}.log")

    def _answers(self, method: str, url: str) -> bool:
        headers = {"Content-Type": "application/x-protobuf"} if method == "POST" else {}
        try:
            return self._http.request(method, url, body=b"" if method == "POST" else None, headers=headers).status < 300
        except urllib3.exceptions.HTTPError:
            return False

    def _wait(self, name: str, ready: Callable[[], bool]) -> None:
        child = self.children[name]
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if ready():
                return
            if not child.alive():
                why = f"{child.last_line()} (log: {child.log})"
                raise PipelineError(f"{name} exited ({child.process.returncode}): {why}")
            time.sleep(0.1)
        raise PipelineError(f"{name} did not answer within {READY_TIMEOUT_S:.0f} s (log: {child.log})")


def serve(stack: LocalPipeline, say: Callable[[str], None]) -> int:
    """Print the endpoints as one JSON line, then wait for SIGINT/SIGTERM or a child's death."""
    assert stack.endpoints is not None
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        say(stack.endpoints.to_json())
        while not stopping:
            stack.check_alive()
            time.sleep(0.2)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
