"""The whole app on this machine: moto for AWS, one Lambda execution environment per function, AWS's delivery rules.

`LocalRun` wires what infra/topology.py declares and plays the Lambda service: API requests go to
`ingest`; SNS notifications and EventBridge events reach each triggered function through its tap
queue; the work queue is polled in batches of up to 10, as Lambda's event source mapping does.
Every function runs under AWS's Runtime Interface Emulator and the real runtime client, from the
bundle the bundler builds (tracectl/emulation/execution_environment.py), with the environment the stack
gives it for the emulated exporter (`xray` by default: Active tracing, `xray-lambda`), and every
invocation gets the X-Ray header Lambda would give it (tracectl/emulation/lambda_trace_header.py).
Failures follow AWS's semantics so nothing disappears: an async (SNS, EventBridge, S3) invocation
that fails is retried twice, then its event is sent to the on-failure queue in Lambda's
destination-record shape; SQS records that fail become visible again and, after
`maxReceiveCount` receives, moto's redrive moves them to the DLQ.
"""

from __future__ import annotations

import functools
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from infra import topology
from infra.config import TracerConfig
from infra.exporter_profile import (
    COLLECTOR_CONFIG_ENV,
    JAEGER_AUTHORIZATION_ENV,
    JAEGER_ENDPOINT_ENV,
    profile_for,
    tracing_environment,
)
from tracectl.emulation import runtime_and_bundle, span_record
from tracectl.emulation.aws_segments import AwsSegments, Header, put_trace_segments
from tracectl.emulation.execution_environment import ExecutionEnvironment, FunctionSpec
from tracectl.emulation.lambda_events import api_gateway_event
from tracectl.emulation.lambda_trace_header import new_trace_header, runtime_header, upstream_header
from tracectl.emulation.local_aws import LocalAws
from tracectl.emulation.pollers import Pollers
from tracectl.emulation.uploader import Uploader
from tracectl.emulator_identity import ACCOUNT, REGION

"""What infra/traced_function.py gives every function."""


@dataclass
class RunStats:
    invocations: Counter[str] = field(default_factory=Counter)
    function_errors: Counter[str] = field(default_factory=Counter)
    async_failures: int = 0
    responses: list[dict[str, Any]] = field(default_factory=list)
    responded_s: list[float] = field(default_factory=list)
    """Per API request: invoke → the runtime posting the response (when API Gateway would answer)."""


class ExternalEndpoint:
    """A stand-in for the `http` function's external HTTPS endpoint: no internet needed."""

    def __init__(self) -> None:
        class Ok(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class LocalRun:
    """Use as a context manager; every process and server it starts stops on exit."""

    def __init__(
        self,
        *,
        otlp_endpoint: str,
        work_dir: Path,
        fault_rate: float,
        seed: int | None,
        exporter: str = "xray",
        span_record_dir: Path | None = None,
        xray_endpoint: str | None = None,
    ) -> None:
        """`exporter`: the deploy whose Lambda side is emulated (tracing mode, propagators, sampler);
        the spans go to `otlp_endpoint` whatever it is. `span_record_dir`: each function's SDK also
        records every span it finishes there (tracectl/emulation/span_record.py). `xray_endpoint`: an
        X-Ray API (the local pipeline's emulator) that gets the segments AWS would write itself
        (`segments`), sent as each `pump` ends."""
        self.otlp_endpoint = otlp_endpoint
        self.work_dir = work_dir
        self.fault_rate = fault_rate
        self.seed = seed
        self.config = TracerConfig(exporter=exporter, jaeger_endpoint=otlp_endpoint, sampling_ratio=1.0)
        self.profile = profile_for(self.config)
        self.span_record_dir = span_record_dir
        self.stats = RunStats()
        self._stats_lock = threading.Lock()
        self._ids = random.Random(seed)
        """Request trace ids (the caller's thread); each function's poller has its own generator."""
        self._function_ids = {
            f.name: random.Random(None if seed is None else f"{seed}:{f.name}") for f in topology.FUNCTIONS
        }
        self.segments: AwsSegments | None = None
        """What API Gateway and Lambda write into X-Ray themselves: only with Lambda's Active tracing."""
        if self.profile.lambda_tracing == "Active":
            self.segments = AwsSegments(random.Random(None if seed is None else f"{seed}:aws"))
        self._xray_endpoint = xray_endpoint
        self._shipped = 0
        self._pollers = Pollers(
            {f.name: functools.partial(self._deliver, f) for f in topology.FUNCTIONS if f.trigger.kind != "api"}
        )
        self.aws = LocalAws()
        self.environments: dict[str, ExecutionEnvironment] = {}
        self._running = ExitStack()
        self._external: ExternalEndpoint | None = None
        self._uploader: Uploader | None = None

    def __enter__(self) -> LocalRun:
        try:
            self._running.enter_context(self.aws)
            self._external = ExternalEndpoint()
            self._running.callback(self._external.stop)
            runtime_python = runtime_and_bundle.runtime()
            task = runtime_and_bundle.bundle(str(runtime_python))
            logs = self.work_dir / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            for spec in topology.FUNCTIONS:
                function = FunctionSpec(
                    name=spec.name,
                    handler=spec.handler,
                    python_version=runtime_and_bundle.python_version(str(runtime_python)),
                    memory_mb=topology.FUNCTION_MEMORY_MB,
                    timeout_s=topology.FUNCTION_TIMEOUT_SECONDS,
                    environment=self.function_env(spec, task),
                )
                environment = ExecutionEnvironment(
                    function, task=task, runtime_python=runtime_python, log=logs / f"{spec.name}.log"
                )
                self.environments[spec.name] = self._running.enter_context(environment)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self._pollers.stop()
        if self._uploader is not None:
            self._uploader.shutdown()
        for environment in self.environments.values():
            environment.begin_stop()
        self._running.close()

    def function_env(self, spec: topology.Function, task: Path) -> dict[str, str]:
        """What the stack would configure for `spec`, pointed at this machine."""
        tracing = tracing_environment(self.config, spec.name)
        for collector_only in (COLLECTOR_CONFIG_ENV, JAEGER_ENDPOINT_ENV, JAEGER_AUTHORIZATION_ENV):
            tracing.pop(collector_only, None)
        assert self._external is not None
        env = {
            **self.aws.environment(),
            **tracing,
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.otlp_endpoint,  # the collector (or the demo's receiver)
            **self.aws.function_environment(spec, external_url=self._external.url, fault_rate=self.fault_rate),
        }
        if spec.calls_external and self.seed is not None:
            env["FAULT_SEED"] = str(self.seed)
        if self.span_record_dir is not None:
            env.update(span_record.layer_environment(self.span_record_dir, spec.name, task))
        return env

    def start_delivering(self) -> None:
        """Poll every event source from now on, side by side (tracectl/emulation/pollers.py); `pump` waits."""
        self._pollers.start()

    def request(self, path: str) -> dict[str, Any]:
        """One API request through `ingest`; returns the API response."""
        headers = {}
        api_segment: tuple[Header, str] | None = None
        started = time.time()
        if self.profile.api_tracing:  # API Gateway's stage tracing starts the trace and says so
            header = Header.parse(new_trace_header(self._ids, sampled=True))
            if self.segments is not None:
                api_segment = self.segments.api_request(header)
                header = api_segment[0]
            headers["X-Amzn-Trace-Id"] = str(header)
        event = api_gateway_event("GET", path, headers=headers)
        reply = self._invoke("ingest", event)
        response = reply.get("result") or {"statusCode": 502, "headers": {}, "body": json.dumps(reply.get("error"))}
        if self.segments is not None and api_segment is not None:
            self.segments.record_api_request(
                *api_segment,
                function_name="ingest",
                method="GET",
                path=path,
                status=int(response.get("statusCode", 502)),
                request_id=event["requestContext"]["requestId"],
                started=started,
                ended=time.time(),
            )
        with self._stats_lock:
            self.stats.responses.append(response)
            if reply.get("responded_s") is not None:
                self.stats.responded_s.append(reply["responded_s"])
        return response

    def upload(self, key: str, body: bytes) -> str:
        """An uploader's PutObject to the uploads bucket (see tracectl.emulation.uploader); returns its trace id."""
        if self._uploader is None:
            self._uploader = Uploader(
                self.aws.client("s3"),
                topology.UPLOADS_BUCKET,
                otlp_endpoint=self.otlp_endpoint,
                record_dir=self.span_record_dir,
            )
        return self._uploader.upload(key, body)

    def pump(self, *, timeout_s: float = 60.0, on_invocation: Callable[[], None] | None = None) -> None:
        """Deliver every SNS, SQS, EventBridge, S3 and stream event until no source has one left
        (or `timeout_s` passed); then send the segments AWS would have written to `xray_endpoint`."""
        self._pollers.wait_quiet(timeout_s=timeout_s, on_delivery=on_invocation)
        if self.segments is not None and self._xray_endpoint is not None:
            from tracectl.traces.xray_source import xray_client

            documents = self.segments.documents()
            put_trace_segments(xray_client(emulator=self._xray_endpoint), documents[self._shipped :])
            self._shipped = len(documents)

    def _deliver(self, spec: topology.Function) -> int:
        """One poll of `spec`'s event source, invoking it with what was there; how many batches."""
        if spec.is_async:
            receive = {
                "sns": self.aws.receive_sns_events,
                "eventbridge": self.aws.receive_eventbridge_events,
                "s3": self.aws.receive_s3_events,
            }[spec.trigger.kind]
            events = receive(spec.name)
            for event in events:
                self._invoke_async(spec.name, event)
            return len(events)
        if spec.trigger.kind == "sqs":
            assert spec.trigger.source is not None
            return self._poll_queue(spec, spec.trigger.source)
        if spec.trigger.kind == "dynamodb":
            return self._poll_stream(spec)
        return 0

    def dead_letters(self) -> dict[str, int]:
        """Messages waiting in each dead-letter queue."""
        sqs = self.aws.client("sqs")
        counts = {}
        for name in (topology.QUEUE.dlq, topology.ASYNC_FAILURE_QUEUE):
            attributes = sqs.get_queue_attributes(
                QueueUrl=self.aws.resources.queue_urls[name], AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            counts[name] = int(attributes["ApproximateNumberOfMessages"])
        return counts

    def _invoke(self, function_name: str, event: Any) -> dict[str, Any]:
        """{"result": ...} or {"error": {...}}, as Lambda's Invoke API answers its caller."""
        spec = topology.function(function_name)
        upstream = upstream_header(spec.trigger.kind, event, self.aws.relay) if self.aws.relay else None
        rng = self._function_ids[function_name]
        header = runtime_header(upstream, active=self.profile.lambda_tracing == "Active", rng=rng)
        pending = None
        if self.segments is not None:  # Lambda's own segments sit between the invoker and the function
            given = Header.parse(header)
            invoker = Header.parse(upstream).parent if upstream else None
            pending = self.segments.invocation(function_name, Header(given.root, invoker, given.sampled))
            header = pending.runtime_header
        with self._stats_lock:
            self.stats.invocations[function_name] += 1
        invocation = self.environments[function_name].invoke(event, trace_header=header)
        self._pollers.delivered()
        if pending is not None and self.segments is not None:
            self.segments.record_invocation(
                pending,
                request_id=invocation.request_id,
                responded_s=invocation.responded_s,
                finished_s=invocation.finished_s,
                error=invocation.error is not None,
            )
        if invocation.error is not None:
            with self._stats_lock:
                self.stats.function_errors[function_name] += 1
            return {"error": invocation.error, "responded_s": invocation.responded_s}
        return {"result": invocation.payload, "responded_s": invocation.responded_s}

    def _invoke_async(self, function_name: str, event: Any) -> None:
        """Lambda's async invocation: up to 1 + ASYNC_RETRY_ATTEMPTS tries, then the on-failure queue."""
        for _attempt in range(1 + topology.ASYNC_RETRY_ATTEMPTS):
            reply = self._invoke(function_name, event)
            if "error" not in reply:
                return
        with self._stats_lock:
            self.stats.async_failures += 1
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 1 + topology.ASYNC_RETRY_ATTEMPTS,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": reply["error"],
        }
        self.aws.client("sqs").send_message(
            QueueUrl=self.aws.resources.queue_urls[topology.ASYNC_FAILURE_QUEUE], MessageBody=json.dumps(record)
        )

    def _poll_stream(self, spec: topology.Function) -> int:
        """The table's stream mapping: a batch, retried as a whole, then its record to the failure queue."""
        event = self.aws.receive_stream_event(max_records=spec.trigger.batch_size)
        if event is None:
            return 0
        for _attempt in range(1 + topology.ASYNC_RETRY_ATTEMPTS):
            reply = self._invoke(spec.name, event)
            failures = (reply.get("result") or {}).get("batchItemFailures") if "result" in reply else None
            if "error" not in reply and not failures:
                return 1
        records = event["Records"]
        failure = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{spec.name}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 1 + topology.ASYNC_RETRY_ATTEMPTS,
            },
            "DDBStreamBatchInfo": {
                "shardId": "local",
                "startSequenceNumber": records[0]["dynamodb"].get("SequenceNumber"),
                "endSequenceNumber": records[-1]["dynamodb"].get("SequenceNumber"),
                "batchSize": len(records),
                "streamArn": self.aws.resources.table_stream_arn,
            },
            "timestamp": datetime.now(UTC).isoformat(),
        }
        self.aws.client("sqs").send_message(
            QueueUrl=self.aws.resources.queue_urls[topology.ASYNC_FAILURE_QUEUE], MessageBody=json.dumps(failure)
        )
        return 1

    def _poll_queue(self, spec: topology.Function, queue: str) -> int:
        event = self.aws.receive_sqs_event(queue, max_messages=spec.trigger.batch_size)
        if event is None:
            return 0
        reply = self._invoke(spec.name, event)
        records = event["Records"]
        if "error" in reply:
            failed = {r["messageId"] for r in records}
        else:
            failures = (reply.get("result") or {}).get("batchItemFailures") or []
            failed = {f.get("itemIdentifier") for f in failures}
        self.aws.delete_batch(queue, [r["receiptHandle"] for r in records if r["messageId"] not in failed])
        sqs = self.aws.client("sqs")
        for record in records:
            if record["messageId"] in failed:
                # Visible again at once (not after the visibility timeout) so a demo sees the redrive.
                sqs.change_message_visibility(
                    QueueUrl=self.aws.resources.queue_urls[queue],
                    ReceiptHandle=record["receiptHandle"],
                    VisibilityTimeout=0,
                )
        return 1
