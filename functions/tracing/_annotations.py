"""One API for X-Ray annotations/metadata that also shows up as ordinary tags in Jaeger.

`annotate` sets a span attribute and names it in `aws.xray.annotations`, which the collector's
awsxray exporter turns into an indexed, searchable X-Ray annotation. `add_metadata` sets an
`aws.xray.metadata.<key>` attribute: X-Ray metadata, a plain tag elsewhere. Neither ever raises.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from opentelemetry import trace

_logger = logging.getLogger(__name__)
ANNOTATIONS_ATTRIBUTE = "aws.xray.annotations"
METADATA_PREFIX = "aws.xray.metadata."
# X-Ray annotation keys: letters, digits and underscores, up to 500 characters.
_ANNOTATION_KEY = re.compile(r"[A-Za-z0-9_]{1,500}")


def annotate(key: str, value: str | float | bool) -> None:
    """Index `key=value` on the current span (X-Ray annotation; Jaeger tag)."""
    try:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        if not isinstance(key, str) or not _ANNOTATION_KEY.fullmatch(key):
            _logger.warning("tracing: annotation key %r is not [A-Za-z0-9_]+; ignored", key)
            return
        if not isinstance(value, str | int | float | bool):
            value = str(value)
        span.set_attribute(key, value)
        existing = tuple(getattr(span, "attributes", {}).get(ANNOTATIONS_ATTRIBUTE, ()))
        if key not in existing:
            span.set_attribute(ANNOTATIONS_ATTRIBUTE, [*existing, key])
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: annotate failed", exc_info=True)


def add_metadata(key: str, value: Any) -> None:
    """Attach `value` to the current span as X-Ray metadata (Jaeger tag); non-scalars as JSON."""
    try:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        if not isinstance(value, str | int | float | bool):
            value = json.dumps(value, default=str)
        span.set_attribute(f"{METADATA_PREFIX}{key}", value)
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: add_metadata failed", exc_info=True)
