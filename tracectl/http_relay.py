"""Handing an upstream's answer back to a client: the one relay the local proxies share.

`tracectl/emulation/runtime_api_proxy.py` (between the runtime client and the emulator) and the deployed
Jaeger's UI proxy (`tracectl/aws/deployed_jaeger.py`) both forward a request with urllib3 and answer
their client through `http.server`; the headers that describe one connection, not the message,
are never passed on (RFC 9110 §7.6.1), and the body's length is the relayed body's.
"""

from __future__ import annotations

from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler

import urllib3

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def relay(
    request: BaseHTTPRequestHandler, answer: urllib3.BaseHTTPResponse, extra_headers: Mapping[str, str] | None = None
) -> None:
    """Answer `request` with `answer` (read in full), plus `extra_headers`."""
    request.send_response(answer.status)
    for name, value in answer.headers.items():
        if name.lower() not in HOP_BY_HOP:
            request.send_header(name, value)
    for name, value in (extra_headers or {}).items():
        request.send_header(name, value)
    request.send_header("Content-Length", str(len(answer.data)))
    request.end_headers()
    if request.command != "HEAD":
        request.wfile.write(answer.data)
