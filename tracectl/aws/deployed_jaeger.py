"""The Jaeger that `-c deployJaeger=true` deploys, as tracectl reaches it.

The Jaeger stack's outputs name its URL: nobody copies it by hand. Every path but OTLP ingest
takes IAM only (API Gateway's AWS_IAM authorization), so each request is signed with SigV4 for
`execute-api` with boto3's usual credentials; whoever may call `execute-api:Invoke` on the API
(an administrator, or a role granted it) can read traces, nobody else. `UiProxy` is the local door
to the UI for a browser, which cannot sign: it listens on 127.0.0.1 only and stops when idle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import urllib3

from infra.jaeger import outputs
from tracectl.http_relay import relay
from tracectl.traces.trace_model import SourceError

# The Jaeger stack's outputs tracectl reads (infra/jaeger_stack.py writes them).
URL_OUTPUT, SECRET_OUTPUT = outputs.JAEGER_URL, outputs.INGEST_SECRET_NAME


@dataclass(frozen=True)
class DeployedJaeger:
    stack: str
    url: str
    """The UI and query API (and, at /v1/traces, OTLP ingest)."""
    region: str
    ingest_secret: str


def from_stack(stack_name: str, region: str | None = None) -> DeployedJaeger:
    """The Jaeger stack's outputs, read with boto3's usual settings; SourceError saying what is wrong."""
    import boto3
    import botocore.exceptions

    try:
        client = boto3.client("cloudformation", region_name=region) if region else boto3.client("cloudformation")
        [stack] = client.describe_stacks(StackName=stack_name)["Stacks"]
    except botocore.exceptions.NoCredentialsError:
        raise SourceError("no AWS credentials to read the Jaeger stack with (boto3's usual settings)") from None
    except botocore.exceptions.BotoCoreError as error:
        raise SourceError(f"cannot read stack {stack_name}: {error}") from None
    except botocore.exceptions.ClientError as error:
        raise SourceError(f"cannot read stack {stack_name}: {error.response['Error']['Message']}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [key for key in (URL_OUTPUT, SECRET_OUTPUT) if key not in outputs]
    if missing:
        raise SourceError(
            f"stack {stack_name} has no {', '.join(missing)} output: is it the Jaeger stack "
            "(deployed with -c deployJaeger=true)?"
        )
    return DeployedJaeger(
        stack=stack_name,
        url=outputs[URL_OUTPUT].rstrip("/"),
        region=client.meta.region_name,
        ingest_secret=outputs[SECRET_OUTPUT],
    )


Signer = Callable[[str, str, Mapping[str, str]], dict[str, str]]


def sigv4_signer(region: str) -> Signer:
    """signer(method, url, headers) -> the headers plus SigV4's (`execute-api`), boto3's credentials."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = boto3.Session(region_name=region).get_credentials()
    if credentials is None:
        raise SourceError("no AWS credentials to sign requests to the deployed Jaeger with (boto3's usual settings)")

    def sign(method: str, url: str, headers: Mapping[str, str]) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, headers=dict(headers))
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
        return dict(request.headers.items())

    return sign


class UiProxy:
    """Serves the deployed Jaeger's UI on 127.0.0.1:`port`, signing each request on its way.

    Read-only (GET and HEAD; anything else answers 405). Stops after `idle_s` without a request,
    or on `stop()`. Use as a context manager, or call `serve()` to block until then.
    """

    def __init__(self, upstream: str, sign: Signer, *, port: int = 0, idle_s: float = 3600.0) -> None:
        proxy = self
        self.upstream = upstream.rstrip("/")
        self._sign = sign
        self._idle_s = idle_s
        self._last = time.monotonic()
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5.0, read=30.0), retries=False)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.forward(self)

            def do_HEAD(self) -> None:
                proxy.forward(self)

            def _refuse(self) -> None:
                self.send_error(405, "read-only: the deployed Jaeger's UI is only read through this proxy")

            do_POST = do_PUT = do_PATCH = do_DELETE = _refuse  # noqa: N815 - http.server's method names

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._stopped = threading.Event()

    def forward(self, request: BaseHTTPRequestHandler) -> None:
        self._last = time.monotonic()
        target = self.upstream + request.path
        wanted = {"Accept": request.headers.get("Accept", "*/*")}
        if request.headers.get("Accept-Encoding"):
            wanted["Accept-Encoding"] = request.headers["Accept-Encoding"]
        try:
            answer = self._http.request(
                request.command, target, headers=self._sign(request.command, target, wanted), decode_content=False
            )
        except urllib3.exceptions.HTTPError as error:
            request.send_error(502, f"the deployed Jaeger did not answer: {error}")
            return
        relay(request, answer)

    def serve(self) -> None:
        """Block until idle for `idle_s`, or `stop()`."""
        watcher = threading.Thread(target=self._stop_when_idle, daemon=True)
        watcher.start()
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._stopped.set()
            self._server.server_close()

    def _stop_when_idle(self) -> None:
        while not self._stopped.wait(1.0):
            if time.monotonic() - self._last > self._idle_s:
                self._server.shutdown()
                return

    def stop(self) -> None:
        self._stopped.set()
        self._server.shutdown()

    def __enter__(self) -> UiProxy:
        self._thread = threading.Thread(target=self.serve, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
        self._thread.join(timeout=5)
