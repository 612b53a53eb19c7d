"""The X-Ray header Lambda gives an invocation (`_X_AMZN_TRACE_ID`), worked out locally.

In AWS, Lambda hands every invocation a trace header: the one the invoking service passed on, or
one it starts itself. The emulator gives none, so the local run works it out as AWS does:

| trigger | what the invoking service passes on (AWS's X-Ray and service guides) |
|---|---|
| API Gateway | its own header, with stage tracing on (X-Ray modes); in the event's `X-Amzn-Trace-Id` too |
| SNS | the Publish call's header (topics pass it on, traced or not) |
| EventBridge | the PutEvents call's header (or the entry's `TraceHeader`) |
| S3 | the PutObject call's header (S3 sends it to notification subscribers) |
| SQS, DynamoDB Streams | nothing: Lambda starts a trace (SQS links it to the senders' traces instead) |

Then Lambda, with Active tracing, continues that trace (keeping its sampling decision) or starts
one, sampled; with PassThrough it passes a header on as it came, and otherwise starts one that
says `Sampled=0`. With Active tracing Lambda then puts its own segments between the invoker and the
function and names its function segment as the parent: `tracectl/emulation/aws_segments.py` does
that step (and API Gateway's) for the local run. New traces are all sampled locally, where AWS's
sampling rules would pick some.
"""

from __future__ import annotations

import random
import time
from typing import Any

from tracectl.emulation.header_relay import TraceHeaderRelay, valid_header


def fields_of(header: str) -> dict[str, str]:
    """`Root=…;Parent=…;Sampled=…` as {"Root": …, "Parent": …, "Sampled": …}."""
    return dict(part.strip().split("=", 1) for part in header.split(";") if "=" in part)


def new_trace_header(rng: random.Random, *, sampled: bool) -> str:
    """A header for a trace an AWS service starts: X-Ray's id format (time first), a fresh parent id."""
    root = f"1-{int(time.time()):08x}-{rng.getrandbits(96):024x}"
    return f"Root={root};Parent={rng.getrandbits(64):016x};Sampled={1 if sampled else 0}"


def upstream_header(trigger: str, event: Any, relay: TraceHeaderRelay) -> str | None:
    """What the service that invokes the function (`trigger`, as infra/topology.py names it) passes on."""
    if trigger == "api":
        headers = event.get("headers") or {}
        return next((v for k, v in headers.items() if k.lower() == "x-amzn-trace-id" and valid_header(v)), None)
    if trigger == "eventbridge":
        return relay.eventbridge(str(event.get("id")))
    records = event.get("Records") or []
    first = records[0] if records else {}
    if trigger == "sns":
        return relay.sns(str(first.get("Sns", {}).get("MessageId")))
    if trigger == "s3":
        s3 = first.get("s3", {})
        return relay.s3(
            str(s3.get("bucket", {}).get("name")),
            str(s3.get("object", {}).get("key")),
            str(s3.get("object", {}).get("eTag")),
        )
    return None  # SQS, DynamoDB Streams: Lambda starts the trace


def runtime_header(upstream: str | None, *, active: bool, rng: random.Random) -> str:
    """What Lambda gives the runtime for an invocation whose invoker passed on `upstream`.

    `active`: the function's tracing mode is Active (X-Ray modes) rather than PassThrough.
    """
    if upstream is not None:
        fields = fields_of(upstream)
        if active and fields.get("Sampled") not in ("0", "1"):
            fields["Sampled"] = "1"  # the decision is Lambda's to make when the caller left it open
        if "Parent" in fields:
            return ";".join(f"{k}={fields[k]}" for k in ("Root", "Parent", "Sampled") if k in fields)
        return f"Root={fields['Root']};Parent={rng.getrandbits(64):016x};Sampled={fields.get('Sampled', '0')}"
    return new_trace_header(rng, sampled=active)
