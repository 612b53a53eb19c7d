"""SNS `ingest` → call an external HTTPS endpoint, failing on purpose at `FAULT_RATE`.

A deliberate fault raises a TLS-style error (a broken certificate check) so the trace shows
a faulted function; Lambda's async retries and the on-failure queue then take over.
"""

from __future__ import annotations

import os
import random
import ssl
from typing import Any

import urllib3

from functions import messages
from functions.tracing import LambdaContext, annotate, get_logger, traced

log = get_logger(__name__)
http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2.0, read=3.0), retries=False)
# FAULT_SEED makes this execution environment's sequence of fault draws repeatable (`tracectl demo --seed`).
_draws = random.Random(os.environ["FAULT_SEED"]) if os.environ.get("FAULT_SEED") else random.Random()


class DeliberateFault(ssl.SSLError):
    """The injected failure: looks like a broken TLS handshake to the caller."""


def _faulted() -> bool:
    return _draws.random() < float(os.environ.get("FAULT_RATE", "0"))


@traced
def handler(event: Any, context: LambdaContext) -> dict[str, int]:
    url = os.environ["EXTERNAL_URL"]
    statuses = []
    for path in messages.sns_paths(event):
        faulted = _faulted()
        annotate("fault_injected", faulted)
        if faulted:
            # The words that say it is on purpose come first: a waterfall cuts long messages.
            raise DeliberateFault(
                1, f"deliberate fault (FAULT_RATE) calling {url}: simulated CERTIFICATE_VERIFY_FAILED"
            )
        response = http.request("GET", url, headers={"x-request-path": path})
        statuses.append(response.status)
        log.info("called", extra={"fields": {"url": url, "status": response.status}})
    return {"calls": len(statuses)}
