"""Trace id formats: the same 128-bit id is 32 hex in W3C/Jaeger and `1-<8hex>-<24hex>` in X-Ray."""

from __future__ import annotations

import re

_XRAY_ID = re.compile(r"1-([0-9a-f]{8})-([0-9a-f]{24})")
_HEX_ID = re.compile(r"[0-9a-f]{32}")


def to_xray_id(trace_id: int | str) -> str:
    """`1-5f8d2a3b-...` for an OTel trace id given as an int or 32 hex digits."""
    hex_id = f"{trace_id:032x}" if isinstance(trace_id, int) else trace_id.lower()
    if not _HEX_ID.fullmatch(hex_id):
        raise ValueError(f"not a 32-hex-digit trace id: {trace_id!r}")
    return f"1-{hex_id[:8]}-{hex_id[8:]}"


def from_xray_id(xray_id: str) -> str:
    """32 hex digits for an X-Ray trace id `1-<8hex>-<24hex>`."""
    match = _XRAY_ID.fullmatch(xray_id.strip().lower())
    if not match:
        raise ValueError(f"not an X-Ray trace id (1-<8 hex>-<24 hex>): {xray_id!r}")
    return match.group(1) + match.group(2)
